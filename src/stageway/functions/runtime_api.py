"""The server side of AWS's Lambda Runtime API, one endpoint per worker.

A worker (stageway's bootstrap, or AWS's own `awslambdaric`) finds its endpoint in
`AWS_LAMBDA_RUNTIME_API` and speaks plain HTTP/1.1 to it:

    GET  /2018-06-01/runtime/invocation/next          -> 200, the event, Lambda-Runtime-* headers
    POST /2018-06-01/runtime/invocation/{id}/response -> 202
    POST /2018-06-01/runtime/invocation/{id}/error    -> 202
    POST /2018-06-01/runtime/init/error               -> 202

The routing and the bytes of every answer are plain functions (`route_request`, `next_invocation_head`,
...); `RuntimeApiConnection` only feeds socket bytes to httptools and hands complete requests to the
worker that owns the endpoint. What stageway's own runtime sends after every invocation, its response and
its next `GET .../next` in one segment, is recognised by one regular expression instead (`match_result_then_next`):
a dozen parser callbacks fewer per invocation. Anything else goes to httptools.

Answers made while a batch of bytes is being read are written together once it has been read: stageway's
runtime sends a result and its next `GET .../next` in one go, and the `202` for the result then leaves in
the same write as the next event, whether an invocation is queued for the worker (the pool hands it over
while the result is being read) or comes later (the `202` is held until then). One write wakes the worker
once.
"""

from __future__ import annotations

import asyncio
import enum
import re
from typing import Protocol, cast

import httptools
import orjson

from stageway.functions.config import MAX_RESPONSE_BYTES

API_VERSION_PREFIX = b"/2018-06-01/runtime/"
_INVOCATION_PREFIX = b"/2018-06-01/runtime/invocation/"
_NEXT_PATH = b"/2018-06-01/runtime/invocation/next"
_INIT_ERROR_PATH = b"/2018-06-01/runtime/init/error"


class Route(enum.Enum):
    NEXT = "next"
    RESPONSE = "response"
    ERROR = "error"
    INIT_ERROR = "init/error"
    NOT_FOUND = "not found"


def route_request(method: bytes, path: bytes) -> tuple[Route, str]:
    """Which Runtime API call a request is, and the request id it names ("" when none)."""
    if path == _NEXT_PATH:
        return (Route.NEXT, "") if method == b"GET" else (Route.NOT_FOUND, "")
    if method != b"POST":
        return Route.NOT_FOUND, ""
    if path == _INIT_ERROR_PATH:
        return Route.INIT_ERROR, ""
    if path.startswith(_INVOCATION_PREFIX):
        rest = path[len(_INVOCATION_PREFIX) :]
        if rest.endswith(b"/response"):
            return Route.RESPONSE, rest[: -len(b"/response")].decode("ascii", "replace")
        if rest.endswith(b"/error"):
            return Route.ERROR, rest[: -len(b"/error")].decode("ascii", "replace")
    return Route.NOT_FOUND, ""


# Exactly what bootstrap.py sends once an invocation has succeeded: the response, then the next `GET .../next`.
_RESPONSE_HEAD = re.compile(
    rb"POST /2018-06-01/runtime/invocation/([A-Za-z0-9-]+)/response HTTP/1\.1\r\n"
    rb"Host: [^\r\n]*\r\nContent-Type: [^\r\n]*\r\nContent-Length: ([0-9]{1,7})\r\n\r\n"
)
_NEXT_REQUEST = re.compile(rb"GET /2018-06-01/runtime/invocation/next HTTP/1\.1\r\nHost: [^\r\n]*\r\n\r\n")


def match_result_then_next(data: bytes) -> tuple[str, bytes] | None:
    """(request id, response body) if `data` is exactly a posted response followed by `GET .../next`, both
    complete and plain (keep-alive, a Content-Length body within the limit), as stageway's runtime sends them."""
    head = _RESPONSE_HEAD.match(data)
    if head is None:
        return None
    length = int(head[2])
    body_start = head.end()
    body_end = body_start + length
    if length > MAX_RESPONSE_BYTES or _NEXT_REQUEST.fullmatch(data, body_end) is None:
        return None
    return head[1].decode("ascii"), data[body_start:body_end]


def next_invocation_head(
    *,
    request_id: str,
    deadline_ms: int,
    function_arn: str,
    trace_id: str,
    client_context: str | None,
    content_length: int,
) -> bytes:
    """Status line and headers of the answer to `GET .../invocation/next` (the event is the body)."""
    client_context_header = (
        f"Lambda-Runtime-Client-Context: {client_context}\r\n" if client_context is not None else ""
    )
    fields = (request_id, deadline_ms, function_arn, trace_id, client_context_header, content_length)
    return (_NEXT_HEAD % fields).encode()


_NEXT_HEAD = (
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: application/json\r\n"
    "Lambda-Runtime-Aws-Request-Id: %s\r\n"
    "Lambda-Runtime-Deadline-Ms: %s\r\n"
    "Lambda-Runtime-Invoked-Function-Arn: %s\r\n"
    "Lambda-Runtime-Trace-Id: %s\r\n"
    "%s"  # Lambda-Runtime-Client-Context, when there is one
    "Content-Length: %s\r\n"
    "\r\n"
)


