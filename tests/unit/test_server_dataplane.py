"""The data plane's two faces without a socket: the response bytes the native listener writes, and the ASGI
app that lets any ASGI server mount stageway. Both build the same `IncomingRequest` and answer alike."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from stageway.core.http import GatewayResponse, IncomingRequest
from stageway.gateway.exchange import Exchange
from stageway.server.asgi import DataPlaneApp, new_request, request_line_and_headers_size
from stageway.server.protocol import encode_response


def _head_lines(data: bytes) -> list[str]:
    head, _, _ = data.partition(b"\r\n\r\n")
    return head.decode("latin-1").split("\r\n")


def test_response_is_status_line_date_headers_and_body_in_one_buffer() -> None:
    response = GatewayResponse(201, [("content-type", "application/json"), ("set-cookie", "a=1"),
                                     ("set-cookie", "b=2")], b'{"ok":true}')
    data = encode_response(response, "REQID", connection="", head_only=False)
    lines = _head_lines(data)
    assert lines[0] == "HTTP/1.1 201 Created"
    assert re.fullmatch(r"date: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT", lines[1])
    assert lines[2:] == [
        "content-type: application/json", "set-cookie: a=1", "set-cookie: b=2",
        "content-length: 11", "apigw-requestid: REQID",
    ]
    assert data.endswith(b'\r\n\r\n{"ok":true}')


def test_headers_the_server_owns_are_not_copied_from_the_integration() -> None:
    response = GatewayResponse(200, [("content-length", "999"), ("date", "yesterday"), ("connection", "close"),
                                     ("transfer-encoding", "chunked"), ("apigw-requestid", "theirs")], b"abc")
    lines = _head_lines(encode_response(response, "ours", connection="connection: close\r\n", head_only=False))
    assert [line for line in lines if not line.startswith("date: ")] == [
        "HTTP/1.1 200 OK", "content-length: 3", "apigw-requestid: ours", "connection: close",
    ]


def test_head_only_keeps_the_length_and_drops_the_body() -> None:
    data = encode_response(GatewayResponse(200, [], b"x" * 42), "r", connection="", head_only=True)
    assert data.endswith(b"content-length: 42\r\napigw-requestid: r\r\n\r\n")


def test_unknown_status_and_non_latin1_values() -> None:
    data = encode_response(GatewayResponse(299, [("x-name", "caf\u00e9 \u2603")], b""), "r", connection="",
                           head_only=False)
    assert data.startswith(b"HTTP/1.1 299 \r\n")
    # latin-1 where it can be, the value's UTF-8 bytes where it cannot (what the ASGI face sent too).
    assert "x-name: café ☃".encode() in data


def test_a_line_break_in_a_header_turns_into_a_500() -> None:
    data = encode_response(GatewayResponse(200, [("x-a", "1\r\nx-injected: 2")], b"{}"), "r", connection="",
                           head_only=False)
    assert data.startswith(b"HTTP/1.1 500 Internal Server Error\r\n")
    assert b"x-injected" not in data
    assert data.endswith(b'{"message":"Internal Server Error"}')


def test_new_request_strips_the_port_from_the_host() -> None:
    def host(value: str) -> str:
        return new_request("GET", "/", "", [], value, source_ip="1.2.3.4", server_port=80).host

    assert host("api.example.com:8443") == "api.example.com"
    assert host("[::1]") == "[::1]"
    assert host("[::1]:8080") == "[::1]"
    assert host("") == ""


def test_the_quota_counts_the_request_line_and_header_values() -> None:
    request = new_request("POST", "/abc", "q=1", [("x-a", "12345"), ("host", "h")], "h", source_ip="",
                          server_port=80)
    assert request_line_and_headers_size(request) == len("POST") + len("/abc") + len("q=1") + 5 + 1


class _Gateway:
    def __init__(self) -> None:
        self.seen: list[IncomingRequest] = []

    async def handle(self, request: IncomingRequest) -> Exchange:
        self.seen.append(request)
        return Exchange(request, GatewayResponse(200, [("content-type", "text/plain"), ("date", "x")], request.body))


def _asgi(app: DataPlaneApp, scope: dict[str, Any], chunks: list[bytes]) -> list[dict[str, Any]]:
    messages = [{"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
                for i, chunk in enumerate(chunks)]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def _scope(**changes: Any) -> dict[str, Any]:
    scope = {
        "type": "http", "http_version": "1.1", "method": "POST", "scheme": "http", "raw_path": b"/a%20b",
        "query_string": b"x=1", "headers": [(b"host", b"api.example.com:9000"), (b"x-k", b"v")],
        "client": ("10.0.0.7", 5555), "server": ("127.0.0.1", 9000),
    }
    scope.update(changes)
    return scope


def test_the_asgi_face_builds_the_same_request_and_answers_alike() -> None:
    gateway = _Gateway()
    app = DataPlaneApp(gateway, None, None)  # type: ignore[arg-type]
    sent = _asgi(app, _scope(), [b"hello ", b"world"])
    request = gateway.seen[0]
    assert (request.method, request.raw_path, request.raw_query, request.body) == ("POST", "/a%20b", "x=1",
                                                                                   b"hello world")
    assert (request.host, request.source_ip, request.server_port) == ("api.example.com", "10.0.0.7", 9000)
    assert request.headers == [("host", "api.example.com:9000"), ("x-k", "v")]
    start, body = sent
    assert start["status"] == 200
    assert start["headers"] == [(b"content-type", b"text/plain"), (b"content-length", b"11"),
                                (b"apigw-requestid", request.request_id.encode())]
    assert body == {"type": "http.response.body", "body": b"hello world"}


def test_the_asgi_face_applies_the_quotas() -> None:
    gateway = _Gateway()
    app = DataPlaneApp(gateway, None, None)  # type: ignore[arg-type]
    sent = _asgi(app, _scope(headers=[(b"x-big", b"a" * 10_300)]), [b""])
    assert sent[0]["status"] == 431
    sent = _asgi(app, _scope(headers=[(b"content-length", b"10485761")]), [b""])
    assert sent[0]["status"] == 413
    sent = _asgi(app, _scope(), [b"x" * (6 * 1024 * 1024), b"x" * (6 * 1024 * 1024)])
    assert sent[0]["status"] == 413
    assert gateway.seen == []
