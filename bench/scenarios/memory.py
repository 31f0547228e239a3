"""Row: resident memory of `stageway serve` serving 1,000 routes, after warm-up and traffic."""

from __future__ import annotations

import time
from pathlib import Path

from bench import servers
from bench.scenarios import Context, Row, fmt_mb, median, orders, scenario, verdict
from bench.tools import BenchError, Processes, child_pids, rss_bytes, run_wrk

TARGET_MB = 80
ROUTES = 1000
REFERENCE_ROUTES = 10


def _keepalive_traffic(port: int, requests: list[tuple[str, str, str]]) -> int:
    """One request per route sample on one keep-alive connection; the number answered below 500."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    ok = 0
    try:
        for _, method, path in requests:
            body = b"{}" if method in ("POST", "PUT", "PATCH") else None
            conn.request(
                method, path, body=body, headers={"content-type": "application/json"} if body else {}
            )
            response = conn.getresponse()
            response.read()
            ok += response.status < 500
    finally:
        conn.close()
    return ok


def _one(ctx: Context, procs: Processes, backend_port: int, count: int) -> tuple[int, int, int]:
    """Start stageway on `count` routes, send traffic, read its RSS: (rss, peak rss, worker processes)."""
    document, routes = servers.many_routes_api(count, backend_port)
    api = servers.write_yaml(procs.workdir / f"routes-{count}.yaml", document)
    stageway = servers.start_stageway(procs, api, routes[0][2])
    try:
        answered = _keepalive_traffic(stageway.port, routes)  # every route once
        if answered < len(routes) * 0.99:
            raise BenchError(f"{count} routes: only {answered} of {len(routes)} requests answered below 500")
        wrk = run_wrk(
            ctx.tools["wrk"],
            stageway.url(routes[0][2]),
            duration=min(ctx.duration, 3),
            threads=ctx.threads,
            connections=ctx.connections,
        )
        if not wrk.valid:
            raise BenchError(f"{count} routes: wrk saw {wrk.error_fraction:.1%} errors")
        time.sleep(0.5)
        status = {
            line.split(":")[0]: int(line.split()[1]) * 1024
            for line in Path(f"/proc/{stageway.child.pid}/status").read_text().splitlines()
            if line.startswith(("VmRSS:", "VmHWM:"))
        }
        return rss_bytes(stageway.child.pid), status["VmHWM"], len(child_pids(stageway.child.pid))
    finally:
        procs.stop(stageway.child)


@scenario("memory", f"RSS serving {ROUTES:,} routes", f"< {TARGET_MB} MB", needs=("wrk",))
def run(ctx: Context) -> list[Row]:
    """VmRSS of the stageway process (not function workers) with 1,000 HTTP_PROXY routes, after traffic."""
    results: dict[str, list[tuple[int, int, int]]] = {"a": [], "b": []}
    with Processes(ctx.workdir / "memory") as procs:
        backend = servers.start_backend(procs)
        counts = {"a": ROUTES, "b": REFERENCE_ROUTES}
        for first, second in orders(ctx.rounds):
            for side in (first, second):
                results[side].append(_one(ctx, procs, backend.port, counts[side]))
    rss = median([r[0] for r in results["a"]])
    reference = median([r[0] for r in results["b"]])
    row = Row(
        name=f"Resident memory of `stageway serve` with {ROUTES:,} routes, after traffic "
        f"(vs the same with {REFERENCE_ROUTES} routes)",
        stageway=fmt_mb(rss),
        reference=fmt_mb(reference),
        ratio=f"{rss / reference:.2f}×",
        target=f"< {TARGET_MB} MB",
        result=verdict(rss < TARGET_MB * 1024 * 1024),
    )
    row.notes.append(
        "VmRSS of the one stageway process (HTTP_PROXY routes only: no function workers exist; they would not "
        f"be counted), after every route was called once and {min(ctx.duration, 3):g} s of wrk; --store memory://"
    )
    row.details.append(
        "per round RSS (peak) "
        + ", ".join(
            f"{fmt_mb(a[0])} ({fmt_mb(a[1])}) / {fmt_mb(b[0])} ({fmt_mb(b[1])})"
            for a, b in zip(results["a"], results["b"])
        )
        + f" ({ROUTES} / {REFERENCE_ROUTES} routes)"
    )
    return [row]
