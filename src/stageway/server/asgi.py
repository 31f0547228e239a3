"""The data plane's application, and its ASGI face.

`DataPlaneApp` is what both servers call: the native listener (`server/protocol.py`, what `stageway serve`
runs) and any ASGI server that mounts stageway (`DataPlaneApp` is an ASGI callable). Both turn the wire
request into an `IncomingRequest` with `new_request`, check AWS's quotas with the same functions, let
`DataPlaneApp.respond` run the pipeline, and write the `GatewayResponse` with the headers AWS adds to every
answer (spec §11.1) as `response_headers` lists them; `DataPlaneApp.record` writes the access log and
the metrics.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from itertools import repeat
from time import perf_counter, time_ns
from typing import Any

from stageway.core.errors import InternalServerError, PayloadTooLarge, error_response
from stageway.core.http import HEADER_NAMES, GatewayResponse, IncomingRequest, header_name
from stageway.core.ids import new_request_id
from stageway.gateway.exchange import Exchange
from stageway.gateway.pipeline import Gateway
from stageway.server.access_log import AccessLog, default_line
from stageway.server.metrics import GatewayMetrics

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

log = logging.getLogger("stageway.server")

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
"""AWS's payload quota for HTTP APIs (spec §11.3)."""
MAX_REQUEST_LINE_AND_HEADERS = 10_240
"""AWS's quota on the request line and header values together (spec §11.3)."""

# The server computes these itself; a copy from a backend or a function would contradict it.
SERVER_OWNED_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "date", "apigw-requestid"})


def new_request(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: list[tuple[str, str]],
    host_header: str,
    *,
    source_ip: str,
    server_port: int,
    scheme: str = "http",
    protocol: str = "HTTP/1.1",
    request_id: str = "",
    time_epoch_ms: int = 0,
) -> IncomingRequest:
    """The request as the pipeline sees it, with a new request id and the time it arrived (unless given);
    body to come."""
    return IncomingRequest(
        method=method,
        raw_path=raw_path,
        raw_query=raw_query,
        headers=headers,
        body=b"",
        source_ip=source_ip,
        request_id=request_id or new_request_id(),
        time_epoch_ms=time_epoch_ms or time_ns() // 1_000_000,
        host=host_of(host_header),
        scheme=scheme,
        server_port=server_port,
        protocol=protocol,
    )


def request_from_raw(
    method: str,
    raw_path: str,
    raw_query: str,
    raw_headers: list[bytes],
    host_header: str,
    *,
    source_ip: str,
    server_port: int,
    protocol: str,
    request_id: str = "",
    time_epoch_ms: int = 0,
) -> IncomingRequest:
    """`new_request` from the headers as httptools hands them over (name, value, name, value, ...)."""
    return new_request(
        method,
        raw_path,
        raw_query,
        header_pairs(raw_headers),
        host_header,
        source_ip=source_ip,
        server_port=server_port,
        protocol=protocol,
        request_id=request_id,
        time_epoch_ms=time_epoch_ms,
    )


def header_pairs(raw_headers: list[bytes]) -> list[tuple[str, str]]:
    """(lower-cased name, value) pairs from the headers as httptools hands them over (name, value, ...), with
    `map` and `zip` rather than a loop: no Python bytecode per header."""
    try:
        names = list(map(HEADER_NAMES.__getitem__, raw_headers[::2]))
    except KeyError:  # a name the cache does not hold yet
        names = list(map(header_name, raw_headers[::2]))
    return list(zip(names, map(bytes.decode, raw_headers[1::2], _LATIN_1), strict=True))


_LATIN_1 = repeat("latin-1")
"""The encoding argument of `map(bytes.decode, values, _LATIN_1)`: latin-1 keeps every byte as sent."""


def host_of(host_header: str) -> str:
    """The Host header without its port: `IncomingRequest.host`."""
    if ":" in host_header and not host_header.endswith("]"):
        return host_header.rsplit(":", 1)[0]
    return host_header


