"""Row: wall time from starting `stageway serve` on a 100-route file to its first 200 response."""

from __future__ import annotations

import time

from bench import servers
from bench.scenarios import Context, Row, median, orders, scenario, verdict
from bench.tools import PYTHON, Processes, free_port, wait_http_ok

TARGET_S = 1.0
ROUTES = 100


def _time_to_200(procs: Processes, name: str, argv: list[str], port: int, path: str) -> float:
    start = time.perf_counter()
    child = procs.start(name, argv, cwd=procs.workdir)
    try:
        wait_http_ok(child, port, path, timeout=60)
        return time.perf_counter() - start
    finally:
        procs.stop(child)


@scenario("startup", f"Start-up to first 200, {ROUTES} routes", f"< {TARGET_S:g} s")
def run(ctx: Context) -> list[Row]:
    """Process start to the first 200 answer: stageway on 100 routes vs the bare uvicorn hello."""
    rounds = max(ctx.rounds, 3)
    results: dict[str, list[float]] = {"a": [], "b": []}
    with Processes(ctx.workdir / "startup") as procs:
        backend = servers.start_backend(procs)
        document, routes = servers.many_routes_api(ROUTES, backend.port)
        api = servers.write_yaml(procs.workdir / f"routes-{ROUTES}.yaml", document)
        first_path = routes[0][2]

        def one(side: str) -> float:
            port = free_port()
            if side == "a":
                return _time_to_200(procs, "stageway", servers.stageway_argv(api, port), port, first_path)
            return _time_to_200(
                procs, "hello", [PYTHON, str(servers.HELLO_ASGI), "--port", str(port)], port, "/"
            )

        one("a"), one("b")  # not counted: warms the file cache for both
        for first, second in orders(rounds):
            for side in (first, second):
                results[side].append(one(side))
    seconds = median(results["a"])
    reference = median(results["b"])
    row = Row(
        name=f"Start-up: `stageway serve` on a {ROUTES}-route file to the first 200 (vs bare uvicorn hello)",
        stageway=f"{seconds:.3f} s",
        reference=f"{reference:.3f} s",
        ratio=f"{seconds / reference:.2f}×",
        target=f"< {TARGET_S:g} s",
        result=verdict(seconds < TARGET_S),
    )
    row.notes.append(
        f"wall time from spawning the process to the first 200 on a proxied route (polled every 5 ms), warm "
        f"file cache, median of {rounds} starts"
    )
    row.details.append(
        "per round " + ", ".join(f"{x:.3f}/{y:.3f} s" for x, y in zip(results["a"], results["b"]))
    )
    return [row]
