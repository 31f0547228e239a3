"""Row: the HTTP proxy route against the floor of its own stack, a minimal uvloop + httptools proxy.

Row 1 compares stageway with nginx; this row says how much of that gap is the gateway's own work per request
and how much is the stack's (Python, uvloop, httptools, the kernel): bench/floor_proxy.py forwards the same
requests to the same backend doing nothing a gateway must (routing, ids, limits, header rules, metrics).
"""

from __future__ import annotations

from bench import servers
from bench.scenarios import Context, Row, scenario
from bench.scenarios.proxy import measure_pair, throughput_row
from bench.tools import Processes


@scenario(
    "floor",
    "HTTP proxy route vs a minimal uvloop + httptools proxy (the stack's floor)",
    "(info)",
    needs=("wrk",),
)
def run(ctx: Context) -> list[Row]:
    """Requests/s and CPU per request of `GET /pets` through stageway vs through bench/floor_proxy.py."""
    with Processes(ctx.workdir / "floor") as procs:
        backend = servers.start_backend(procs)
        api = servers.write_yaml(procs.workdir / "proxy.yaml", servers.proxy_api(backend.port))
        stageway = servers.start_stageway(procs, api, "/pets")
        floor = servers.start_floor_proxy(procs, backend.port)
        results, problems = measure_pair(
            ctx, {"a": stageway.url("/pets"), "b": floor.url("/pets")}, servers_of={"a": stageway, "b": floor}
        )
    row = throughput_row(
        "HTTP proxy route, req/s: 1 stageway process vs the floor of its stack (bench/floor_proxy.py: uvloop + "
        "httptools, no gateway work)",
        results,
        problems,
        0.0,
        ("stageway", "floor"),
    )
    row.target = "(info)"
    row.result = row.result if problems else "(info)"
    row.notes.append(
        f"same backend and wrk (-t{ctx.threads} -c{ctx.connections}) as row 1; the floor proxy keeps one backend "
        "connection per client connection and passes headers through: the CPU per request in the details is "
        "what the stack costs before any gateway work"
    )
    return [row]
