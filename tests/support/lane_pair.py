"""Two `stageway serve` processes on one API file, one with a listener lane and one without, for tests that
hold the lane to the pipeline's answers (tests/e2e/test_proxy_lane.py, test_lambda_lane.py)."""

from __future__ import annotations

import http.client
import re
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.stageway_server import StagewayServer, free_port

Answer = tuple[int, str, list[tuple[str, str]], bytes]
"""Status, reason, headers as sent, body."""
Request = tuple[str, str, list[tuple[str, str]], bytes]
"""Method, target, headers, body."""


@dataclass
class Pair:
    lane: StagewayServer
    pipeline: StagewayServer
    lane_admin: int
    pipeline_admin: int


@contextmanager
def serve_pair(api_file: Path, default_api: str, lane_off_flag: str) -> Iterator[Pair]:
    """The file served twice: with every lane, and with `lane_off_flag` (`--no-proxy-lane`, ...)."""
    lane_admin, pipeline_admin = free_port(), free_port()
    common = ("--default-api", default_api)
    with (
        StagewayServer(api_file, args=(*common, "--admin-port", str(lane_admin))) as lane,
        StagewayServer(api_file, args=(*common, "--admin-port", str(pipeline_admin), lane_off_flag)) as pipeline,
    ):
        yield Pair(lane, pipeline, lane_admin, pipeline_admin)


def send(
    connection: http.client.HTTPConnection, method: str, target: str, headers: list[tuple[str, str]], body: bytes
) -> Answer:
    """One request as given (no Host or Accept-Encoding added); a `Transfer-Encoding` header sends the body as
    one chunk."""
    connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
    for name, value in headers:
        connection.putheader(name, value)
    if any(name.lower() == "transfer-encoding" for name, _ in headers):
        connection.endheaders()
        connection.send(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
    else:
        if body and not any(name.lower() == "content-length" for name, _ in headers):
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body or None)
    response = connection.getresponse()
    return response.status, response.reason, list(response.getheaders()), response.read()


def both(pair: Pair, requests: list[Request], *, timeout: float = 20) -> list[tuple[Answer, Answer]]:
    """The requests, in order on one keep-alive connection to each server (Host 127.0.0.1 unless given);
    their answers side by side."""
    lane = http.client.HTTPConnection("127.0.0.1", pair.lane.port, timeout=timeout)
    pipeline = http.client.HTTPConnection("127.0.0.1", pair.pipeline.port, timeout=timeout)
    answers = []
    try:
        for method, target, headers, body in requests:
            host = [] if any(name.lower() == "host" for name, _ in headers) else [("Host", "127.0.0.1")]
            answers.append(
                (
                    send(lane, method, target, [*host, *headers], body),
                    send(pipeline, method, target, [*host, *headers], body),
                )
            )
    finally:
        lane.close()
        pipeline.close()
    return answers


def metric(admin_port: int, name: str) -> float:
    """An unlabelled counter's value from the admin listener's `/metrics`."""
    with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=10) as response:
        text = response.read().decode()
    match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert match, text
    return float(match.group(1))


def request_series(admin_port: int) -> list[str]:
    """The counts and buckets of the per-route request series (latency sums differ from run to run)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return sorted(
        line for line in text.splitlines()
        if line.startswith(("stageway_requests_total", "stageway_4xx_total", "stageway_5xx_total",
                            "stageway_data_processed_bytes_total"))
    )


@contextmanager
def in_process_server(api_file: Path) -> Iterator[int]:
    """`stageway serve`'s node and listener on the file, in this process (its loop in a thread), so that a test
    can patch the lanes' code: yields the listener's port."""
    import asyncio
    import threading
    import time

    from stageway.server.protocol import DataPlaneServer
    from stageway.server.serve import Node, ServeOptions

    node = Node(ServeOptions(files=[api_file], store_url="memory://", admin_port=None, access_log=False))
    node.apply_files(deploy_all_stages=True)
    node.refresh()
    port = free_port()
    server = DataPlaneServer(node.app, "127.0.0.1", port)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=lambda: loop.run_until_complete(server.serve()), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        yield port
    finally:
        loop.call_soon_threadsafe(setattr, server, "should_exit", True)
        thread.join(10)
        loop.run_until_complete(node.runtime.close())  # function workers, if any ran
        loop.close()


class BrokenOnce:
    """A stand-in for a function of the server's: its first call raises RuntimeError (a bug), later calls go
    to the function. `raised` says whether the bug happened."""

    def __init__(self, function: Callable[..., Any], message: str = "a bug") -> None:
        self._function = function
        self._message = message
        self.raised = False

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not self.raised:
            self.raised = True
            raise RuntimeError(self._message)
        return self._function(*args, **kwargs)
