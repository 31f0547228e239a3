"""The Runtime API endpoint: routing and answers as plain functions, then the connection over a real socket."""

from __future__ import annotations

import asyncio

import httptools
import pytest

from stageway.functions.config import MAX_RESPONSE_BYTES
from stageway.functions.runtime_api import (
    ACCEPTED,
    Route,
    RuntimeApiConnection,
    match_result_then_next,
    next_invocation_head,
    route_request,
)

RID = "8476a536-e9f4-11e8-9739-2dfe598c3fcd"


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        (b"GET", b"/2018-06-01/runtime/invocation/next", (Route.NEXT, "")),
        (b"POST", f"/2018-06-01/runtime/invocation/{RID}/response".encode(), (Route.RESPONSE, RID)),
        (b"POST", f"/2018-06-01/runtime/invocation/{RID}/error".encode(), (Route.ERROR, RID)),
        (b"POST", b"/2018-06-01/runtime/init/error", (Route.INIT_ERROR, "")),
        (b"POST", b"/2018-06-01/runtime/invocation/next", (Route.NOT_FOUND, "")),
        (b"GET", f"/2018-06-01/runtime/invocation/{RID}/response".encode(), (Route.NOT_FOUND, "")),
        (b"GET", b"/2018-06-01/runtime/init/error", (Route.NOT_FOUND, "")),
        (b"POST", b"/2018-06-01/runtime/restore/next", (Route.NOT_FOUND, "")),
        (b"GET", b"/", (Route.NOT_FOUND, "")),
    ],
)
def test_route_request(method: bytes, path: bytes, expected: tuple[Route, str]) -> None:
    assert route_request(method, path) == expected


_NEXT = b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: 127.0.0.1:9001\r\n\r\n"


def _posted_response(body: bytes, request_id: str = RID, length: int | None = None) -> bytes:
    """A response as bootstrap.py posts it (see its `_request`)."""
    return (
        f"POST /2018-06-01/runtime/invocation/{request_id}/response HTTP/1.1\r\nHost: 127.0.0.1:9001\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body) if length is None else length}\r\n\r\n"
    ).encode() + body


def test_a_response_then_next_is_recognised_without_the_parser() -> None:
    assert match_result_then_next(_posted_response(b'"ok"') + _NEXT) == (RID, b'"ok"')
    assert match_result_then_next(_posted_response(b"") + _NEXT) == (RID, b"")


@pytest.mark.parametrize(
    "data",
    [
        _posted_response(b'"ok"'),  # no `next` after it
        _posted_response(b'"ok"') + _NEXT[:-2],  # `next` incomplete
        _posted_response(b'"ok"') + _NEXT + _NEXT,  # more than the two
        _posted_response(b'"ok"', length=5) + _NEXT,  # the body runs into `next`
        _posted_response(b'"ok"', length=MAX_RESPONSE_BYTES + 1) + _NEXT,
        _posted_response(b'"ok"').replace(b"/response", b"/error") + _NEXT,
        _posted_response(b'"ok"').replace(b"Content-Type", b"Connection: close\r\nContent-Type") + _NEXT,
        _NEXT + _posted_response(b'"ok"'),
    ],
)
def test_anything_else_is_left_to_the_parser(data: bytes) -> None:
    assert match_result_then_next(data) is None


class _Response:
    def __init__(self) -> None:
        self.headers: dict[str, str] = {}
        self.complete = False

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode()] = value.decode()

    def on_headers_complete(self) -> None:
        self.complete = True


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    response = _Response()
    parser = httptools.HttpResponseParser(response)
    parser.feed_data(head)
    assert response.complete
    return parser.get_status_code(), response.headers


def test_next_invocation_head_carries_lambdas_headers() -> None:
    head = next_invocation_head(
        request_id=RID,
        deadline_ms=1542409706888,
        function_arn="arn:aws:lambda:us-east-1:123456789012:function:echo",
        trace_id="Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Sampled=0",
        client_context='{"custom": {}}',
        content_length=2,
    )
    status, headers = _parse_head(head)
    assert status == 200
    assert headers == {
        "Content-Type": "application/json",
        "Lambda-Runtime-Aws-Request-Id": RID,
        "Lambda-Runtime-Deadline-Ms": "1542409706888",
        "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:123456789012:function:echo",
        "Lambda-Runtime-Trace-Id": "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Sampled=0",
        "Lambda-Runtime-Client-Context": '{"custom": {}}',
        "Content-Length": "2",
    }


def test_next_invocation_head_without_client_context() -> None:
    head = next_invocation_head(
        request_id=RID, deadline_ms=1, function_arn="arn", trace_id="t", client_context=None, content_length=0
    )
    assert "Lambda-Runtime-Client-Context" not in _parse_head(head)[1]


def test_accepted_is_well_formed() -> None:
    assert _parse_head(ACCEPTED)[0] == 202


# -- RuntimeApiConnection over a real socket --------------------------------------------------------------


