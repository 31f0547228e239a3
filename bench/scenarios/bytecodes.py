"""Row: Python work per request, counted rather than timed — bytecodes the serving thread executes.

Throughput on a shared machine drifts by ±20% from second to second; the number of Python bytecodes a
request runs does not. This row serves the featureful API file of row 8 from a `DataPlaneServer` in this
process (uvloop, the real listener, pipeline and HTTP client, a real backend process over loopback), sends
requests from a second thread with the standard library's client, and counts the bytecodes the server's
thread executes per request with `sys.settrace` opcode events (the client thread is not traced). It is no
time: C work (parsing in httptools, system calls, string building) is not counted. It is a stable way to see
whether a change made the hot path do less, and where the work is.
"""

from __future__ import annotations

import http.client
import sys
import threading
import time
from collections import Counter
from types import FrameType
from typing import Any

from bench import servers
from bench.scenarios import Context, Row, scenario
from bench.tools import BenchError, Processes, free_port

WARM_UP = 50
COUNTED = 200


class _Counter:
    """Counts opcode events of traced frames while `on`; by function when asked."""

    def __init__(self) -> None:
        self.on = False
        self.total = 0
        self.by_function: Counter[str] = Counter()

    def trace(self, frame: FrameType, event: str, arg: Any) -> Any:
        frame.f_trace_opcodes = True
        if event == "opcode" and self.on:
            self.total += 1
            code = frame.f_code
            self.by_function[f"{code.co_name} ({code.co_filename.rsplit('/', 1)[-1]})"] += 1
        return self.trace


def _get(connection: http.client.HTTPConnection, path: str, headers: dict[str, str]) -> None:
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    response.read()
    if response.status != 200:
        raise BenchError(f"GET {path} answered {response.status}")


def _count(ctx: Context, backend_port: int, access_log: Any) -> dict[str, tuple[float, list[tuple[str, float]]]]:
    import uvloop

    from stageway.server.protocol import DataPlaneServer
    from stageway.server.serve import Node, ServeOptions

    api = servers.write_yaml(ctx.workdir / "bytecodes.yaml", servers.featureful_api(backend_port, access_log))
    node = Node(
        ServeOptions(
            files=[api], store_url="memory://", admin_port=None, access_log=False,
            account_rate=servers.RAISED_QUOTA, account_burst=servers.RAISED_QUOTA, log_dir=ctx.workdir / "logs",
        )
    )
    node.apply_files(deploy_all_stages=True)
    node.refresh()
    port = free_port()
    server = DataPlaneServer(node.app, "127.0.0.1", port)
    counter = _Counter()
    results: dict[str, tuple[float, list[tuple[str, float]]]] = {}
    failure: list[BaseException] = []
    sides = {
        "plain": (servers.execute_api_host(servers.PLAIN_API_ID), "/pets?limit=10"),
        "featured": (servers.execute_api_host(servers.FEATURED_API_ID), "/featured"),
    }

    def client() -> None:
        try:
            deadline = time.monotonic() + 20
            while not server.started:
                if time.monotonic() > deadline:
                    raise BenchError("the in-process listener did not start")
                time.sleep(0.02)
            for side, (host, path) in sides.items():
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                headers = {"Host": host, "Origin": servers.CORS_ORIGIN, "User-Agent": "bench"}

                for _ in range(WARM_UP):
                    _get(connection, path, headers)
                counter.total = 0
                counter.by_function.clear()
                counter.on = True
                for _ in range(COUNTED):
                    _get(connection, path, headers)
                counter.on = False
                top = [(name, count / COUNTED) for name, count in counter.by_function.most_common(6)]
                results[side] = (counter.total / COUNTED, top)
                connection.close()
        except BaseException as error:  # noqa: BLE001 - reported by the caller, in the main thread
            failure.append(error)
        finally:
            server.should_exit = True

    thread = threading.Thread(target=client, name="bench-bytecodes-client")
    thread.start()
    sys.settrace(counter.trace)
    try:
        uvloop.run(server.serve())
    finally:
        sys.settrace(None)
        thread.join()
    if failure:
        raise BenchError(f"bytecode count failed: {failure[0]}")
    return results


@scenario("bytecodes", "Python bytecodes per request, featureful vs plain route (counted, not timed)", "(info)")
def run(ctx: Context) -> list[Row]:
    """Bytecodes the serving thread runs per request (listener, pipeline, client), rows 1 and 8's routes."""
    with Processes(ctx.workdir / "bytecodes") as procs:
        backend = servers.start_backend(procs)
        results = _count(ctx, backend.port, procs.workdir / "logs" / "featured-access.log")
    plain, plain_top = results["plain"]
    featured, featured_top = results["featured"]
    row = Row(
        name="Python bytecodes executed per request in the serving thread (listener + pipeline + HTTP client; "
        "deterministic, not a time): featureful route vs plain route, row 8's file",
        stageway=f"{featured:,.0f}",
        reference=f"{plain:,.0f}",
        ratio=f"{plain / featured:.2f}× (plain/featureful)",
        target="(info)",
        result="(info)",
    )
    row.notes.append(
        f"in-process DataPlaneServer on uvloop, real backend over loopback, {COUNTED} keep-alive requests per side "
        f"after {WARM_UP}, counted with sys.settrace opcode events; C work (httptools, system calls) is not counted"
    )
    for side, top in (("plain", plain_top), ("featureful", featured_top)):
        row.details.append(f"{side}, most bytecodes: " + ", ".join(f"{name} {count:.0f}" for name, count in top))
    return [row]