def request_line_and_headers_size(request: IncomingRequest) -> int:
    """What AWS's 10,240-byte quota counts: method, path, query and every header value."""
    size = len(request.method) + len(request.raw_path) + len(request.raw_query)
    for _, value in request.headers:
        size += len(value)
    return size


def headers_too_large(request: IncomingRequest) -> Exchange:
    return Exchange(request, error_response(431, "Request Header Fields Too Large"))


def payload_too_large(request: IncomingRequest) -> Exchange:
    return Exchange(request, PayloadTooLarge("request body over 10 MB").to_response())


def response_headers(response: GatewayResponse, request_id: str) -> Iterator[tuple[str, str]]:
    """The response's headers as sent: the integration's, less those the server owns, then AWS's own."""
    for header in response.headers:
        if header[0] not in SERVER_OWNED_HEADERS:
            yield header
    yield "content-length", str(len(response.body))
    yield "apigw-requestid", request_id


def encode_header_value(value: str) -> bytes:
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:  # a function may return any text; send its UTF-8 bytes rather than fail
        return value.encode("utf-8")


class DataPlaneApp:
    def __init__(self, gateway: Gateway, access_log: AccessLog | None, metrics: GatewayMetrics | None = None) -> None:
        self.gateway = gateway
        self.access_log = access_log
        self.metrics = metrics

    async def respond(self, request: IncomingRequest) -> Exchange:
        """Run the pipeline; a bug costs this request a 500, never the listener."""
        try:
            return await self.gateway.handle(request)
        except Exception:
            log.exception("request %s failed", request.request_id)
            return Exchange(request, InternalServerError().to_response())

    def record(self, exchange: Exchange, started: float) -> None:
        """Access log line and metrics for an answered request; `started` is its `perf_counter()`."""
        access_log, metrics = self.access_log, self.metrics
        if access_log is None and metrics is None:
            return
        latency_ms = (perf_counter() - started) * 1000
        if access_log is not None:
            access_log.write(default_line(exchange, latency_ms))
        if metrics is not None:
            metrics.observe(exchange, latency_ms, detailed=exchange.detailed_metrics)

    # -- ASGI ----------------------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        started = perf_counter()
        headers: list[tuple[str, str]] = []
        host = ""
        content_length = -1
        for raw_name, raw_value in scope["headers"]:
            # Header names arrive lower-cased from the server; latin-1 keeps every byte as sent.
            name = raw_name.decode("latin-1")
            value = raw_value.decode("latin-1")
            headers.append((name, value))
            if name == "host":
                host = value
            elif name == "content-length" and value.isdigit():
                content_length = int(value)
        client = scope.get("client")
        server = scope.get("server")
        request = new_request(
            scope["method"],
            scope["raw_path"].decode("latin-1"),
            scope["query_string"].decode("latin-1"),
            headers,
            host,
            source_ip=client[0] if client else "",
            server_port=server[1] if server else 80,
            scheme=scope.get("scheme", "http"),
            protocol="HTTP/" + scope.get("http_version", "1.1"),
        )
        if request_line_and_headers_size(request) > MAX_REQUEST_LINE_AND_HEADERS:
            exchange = headers_too_large(request)
        elif content_length > MAX_PAYLOAD_BYTES:
            exchange = payload_too_large(request)
        else:
            body = await _read_body(receive, MAX_PAYLOAD_BYTES)
            if body is None:
                exchange = payload_too_large(request)
            else:
                request.body = body
                exchange = await self.respond(request)
        response = exchange.response
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [
                    (name.encode("latin-1"), encode_header_value(value))
                    for name, value in response_headers(response, request.request_id)
                ],
            }
        )
        await send({"type": "http.response.body", "body": response.body})
        self.record(exchange, started)


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None once it passes `limit` bytes."""
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body"):
        return body
    chunks = [body]
    size = len(body)
    while message.get("more_body"):
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
