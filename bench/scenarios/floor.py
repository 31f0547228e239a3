"""Rows: the HTTP proxy route against the floor of its own stack, and against that floor doing a gateway's work.

Row 1 compares stageway with nginx; these rows say how much of that gap is the stack's (Python, uvloop,
httptools, the kernel), how much the work a gateway must do per request, and how much the way stageway does
it. bench/floor_proxy.py forwards the same requests to the same backend doing nothing a gateway must;
bench/lean_proxy.py adds that work (stageway's own selection, matching and throttle check on the same API
file, ids, forwarding headers, header filtering, AWS's response headers, a latency histogram) on bytes.
"""

from __future__ import annotations

from bench import servers
from bench.scenarios import Context, Row, scenario
from bench.scenarios.proxy import measure_pair, throughput_row
from bench.tools import Processes, WrkResult


@scenario(
    "floor",
    "HTTP proxy route vs a minimal uvloop + httptools proxy (the stack's floor), bare and doing a gateway's work",
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
        lean = servers.start_lean_proxy(procs, backend.port, api)
        results, problems = measure_pair(
            ctx, {"a": stageway.url("/pets"), "b": floor.url("/pets")}, servers_of={"a": stageway, "b": floor}
        )
        lean_results, lean_problems = measure_pair(
            ctx, {"a": stageway.url("/pets"), "b": lean.url("/pets")}, servers_of={"a": stageway, "b": lean}
        )
    floor_row = _info_row(
        "HTTP proxy route, req/s: 1 stageway process vs the floor of its stack (bench/floor_proxy.py: uvloop + "
        "httptools, no gateway work)",
        results,
        problems,
        "floor",
        f"same backend and wrk (-t{ctx.threads} -c{ctx.connections}) as row 1; the floor proxy keeps one backend "
        "connection per client connection and passes headers through: the CPU per request in the details is "
        "what the stack costs before any gateway work",
    )
    lean_row = _info_row(
        "HTTP proxy route, req/s: 1 stageway process vs that floor doing a gateway's necessary work per request "
        "on bytes (bench/lean_proxy.py: same API file, stageway's selection, matching and throttle check)",
        lean_results,
        lean_problems,
        "lean",
        "the lean proxy has no parameter mapping, CORS, authorizers, access log, error handling or pipelining: "
        "its CPU per request is a bound on what stageway's plain route could cost in this stack, not a server",
    )
    return [floor_row, lean_row]


def _info_row(
    name: str, results: dict[str, list[WrkResult]], problems: list[str], reference: str, note: str
) -> Row:
    row = throughput_row(name, results, problems, 0.0, ("stageway", reference))
    row.target = "(info)"
    row.result = row.result if problems else "(info)"
    row.notes.append(note)
    return row
