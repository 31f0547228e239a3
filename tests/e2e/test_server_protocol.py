"""The native data-plane listener (`server/protocol.py`) over real sockets: HTTP/1.1 as clients speak it.

The listener runs in a thread in front of a scripted gateway (the listener only calls `Gateway.handle`):

    /echo          200, the request's body back; `x-method`, `x-path`, `x-query`, `x-body-length` headers
    /slow?ms=N     the same, after N milliseconds
    /big           200 with a 1 MiB body
    /bad-header    200 with a header value holding a line break (the listener must refuse to send it)
    anything else  404 `{"message":"Not Found"}`
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections.abc import Iterator
from types import TracebackType
from typing import Any, Self

import pytest

from stageway.core.errors import error_response
from stageway.core.http import GatewayResponse, IncomingRequest
from stageway.gateway.exchange import Exchange
from stageway.server.asgi import DataPlaneApp
from stageway.server.protocol import DataPlaneServer

BIG_BODY = b"x" * (1 << 20)


class ScriptedGateway:
    def __init__(self) -> None:
        self.requests: list[IncomingRequest] = []

    async def handle(self, request: IncomingRequest) -> Exchange:
        self.requests.append(request)
        path = request.raw_path
        if path == "/slow":
            await asyncio.sleep(int(dict(p.split("=") for p in request.raw_query.split("&"))["ms"]) / 1000)
            path = "/echo"
        if path == "/echo":
            headers = [
                ("content-type", "application/octet-stream"),
                ("x-method", request.method),
                ("x-path", request.raw_path),
                ("x-query", request.raw_query),
                ("x-body-length", str(len(request.body))),
                ("x-request-id", request.request_id),
            ]
            return Exchange(request, GatewayResponse(200, headers, request.body))
        if path == "/big":
            return Exchange(request, GatewayResponse(200, [("content-type", "text/plain")], BIG_BODY))
        if path == "/bad-header":
            return Exchange(request, GatewayResponse(200, [("x-evil", "a\r\nset-cookie: b=1")], b"{}"))
        return Exchange(request, error_response(404, "Not Found"))


class ListenerThread:
    """`DataPlaneServer` on 127.0.0.1 (a free port) with its own event loop in a thread."""

    def __init__(self, **options: Any) -> None:
        self.gateway = ScriptedGateway()
        self.app = DataPlaneApp(self.gateway, None, None)  # type: ignore[arg-type]
        # The scripted gateway has no plan for the lanes to read: every request goes to `handle`.
        self.options = {"proxy_lane": False, "lambda_lane": False, **options}
        self.loop = asyncio.new_event_loop()
        self.server: DataPlaneServer | None = None
        self.port = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._error: BaseException | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.server = DataPlaneServer(self.app, "127.0.0.1", 0, **self.options)
            self.loop.run_until_complete(self.server.serve())
        except BaseException as error:  # noqa: BLE001 - surfaced by start()/stop()
            self._error = error
        finally:
            self.loop.close()

    def start(self) -> Self:
        self._thread.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            server = self.server
            if server is not None and server.started:
                self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
                return self
            if self._error is not None:
                raise self._error
            time.sleep(0.01)
        raise TimeoutError("the listener did not start")

    def request_stop(self) -> None:
        assert self.server is not None
        self.loop.call_soon_threadsafe(setattr, self.server, "should_exit", True)

    def stop(self, timeout: float = 10) -> None:
        if self._thread.is_alive():
            self.request_stop()
            self._thread.join(timeout)
        if self._error is not None:
            raise self._error

    @property
    def open_connections(self) -> int:
        assert self.server is not None
        return len(self.server.connections)

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()


class Response:
    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name: str) -> str | None:
        values = [value for key, value in self.headers if key == name]
        return ",".join(values) if values else None


class Reader:
    """Reads HTTP/1.1 responses off a socket, one at a time, keeping what arrives after each."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        self.buffer += chunk
        return bool(chunk)

    def read(self, *, head: bool = False) -> Response:
        while b"\r\n\r\n" not in self.buffer:
            if not self._fill():
                raise ConnectionError(f"closed before a response; got {self.buffer!r}")
        raw_head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status_line, *lines = raw_head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ")[1])
        headers = [(name.lower(), value.strip()) for name, _, value in (line.partition(":") for line in lines)]
        length = 0 if head or status in (100, 204, 304) else int(dict(headers).get("content-length", "0"))
        while len(self.buffer) < length:
            if not self._fill():
                raise ConnectionError("closed mid-body")
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return Response(status, headers, body)

    def closed(self, timeout: float = 5) -> bool:
        """Whether the server closes the connection (EOF or reset) within `timeout` with nothing more sent."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buffer += chunk
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False


@pytest.fixture
def listener() -> Iterator[ListenerThread]:
    with ListenerThread() as running:
        yield running


def _get(path: str, extra: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: api.example.com\r\n{extra}\r\n".encode()


# -- keep-alive and pipelining ------------------------------------------------------------------------------------


def test_keep_alive_serves_several_requests_on_one_connection(listener: ListenerThread) -> None:
    with listener.connect() as sock:
        reader = Reader(sock)
        ids = set()
        for index in range(3):
            sock.sendall(_get(f"/echo?n={index}"))
            response = reader.read()
            assert response.status == 200
            assert response.header("x-query") == f"n={index}"
            assert response.header("connection") is None
            ids.add(response.header("apigw-requestid"))
        assert len(ids) == 3
    assert [request.host for request in listener.gateway.requests] == ["api.example.com"] * 3


def test_pipelined_requests_are_answered_in_order(listener: ListenerThread) -> None:
    # The first takes longest: answers must still come back in request order, never interleaved.
    with listener.connect() as sock:
        sock.sendall(_get("/slow?ms=200") + _get("/echo?n=2") + _get("/slow?ms=50&n=3") + _get("/echo?n=4"))
        reader = Reader(sock)
        queries = [reader.read().header("x-query") for _ in range(4)]
    assert queries == ["ms=200", "n=2", "ms=50&n=3", "n=4"]


def test_response_is_written_in_one_piece(listener: ListenerThread) -> None:
    # Status line, headers and body arrive together (one write): a client reading once gets all of it.
    with listener.connect() as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
        time.sleep(0.2)
        data = sock.recv(65536)
    assert data.startswith(b"HTTP/1.1 200 OK\r\n") and data.endswith(b"\r\n\r\nhello")


def test_http_1_0_closes_unless_asked_to_keep_alive(listener: ListenerThread) -> None:
    with listener.connect() as sock:
        sock.sendall(b"GET /echo HTTP/1.0\r\n\r\n")
        reader = Reader(sock)
        response = reader.read()
        assert response.status == 200 and response.header("connection") == "close"
        assert reader.closed()
    with listener.connect() as sock:
        sock.sendall(b"GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        reader = Reader(sock)
        assert reader.read().header("connection") == "keep-alive"
        sock.sendall(b"GET /echo?again HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        assert reader.read().header("x-query") == "again"


def test_connection_close_is_honoured(listener: ListenerThread) -> None:
    with listener.connect() as sock:
        sock.sendall(_get("/echo", "Connection: close\r\n"))
        reader = Reader(sock)
        assert reader.read().header("connection") == "close"
        assert reader.closed()


def test_client_that_half_closes_still_gets_its_answer(listener: ListenerThread) -> None:
    with listener.connect() as sock:
        sock.sendall(_get("/slow?ms=100"))
        sock.shutdown(socket.SHUT_WR)
        reader = Reader(sock)
        assert reader.read().status == 200
        assert reader.closed()


def test_idle_keep_alive_connections_are_closed() -> None:
    with ListenerThread(keep_alive_timeout_s=0.5) as running, running.connect() as sock:
        sock.sendall(_get("/echo"))
        reader = Reader(sock)
        assert reader.read().status == 200
        started = time.monotonic()
        assert reader.closed(timeout=5)
        assert time.monotonic() - started < 4


# -- bodies -----------------------------------------------------------------------------------------------------


def test_chunked_request_body_is_reassembled(listener: ListenerThread) -> None:
    with listener.connect() as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        for piece in (b"hello ", b"chunked ", b"world"):
            sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            time.sleep(0.02)
        sock.sendall(b"0\r\n\r\n")
        response = Reader(sock).read()
    assert response.status == 200 and response.body == b"hello chunked world"


def test_expect_100_continue_is_answered_before_the_body(listener: ListenerThread) -> None:
    with listener.connect() as sock:
        sock.sendall(b"PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        reader = Reader(sock)
        assert reader.read().status == 100  # asked for, before a byte of the body was sent
        sock.sendall(b"data")
        response = reader.read()
    assert (response.status, response.body) == (200, b"data")


def test_expect_100_continue_waits_for_its_turn_behind_a_pipelined_request(listener: ListenerThread) -> None:
    with listener.connect() as sock:
        sock.sendall(
            _get("/slow?ms=200")
            + b"PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"
        )
        reader = Reader(sock)
        assert reader.read().header("x-query") == "ms=200"  # the earlier answer first, uninterrupted
        assert reader.read().status == 100
        sock.sendall(b"ok")
        assert reader.read().body == b"ok"


def test_body_over_10_mb_is_refused_before_it_is_read(listener: ListenerThread) -> None:
    with listener.connect() as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10485761\r\nExpect: 100-continue\r\n\r\n"
        )
        reader = Reader(sock)
        response = reader.read()  # no 100 Continue: the answer comes at once, without the body
        assert response.status == 413
        assert response.body == b'{"message":"Request Entity Too Large"}'
        assert response.header("connection") == "close"
        assert reader.closed()
    assert listener.gateway.requests == []


def test_chunked_body_over_10_mb_is_refused_as_it_arrives(listener: ListenerThread) -> None:
    chunk = b"y" * (1 << 20)
    with listener.connect() as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        try:
            for _ in range(12):
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except OSError:
            pass  # the listener stops reading once it has answered
        response = Reader(sock).read()
    assert response.status == 413
    assert listener.gateway.requests == []


def test_body_of_exactly_10_mb_is_accepted(listener: ListenerThread) -> None:
    body = b"z" * (10 * 1024 * 1024)
    with listener.connect() as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        response = Reader(sock).read()
    assert response.status == 200 and response.header("x-body-length") == str(len(body))


# -- limits and malformed input ---------------------------------------------------------------------------------


def test_request_line_and_headers_over_10240_bytes_are_refused(listener: ListenerThread) -> None:
    with listener.connect() as sock:
        sock.sendall(_get("/echo", "X-Big: " + "a" * 10_300 + "\r\n"))
        reader = Reader(sock)
        response = reader.read()
        assert response.status == 431
        assert response.body == b'{"message":"Request Header Fields Too Large"}'
        assert reader.closed()
    # What counts is the request line and header values (AWS's quota): a long path counts too.
    with listener.connect() as sock:
        sock.sendall(_get("/echo?" + "q" * 5_000, "X-Half: " + "a" * 5_300 + "\r\n"))
        assert Reader(sock).read().status == 431
    # ...and just under the quota passes.
    with listener.connect() as sock:
        sock.sendall(_get("/echo", "X-Fits: " + "a" * 10_000 + "\r\n"))
        assert Reader(sock).read().status == 200


def test_endless_header_is_refused_without_buffering_it(listener: ListenerThread) -> None:
    with listener.connect() as sock:
        sock.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\nX-Endless: ")
        try:
            for _ in range(40):
                sock.sendall(b"b" * 65536)
        except OSError:
            pass
        assert Reader(sock).read().status == 431


@pytest.mark.parametrize(
    "garbage",
    [
        b"GARBAGE \x00\x01 NOT HTTP\r\n\r\n",
        b"GET /echo HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        b"GET /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        b"GET /echo HTTP/1.1\r\nBad Header\r\n\r\n",
        b"GET http://[bad/echo HTTP/1.1\r\nHost: x\r\n\r\n",
    ],
)
def test_malformed_http_is_400_and_the_listener_carries_on(listener: ListenerThread, garbage: bytes) -> None:
    with listener.connect() as sock:
        sock.sendall(garbage)
        reader = Reader(sock)
        response = reader.read()
        assert response.status == 400
        assert response.body == b'{"message":"Bad Request"}'
        assert reader.closed()
    with listener.connect() as sock:
        sock.sendall(_get("/echo"))
        assert Reader(sock).read().status == 200


def test_answers_before_a_malformed_request_are_still_sent(listener: ListenerThread) -> None:
    with listener.connect() as sock:
        sock.sendall(_get("/slow?ms=100") + b"NOT HTTP AT ALL\r\n\r\n")
        reader = Reader(sock)
        assert reader.read().status == 200
        assert reader.read().status == 400


def test_upgrade_is_ignored_and_the_connection_carries_on(listener: ListenerThread) -> None:
    with listener.connect() as sock:
        sock.sendall(_get("/echo?first", "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"))
        sock.sendall(_get("/echo?second"))
        reader = Reader(sock)
        assert reader.read().header("x-query") == "first"
        assert reader.read().header("x-query") == "second"


def test_a_header_with_a_line_break_is_never_sent(listener: ListenerThread) -> None:
    with listener.connect() as sock:
        sock.sendall(_get("/bad-header"))
        response = Reader(sock).read()
    assert response.status == 500
    assert response.header("set-cookie") is None and response.header("x-evil") is None


# -- responses --------------------------------------------------------------------------------------------------


def test_head_answers_carry_headers_without_the_body(listener: ListenerThread) -> None:
    with listener.connect() as sock:
        sock.sendall(b"HEAD /big HTTP/1.1\r\nHost: x\r\n\r\n" + _get("/echo?after-head"))
        reader = Reader(sock)
        head = reader.read(head=True)
        assert head.status == 200 and head.body == b""
        assert head.header("content-length") == str(1 << 20)
        # Nothing of the body was sent: the next answer follows the head directly.
        assert reader.read().header("x-query") == "after-head"


def test_every_answer_has_date_content_length_and_request_id(listener: ListenerThread) -> None:
    with listener.connect() as sock:
        sock.sendall(_get("/nowhere"))
        response = Reader(sock).read()
    assert response.status == 404 and response.body == b'{"message":"Not Found"}'
    assert re.fullmatch(r"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT", response.header("date") or "")
    assert response.header("content-length") == str(len(response.body))
    assert re.fullmatch(r"[A-Za-z0-9_-]{15}=", response.header("apigw-requestid") or "")


def test_absolute_form_request_target_is_routed_by_its_path(listener: ListenerThread) -> None:
    with listener.connect() as sock:
        sock.sendall(b"GET http://api.example.com/echo?via=proxy HTTP/1.1\r\nHost: api.example.com\r\n\r\n")
        response = Reader(sock).read()
    assert (response.header("x-path"), response.header("x-query")) == ("/echo", "via=proxy")


def test_request_reaches_the_pipeline_as_sent(listener: ListenerThread) -> None:
    with listener.connect() as sock:
        sock.sendall(
            b"GET /a%2Fb/c?x=1&x=2&y=%20 HTTP/1.1\r\nHost: api.example.com:8080\r\nX-Multi: 1\r\n"
            b"x-multi: 2\r\nCookie: a=b\r\n\r\n"
        )
        assert Reader(sock).read().status == 404
    request = listener.gateway.requests[-1]
    assert (request.method, request.raw_path, request.raw_query) == ("GET", "/a%2Fb/c", "x=1&x=2&y=%20")
    assert request.host == "api.example.com"
    assert request.headers == [
        ("host", "api.example.com:8080"), ("x-multi", "1"), ("x-multi", "2"), ("cookie", "a=b")
    ]
    assert request.source_ip == "127.0.0.1" and request.server_port == listener.port
    assert request.protocol == "HTTP/1.1"


def test_client_that_does_not_read_makes_the_listener_stop_reading(listener: ListenerThread) -> None:
    # 64 pipelined requests for 1 MiB each, none of the answers read yet: the listener must not keep
    # answering into its own memory. Then reading them all gets all 64, in order.
    with listener.connect() as sock:
        sock.sendall(b"".join(_get(f"/big?n={index}") for index in range(64)))
        time.sleep(0.5)
        assert len(listener.gateway.requests) < 16
        reader = Reader(sock)
        for _ in range(64):
            assert len(reader.read().body) == 1 << 20
    assert len(listener.gateway.requests) == 64


# -- shutdown ---------------------------------------------------------------------------------------------------


def test_graceful_shutdown_finishes_in_flight_requests_and_closes_idle_ones() -> None:
    running = ListenerThread().start()
    busy, idle = running.connect(), running.connect()
    try:
        idle.sendall(_get("/echo"))
        idle_reader = Reader(idle)
        assert idle_reader.read().status == 200
        busy.sendall(_get("/slow?ms=500"))
        time.sleep(0.1)
        running.request_stop()
        assert idle_reader.closed(timeout=2)  # idle keep-alive connection: closed at once
        with pytest.raises(OSError):  # no longer accepting
            for _ in range(20):
                socket.create_connection(("127.0.0.1", running.port), timeout=1).close()
                time.sleep(0.05)
        response = Reader(busy).read()  # the request in flight still gets its answer...
        assert response.status == 200 and response.header("connection") == "close"
        running.stop()
        assert running.open_connections == 0
    finally:
        busy.close()
        idle.close()