class Recorder:
    """A worker stand-in: records what the endpoint hands over and answers like the worker does."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []
        self.parked: RuntimeApiConnection | None = None

    def connection_made(self, conn: RuntimeApiConnection) -> None:
        self.calls.append(("connected", None))

    def connection_lost(self, conn: RuntimeApiConnection) -> None:
        self.calls.append(("lost", None))

    def on_next(self, conn: RuntimeApiConnection) -> None:
        self.calls.append(("next", None))
        self.parked = conn

    def on_result(self, conn: RuntimeApiConnection, route: Route, request_id: str, body: bytes | None, size: int,
                  error_type: str | None) -> None:
        self.calls.append((route.value, (request_id, body if body is None else body[:20], size, error_type)))
        conn.answer(ACCEPTED)


def _exchange(script: list[bytes], *, deliver: bytes | None = None, read_until_close: bool = False) -> tuple[Recorder, bytes]:
    """Send the script's chunks to a fresh endpoint, optionally answer a parked `next`, return what came back."""

    async def scenario() -> tuple[Recorder, bytes]:
        recorder = Recorder()
        server = await asyncio.get_running_loop().create_server(lambda: RuntimeApiConnection(recorder), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for chunk in script:
            writer.write(chunk)
            await writer.drain()
            await asyncio.sleep(0.01)
        if deliver is not None:
            assert recorder.parked is not None
            recorder.parked.answer(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(deliver), deliver)
        await asyncio.sleep(0.05)
        if read_until_close:
            data = await asyncio.wait_for(reader.read(), 2)
        else:
            data = b""
            while True:
                try:
                    data += await asyncio.wait_for(reader.read(65536), 0.1)
                except TimeoutError:
                    break
        writer.close()
        server.close()
        await server.wait_closed()
        return recorder, data

    return asyncio.run(scenario())


def test_requests_on_one_keep_alive_connection_split_anywhere() -> None:
    request = (
        b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n"
        b"POST /2018-06-01/runtime/invocation/abc/response HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n\"ok\""
        b"POST /2018-06-01/runtime/invocation/abc/error HTTP/1.1\r\nHost: x\r\n"
        b"Lambda-Runtime-Function-Error-Type: ValueError\r\nContent-Length: 2\r\n\r\n{}"
    )
    chunks = [request[i : i + 7] for i in range(0, len(request), 7)]
    recorder, data = _exchange(chunks, deliver=b"{}")
    assert [name for name, _ in recorder.calls] == ["connected", "next", "response", "error", "lost"]
    assert recorder.calls[2][1] == ("abc", b'"ok"', 4, None)
    assert recorder.calls[3][1] == ("abc", b"{}", 2, "ValueError")
    assert data.count(b"HTTP/1.1 202 Accepted") == 2
    assert data.endswith(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")  # the parked `next`, answered later


def test_body_over_the_limit_is_counted_not_kept() -> None:
    size = MAX_RESPONSE_BYTES + 10
    head = b"POST /2018-06-01/runtime/invocation/abc/response HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size
    recorder, _ = _exchange([head, b"x" * size])
    assert ("response", ("abc", None, size, None)) in recorder.calls


def test_expect_100_continue_is_answered() -> None:
    head = (b"POST /2018-06-01/runtime/invocation/abc/response HTTP/1.1\r\nHost: x\r\n"
            b"Expect: 100-continue\r\nContent-Length: 2\r\n\r\n")
    _, data = _exchange([head])
    assert data == b"HTTP/1.1 100 Continue\r\n\r\n"


def test_unknown_path_is_404_and_garbage_closes_the_connection() -> None:
    _recorder, data = _exchange([b"GET /2018-06-01/runtime/nope HTTP/1.1\r\nHost: x\r\n\r\n"])
    assert data.startswith(b"HTTP/1.1 404 Not Found\r\n")
    assert b'"errorType":"InvalidRequest"' in data
    _, data = _exchange([b"\x00\x01 not http\r\n\r\n"], read_until_close=True)
    assert data.startswith(b"HTTP/1.1 400 Bad Request\r\n")


def test_connection_close_is_honoured() -> None:
    request = (b"POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
               b"Content-Length: 2\r\n\r\n{}")
    recorder, data = _exchange([request], read_until_close=True)
    assert data.startswith(b"HTTP/1.1 202 Accepted")
    assert ("lost", None) in recorder.calls



@pytest.mark.parametrize("chunk_size", [7, 1 << 20])
def test_a_response_then_next_in_one_segment_or_split_is_handled_alike(chunk_size: int) -> None:
    data = _posted_response(b'"ok"', request_id="abc") + _NEXT
    chunks = [data[i : i + chunk_size] for i in range(0, len(data), chunk_size)]
    recorder, answers = _exchange(chunks, deliver=b"{}")
    assert [name for name, _ in recorder.calls] == ["connected", "response", "next", "lost"]
    assert recorder.calls[1][1] == ("abc", b'"ok"', 4, None)
    assert answers == ACCEPTED + b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