ACCEPTED = b'HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{"status":"OK"}\n'
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def error_answer(status: int, reason: str, error_type: str, message: str) -> bytes:
    """RAPID's error answers: a JSON body with `errorType` and `errorMessage`."""
    body = orjson.dumps({"errorMessage": message, "errorType": error_type})
    return (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


NOT_FOUND = error_answer(404, "Not Found", "InvalidRequest", "Unknown Runtime API endpoint")
INVALID_REQUEST_ID = error_answer(400, "Bad Request", "InvalidRequestID", "Invalid request ID")
PAYLOAD_TOO_LARGE = error_answer(
    413,
    "Request Entity Too Large",
    "RequestEntityTooLarge",
    f"Exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes).",
)
BAD_REQUEST = error_answer(400, "Bad Request", "InvalidRequest", "Malformed HTTP request")


class RuntimeApiHandler(Protocol):
    """The worker behind one endpoint; every call gets the connection to answer on."""

    def connection_made(self, conn: RuntimeApiConnection) -> None: ...

    def connection_lost(self, conn: RuntimeApiConnection) -> None: ...

    def on_next(self, conn: RuntimeApiConnection) -> None: ...

    def on_result(
        self, conn: RuntimeApiConnection, route: Route, request_id: str, body: bytes | None, size: int,
        error_type: str | None,
    ) -> None:
        """A posted response, invocation error or init error; `body` is None when over the size limit."""


class RuntimeApiConnection(asyncio.Protocol):
    """One HTTP/1.1 connection from a worker; requests are parsed by httptools' callbacks below."""

    def __init__(self, handler: RuntimeApiHandler) -> None:
        self._handler = handler
        self._transport: asyncio.Transport | None = None
        self._reading = False
        self._pending: list[bytes] = []
        """Answers made while reading, written together when the batch has been read."""
        self._held = b""
        """A `202` that waits to leave with the next answer (see `data_received`)."""
        self._parser = httptools.HttpRequestParser(self)
        self._url = b""
        self._body: list[bytes] = []
        self._size = 0
        self._error_type: str | None = None
        self._close_after_answer = False
        self._in_message = False
        """httptools holds part of a request: the next bytes continue it, so they must go to httptools too."""

    # asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses
        self._handler.connection_made(self)

    def data_received(self, data: bytes) -> None:
        self._reading = True
        try:
            result = None if self._in_message else match_result_then_next(data)
            if result is not None:
                # What httptools' callbacks would do for these two requests, without them.
                request_id, body = result
                self._close_after_answer = False
                self._handler.on_result(self, Route.RESPONSE, request_id, body, len(body), None)
                self._handler.on_next(self)
                if self._pending == [ACCEPTED]:
                    # The runtime reads the result's `202` just before its next event (it sent both requests
                    # together), so the `202` waits for the event, to leave in the same write: the runtime
                    # wakes once. (An error answer to the result, or the event itself, leaves now.)
                    self._held = self._pending.pop()
            else:
                self._parser.feed_data(data)
        except httptools.HttpParserError:
            self._close_after_answer = True
            self.answer(BAD_REQUEST)
        finally:
            self._reading = False
        if self._pending:
            self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._handler.connection_lost(self)

    # httptools callbacks

    def on_message_begin(self) -> None:
        self._in_message = True
        self._url = b""
        self._body = []
        self._size = 0
        self._error_type = None

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        lowered = name.lower()
        if lowered == b"lambda-runtime-function-error-type":
            self._error_type = value.decode("latin-1")
        elif lowered == b"expect" and value.lower() == b"100-continue":
            # libcurl (under awslambdaric's C client) asks before sending a large body.
            self.answer(CONTINUE)

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size <= MAX_RESPONSE_BYTES:
            self._body.append(body)

    def on_message_complete(self) -> None:
        self._in_message = False
        self._close_after_answer = not self._parser.should_keep_alive()
        route, request_id = route_request(self._parser.get_method(), self._url)
        if route is Route.NEXT:
            self._handler.on_next(self)
        elif route is Route.NOT_FOUND:
            self.answer(NOT_FOUND)
        else:
            body = None if self._size > MAX_RESPONSE_BYTES else b"".join(self._body)
            self._handler.on_result(self, route, request_id, body, self._size, self._error_type)
        self._body = []

    # answering

    def answer(self, data: bytes, body: bytes = b"") -> None:
        """Send an answer (`body` may be given apart so a large event is not copied); one made while a batch
        of bytes is being read waits for the end of that batch, to leave in one write with the others."""
        transport = self._transport
        if transport is None:
            return
        close = self._close_after_answer and data is not CONTINUE
        if self._reading:
            self._pending.append(data)
            if body:
                self._pending.append(body)
            if close:
                self._flush()
            return
        if self._held:
            data, self._held = self._held + data, b""  # the held `202` first, in the same write
        if len(body) < 65536:
            transport.write(data + body)  # one segment: small events cost a single send
        else:
            transport.writelines((data, body))
        if close:
            transport.close()

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        if not pending or self._transport is None:
            return
        if self._held:
            pending.insert(0, self._held)
            self._held = b""
        if len(pending) == 1:
            self._transport.write(pending[0])
        elif sum(map(len, pending)) < 65536:
            self._transport.write(b"".join(pending))
        else:
            self._transport.writelines(pending)
        if self._close_after_answer:
            self._transport.close()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
