"""Row: `stageway serve --workers N` against one process, on the HTTP proxy route (when --workers exists)."""

from __future__ import annotations

import os
import subprocess

from bench import servers
from bench.scenarios import Context, Row, scenario
from bench.scenarios.proxy import measure_pair, throughput_row
from bench.tools import PYTHON, Processes

TARGET = 1.0
"""No target was set for this row: more processes must at least help."""


def workers_flag_missing(ctx: Context) -> str | None:
    done = subprocess.run(
        [PYTHON, "-m", "stageway", "serve", "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    return None if "--workers" in done.stdout else "--workers not implemented"


def worker_count() -> int:
    return max(2, len(os.sched_getaffinity(0)))


@scenario(
    "workers",
    "--workers N vs 1 process",
    f"≥ {TARGET:g}×",
    needs=("wrk",),
    available=workers_flag_missing,
)
def run(ctx: Context) -> list[Row]:
    """Requests/s of the HTTP proxy route with `--workers N` (N = usable cores, at least 2) vs 1 process."""
    count = worker_count()
    with Processes(ctx.workdir / "workers") as procs:
        backend = servers.start_backend(procs)
        api = servers.write_yaml(procs.workdir / "proxy.yaml", servers.proxy_api(backend.port))
        # --workers refuses memory:// (the workers share the store): both sides get an SQLite file of their own.
        many = servers.start_stageway(
            procs,
            api,
            "/pets",
            extra=("--workers", str(count)),
            store=f"sqlite:///{procs.workdir / 'workers.db'}",
        )
        one = servers.start_stageway(procs, api, "/pets", store=f"sqlite:///{procs.workdir / 'one.db'}")
        results, problems = measure_pair(
            ctx, {"a": many.url("/pets"), "b": one.url("/pets")}, servers_of={"a": many, "b": one}
        )
    row = throughput_row(
        f"HTTP proxy route, req/s: `stageway serve --workers {count}` vs 1 process",
        results,
        problems,
        TARGET,
        (f"{count} workers", "1 process"),
    )
    row.target = f"≥ {TARGET:g}× (no target set)"
    row.notes.append(
        f"{count} workers on {len(os.sched_getaffinity(0))} usable cores shared with wrk and the backend; "
        "both sides `--store sqlite:///<temp dir>/...` (--workers refuses memory://)"
    )
    return [row]
