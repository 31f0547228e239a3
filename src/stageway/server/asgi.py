"""The data plane's ASGI application: the only code that knows the HTTP server's interface.

Deliberately framework-free: the request is read into an `IncomingRequest`, handed to the pipeline, and the
response written back with the headers AWS adds to every answer (spec §11.1).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from stageway.core.errors import InternalServerError, PayloadTooLarge, error_response
from stageway.core.http import GatewayResponse, IncomingRequest
from stageway.core.ids import new_request_id
from stageway.gateway.pipeline import Exchange, Gateway
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


class DataPlaneApp:
    def __init__(self, gateway: Gateway, access_log: AccessLog | None, metrics: GatewayMetrics | None = None) -> None:
        self.gateway = gateway
        self.access_log = access_log
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        request_id = new_request_id()
        headers: list[tuple[str, str]] = []
        host = ""
        content_length = -1
        header_bytes = len(scope["raw_path"]) + len(scope["query_string"]) + len(scope["method"])
        for raw_name, raw_value in scope["headers"]:
            # Header names arrive lower-cased from the server; latin-1 keeps every byte as sent.
            name = raw_name.decode("latin-1")
            value = raw_value.decode("latin-1")
            header_bytes += len(raw_value)
            headers.append((name, value))
            if name == "host":
                host = value
            elif name == "content-length" and value.isdigit():
                content_length = int(value)
        client = scope.get("client")
        server = scope.get("server")
        request = IncomingRequest(
            method=scope["method"],
            raw_path=scope["raw_path"].decode("latin-1"),
            raw_query=scope["query_string"].decode("latin-1"),
            headers=headers,
            body=b"",
            source_ip=client[0] if client else "",
            request_id=request_id,
            time_epoch_ms=int(time.time() * 1000),
            host=host.rsplit(":", 1)[0] if ":" in host and not host.endswith("]") else host,
            scheme=scope.get("scheme", "http"),
            server_port=server[1] if server else 80,
            protocol="HTTP/" + scope.get("http_version", "1.1"),
        )
        if header_bytes > MAX_REQUEST_LINE_AND_HEADERS:
            exchange = Exchange(request, error_response(431, "Request Header Fields Too Large"))
        elif content_length > MAX_PAYLOAD_BYTES:
            exchange = Exchange(request, PayloadTooLarge("request body over 10 MB").to_response())
        else:
            body = await _read_body(receive, MAX_PAYLOAD_BYTES)
            if body is None:
                exchange = Exchange(request, PayloadTooLarge("request body over 10 MB").to_response())
            else:
                request.body = body
                try:
                    exchange = await self.gateway.handle(request)
                except Exception:  # a bug must cost one request, never the listener
                    log.exception("request %s failed", request_id)
                    exchange = Exchange(request, InternalServerError().to_response())
        await _send_response(send, exchange.response, request_id)
        latency_ms = (time.perf_counter() - started) * 1000
        if self.access_log is not None:
            self.access_log.write(default_line(exchange, latency_ms))
        if self.metrics is not None:
            self.metrics.observe(exchange, latency_ms, detailed=exchange.detailed_metrics)


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


async def _send_response(send: Send, response: GatewayResponse, request_id: str) -> None:
    headers = [
        (name.encode("latin-1"), _encode_header_value(value))
        for name, value in response.headers
        if name not in _SERVER_OWNED_HEADERS
    ]
    headers.append((b"content-length", str(len(response.body)).encode()))
    headers.append((b"apigw-requestid", request_id.encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


# The server computes these itself; a copy from a backend or a function would contradict it.
_SERVER_OWNED_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "date", "apigw-requestid"})


def _encode_header_value(value: str) -> bytes:
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:  # a function may return any text; send its UTF-8 bytes rather than fail
        return value.encode("utf-8")
