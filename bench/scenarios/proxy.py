"""Row: an HTTP_PROXY route through stageway against nginx `proxy_pass` to the same backend."""

from __future__ import annotations

from bench import servers
from bench.scenarios import Context, Row, fmt_ratio, fmt_rps, median, orders, scenario, verdict
from bench.servers import Server
from bench.tools import Processes, WrkResult, process_cpu_seconds, run_wrk, tree_cpu_seconds

TARGET = 0.6


def measure_pair(
    ctx: Context,
    urls: dict[str, str],
    warmup: float = 2.0,
    headers: dict[str, dict[str, str]] | None = None,
    servers_of: dict[str, Server] | None = None,
) -> tuple[dict[str, list[WrkResult]], list[str]]:
    """wrk on urls["a"] and urls["b"] alternately (A B, B A, ...) for ctx.rounds rounds, after a warm-up of each.

    `headers[side]`, when given, are sent with every request of that side (wrk -H). With `servers_of[side]`,
    each run also records the CPU that side's server (with its child processes) used (`server_cpu_s`)."""
    wrk = ctx.tools["wrk"]
    sent = headers or {}
    for side, url in urls.items():
        run_wrk(
            wrk,
            url,
            duration=warmup,
            threads=ctx.threads,
            connections=ctx.connections,
            headers=sent.get(side),
        )
    results: dict[str, list[WrkResult]] = {"a": [], "b": []}
    for first, second in orders(ctx.rounds):
        for side in (first, second):
            server = (servers_of or {}).get(side)
            before = tree_cpu_seconds(server.child.pid) if server is not None else None
            main_before = process_cpu_seconds(server.child.pid) if server is not None else 0.0
            result = run_wrk(
                wrk,
                urls[side],
                duration=ctx.duration,
                threads=ctx.threads,
                connections=ctx.connections,
                headers=sent.get(side),
            )
            if before is not None and server is not None:
                after = tree_cpu_seconds(server.child.pid)
                result.server_cpu_s = (after[0] - before[0], after[1] - before[1])
                result.main_process_cpu_s = process_cpu_seconds(server.child.pid) - main_before
            results[side].append(result)
    problems = [
        f"{r.url}: {r.non_2xx} non-2xx, {r.socket_errors} socket errors of {r.requests} ({r.error_fraction:.1%})"
        for side in results.values()
        for r in side
        if not r.valid
    ]
    return results, problems


def throughput_row(
    name: str,
    results: dict[str, list[WrkResult]],
    problems: list[str],
    target: float,
    labels: tuple[str, str],
) -> Row:
    a = [r.rps for r in results["a"]]
    b = [r.rps for r in results["b"]]
    ratios = [x / y for x, y in zip(a, b)]
    ratio = median(ratios)
    row = Row(
        name=name,
        stageway=fmt_rps(median(a)),
        reference=fmt_rps(median(b)),
        ratio=fmt_ratio(ratio, target),
        target=f"≥ {target:g}×",
        result=verdict(ratio >= target),
    )
    if problems:
        row.result = "invalid (errors > 1%)"
        row.notes.extend(problems)
    cpu = {side: [c for r in results[side] if (c := r.cpu_us_per_request()) is not None] for side in results}
    if cpu["a"] and cpu["b"]:
        row.details.append(
            "server CPU per request (the process and its children, median of rounds): "
            + ", ".join(
                f"{label} {median([u + s for u, s in cpu[side]]):.1f} µs (user {median([u for u, _ in cpu[side]]):.1f}, "
                f"system {median([s for _, s in cpu[side]]):.1f})"
                for side, label in zip(("a", "b"), labels)
            )
        )
        for side, label in zip(("a", "b"), labels):
            total = median([u + s for u, s in cpu[side]])
            main = [m for r in results[side] if (m := r.main_process_us_per_request()) is not None]
            # Only where both the process itself and its children did part of the work (stageway and its function
            # workers; not nginx, whose master process only waits).
            if main and median(main) >= 1.0 and total - median(main) >= 1.0:
                row.details.append(
                    f"{label}: its own process {median(main):.1f} µs of the {total:.1f} (median of rounds), its child "
                    "processes the rest"
                )
    row.details.append(
        "per round "
        + ", ".join(f"{x:,.0f}/{y:,.0f} = {x / y:.2f}×" for x, y in zip(a, b))
        + f" ({labels[0]}/{labels[1]} req/s)"
    )
    return row


@scenario(
    "proxy",
    "HTTP proxy route vs nginx proxy_pass",
    f"≥ {TARGET}×",
    needs=("wrk", "nginx"),
)
def run(ctx: Context) -> list[Row]:
    """Requests/s of `GET /pets` (HTTP_PROXY) through 1 stageway process vs 1 nginx worker, same backend."""
    with Processes(ctx.workdir / "proxy") as procs:
        backend = servers.start_backend(procs)
        api = servers.write_yaml(procs.workdir / "proxy.yaml", servers.proxy_api(backend.port))
        stageway = servers.start_stageway(procs, api, "/pets")
        nginx = servers.start_nginx(procs, ctx.tools["nginx"], backend.port, "/pets")
        results, problems = measure_pair(
            ctx, {"a": stageway.url("/pets"), "b": nginx.url("/pets")}, servers_of={"a": stageway, "b": nginx}
        )
    row = throughput_row(
        "HTTP proxy route, req/s: 1 stageway process vs nginx `proxy_pass` (1 worker, upstream keepalive)",
        results,
        problems,
        TARGET,
        ("stageway", "nginx"),
    )
    row.notes.append(
        f"wrk -t{ctx.threads} -c{ctx.connections} keep-alive, {ctx.duration:g} s per run; backend = "
        "examples/petstore/backend.py (1 process); wrk, backend and proxy share the machine's cores"
    )
    return [row]
