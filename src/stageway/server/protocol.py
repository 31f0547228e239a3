"""The public listener: HTTP/1.1 on asyncio + httptools, parsed straight into `IncomingRequest`.

Why not uvicorn under the ASGI app: measured on the proxy route, uvicorn's per-request ASGI scope, message
dicts, receive/send coroutines and its two writes per response (head, then body) cost about as much as
the pipeline itself. Here httptools' callbacks fill the `IncomingRequest` as the bytes arrive, `DataPlaneApp`
(`server/asgi.py`, shared with the ASGI face) runs the pipeline, and the answer goes out in one
`transport.write`: status line, headers and body.

What the listener does itself, before the pipeline sees a request:

- Keep-alive (HTTP/1.1 by default, HTTP/1.0 when asked); an idle connection is closed after
  `keep_alive_timeout_s`. Pipelined requests are answered one at a time, in order; reading pauses while
  one waits its turn, and while the client is not reading our answers (transport back-pressure).
- `Expect: 100-continue` is answered when the request is next in line and would send a body.
- Chunked request bodies (httptools decodes them). `Upgrade` is ignored: the request is answered as
  HTTP/1.1 and the connection carries on (AWS's HTTP APIs do not switch protocols).
- AWS's quotas (spec §11.3): a body over 10 MB is refused with 413 as soon as that is known (from its
  `Content-Length`, or counting a chunked body as it arrives), without reading the rest; more than 10,240
  bytes of request line and header values is 431. Malformed HTTP is 400. Each of these closes the
  connection, after reading and dropping what the client still sends for a moment ("lingering close"),
  so that the client reads the answer rather than a connection reset.
- HEAD answers carry the headers a GET would, without the body; `date` is formatted once a second.
- Graceful shutdown: stop accepting, close idle connections, let in-flight requests finish (their
  answers say `connection: close`), then close the rest after `graceful_timeout_s`.

`DataPlaneServer` has the interface `serve.py` drives its listeners with (`serve()`, `started`,
`should_exit`, `force_exit`), as uvicorn's `Server` has.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from http import HTTPStatus
from operator import itemgetter
from time import monotonic, perf_counter, time_ns
from typing import cast

import httptools

from stageway.core.clock import date_header_line
from stageway.core.errors import error_response
from stageway.core.http import HEADER_LINE, GatewayResponse, IncomingRequest, raw_header_names
from stageway.core.ids import new_request_id
from stageway.gateway.exchange import Exchange
from stageway.server.asgi import (
    MAX_PAYLOAD_BYTES,
    MAX_REQUEST_LINE_AND_HEADERS,
    SERVER_OWNED_HEADERS,
    DataPlaneApp,
    encode_header_value,
    headers_too_large,
    payload_too_large,
    request_from_raw,
)
from stageway.server.proxy_lane import OUTSIDE_LANE, Candidate, ProxyLane

log = logging.getLogger("stageway.server")

KEEP_ALIVE_TIMEOUT_S = 5.0
"""uvicorn's default, which this listener replaced: an idle client connection is closed after 5-6 s."""
GRACEFUL_TIMEOUT_S = 30.0
LINGER_S = 2.0
"""How long a refused request's remaining bytes are read and dropped before the connection closes."""
MAX_HEAD_BUFFER = 1024 * 1024
"""Bytes of one request's head held while it is incomplete; the 10,240-byte quota is checked exactly once
the parts are known, this only bounds what a client can make us buffer before that."""

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_STATUS_LINES = {status.value: f"HTTP/1.1 {status.value} {status.phrase}\r\n" for status in HTTPStatus}
_PROTOCOLS = {"1.1": "HTTP/1.1", "1.0": "HTTP/1.0"}
_METHODS = {
    method.encode(): method for method in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")
}
# The headers that announce a request body; the listener reads them (and `host`) itself.
_BODY_HEADERS = frozenset({b"content-length", b"expect", b"transfer-encoding"})


def _body_headers(headers: list[tuple[str, str]]) -> tuple[int, bool, bool]:
    """(content length or -1, chunked, expects 100-continue), for a request that sends one of _BODY_HEADERS."""
    content_length, chunked, expects_continue = -1, False, False
    for name, value in headers:
        if name == "content-length":
            if value.isdigit():
                content_length = int(value)
        elif name == "expect":
            expects_continue = value.lower() == "100-continue"
        elif name == "transfer-encoding":
            chunked = True
    return content_length, chunked, expects_continue


_SERVER_ERROR = error_response(500, "Internal Server Error")

def _date_line() -> str:
    return date_header_line(time_ns() // 1_000_000_000)[0]


def encode_response(response: GatewayResponse, request_id: str, *, connection: str, head_only: bool) -> bytes:
    """Status line, headers and body in one buffer. `connection` is "" or a whole `connection:` line.

    The headers sent are `response_headers`'s: the integration's, less those the server owns, then AWS's.
    Joined with `map(HEADER_LINE, ...)` rather than a loop: no Python bytecode per header."""
    status = response.status
    headers = response.headers
    if not SERVER_OWNED_HEADERS.isdisjoint(map(_first, headers)):
        headers = [header for header in headers if header[0] not in SERVER_OWNED_HEADERS]
    status_line = _STATUS_LINES.get(status) or f"HTTP/1.1 {status} \r\n"
    block = "".join(map(HEADER_LINE, headers))
    # One line break a header (the other lines are the server's own): a CR or LF in a header would end the
    # head early and let the rest pass as a second response.
    lines = len(headers)
    if block.count("\n") != lines or block.count("\r") != lines:
        log.error("response to %s has a header with a line break; answering 500 instead", request_id)
        return encode_response(_SERVER_ERROR, request_id, connection=connection, head_only=head_only)
    head = (
        f"{status_line}{_date_line()}{block}"
        f"content-length: {len(response.body)}\r\napigw-requestid: {request_id}\r\n{connection}\r\n"
    )
    try:
        data = head.encode("latin-1")
    except UnicodeEncodeError:
        # A function may return any text: a line that latin-1 cannot carry goes as UTF-8 rather than fail.
        data = b"\n".join(map(encode_header_value, head.split("\n")))
    return data if head_only else data + response.body


_first = itemgetter(0)

# The `connection` line of an answer, by (keep alive, HTTP/1.0 request), ending the head with the blank line
# in the bytes form.
_CONNECTION_LINES = {
    (False, False): "connection: close\r\n",
    (False, True): "connection: close\r\n",
    (True, False): "",
    (True, True): "connection: keep-alive\r\n",
}
_CONNECTION_LINES_BYTES = {key: f"{line}\r\n".encode() for key, line in _CONNECTION_LINES.items()}
_ONE_BUFFER_BELOW = 1 << 20


class _Answer:
    """One request waiting for, or being given, its answer."""

    __slots__ = ("exchange", "head_only", "keep_alive", "linger", "request", "request_id", "started")

    def __init__(
        self,
        request: IncomingRequest | None,
        started: float,
        keep_alive: bool,
        *,
        exchange: Exchange | None = None,
        request_id: str = "",
        linger: bool = False,
    ) -> None:
        self.request = request
        self.started = started
        self.keep_alive = keep_alive
        # Set when the listener answers itself (a quota, malformed HTTP): the pipeline is not called.
        self.exchange = exchange
        if request is not None:
            self.request_id = request.request_id
            self.head_only = request.method == "HEAD"
        else:
            self.request_id = request_id or new_request_id()
            self.head_only = False
        self.linger = linger


class _Refused(Exception):
    """Raised inside a parser callback to stop parsing; `_Connection._refusal` says how to answer."""


class _Connection(asyncio.Protocol):
    """One client connection: bytes in through httptools' callbacks, answers out in request order."""

    def __init__(self, server: DataPlaneServer) -> None:
        self._server = server
        self._app = server.app
        self._lane = server.lane
        assert server.loop is not None  # connections exist only while `serve` runs
        self._loop = server.loop
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpRequestParser(self)
        self.source_ip = ""
        self.source_ip_bytes = b""
        self.server_port = 0
        # The request being parsed.
        self._in_message = False
        self._in_head = False
        self._head_bytes = 0
        self._url = b""
        # Header names and values as httptools hands them over (name, value, name, value, ...), decoded in one
        # go once the head is complete.
        self._raw_headers: list[bytes] = []
        self._expects_continue = False
        self._request: IncomingRequest | None = None
        self._lane_candidate: Candidate | None = None
        """The request being read, when the proxy lane may answer it (then `_request` stays None)."""
        self._started = 0.0
        self._body: list[bytes] = []
        self._body_size = 0
        self._refusal: _Answer | None = None
        # Answering.
        self._queue: deque[_Answer] = deque()
        self._busy = False
        self._task: asyncio.Task[None] | None = None
        """Runs the pipeline for the connection's requests, one after the other (`_run`): one task for the
        connection rather than one a request, which would cost its creation and its registration in
        asyncio's set of tasks every time."""
        self._wakeup: asyncio.Future[_Answer] | None = None
        """What `_task` awaits between requests; `_start` hands it the next one."""
        self._close_after = False
        """Answer what is queued, then close: the client half-closed, or the server is shutting down."""
        self._discarding = False
        self._reading_paused = False
        self._writing_paused = False
        self._linger_timer: asyncio.TimerHandle | None = None
        self.active_tick = server.tick

    # -- asyncio.Protocol ----------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, hence a cast rather than an isinstance check.
        self._transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        local = transport.get_extra_info("sockname")
        # The client address is the TCP peer, as AWS's `sourceIp` is; X-Forwarded-For is the client's to send.
        self.source_ip = peer[0] if isinstance(peer, tuple) else ""
        self.source_ip_bytes = self.source_ip.encode()
        self.server_port = local[1] if isinstance(local, tuple) else 0
        self._server.connections.add(self)
        if self._server.closing:
            self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._server.connections.discard(self)
        self._transport = None
        self._queue.clear()
        if self._linger_timer is not None:
            self._linger_timer.cancel()
        if self._wakeup is not None:  # no next request: `_task` ends
            self._wakeup.cancel()
            self._wakeup = None

    def data_received(self, data: bytes) -> None:
        if self._discarding:
            return
        self.active_tick = self._server.tick
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserCallbackError:
            refusal, self._refusal = self._refusal, None
            if refusal is None:  # a bug in a callback below: this connection's problem, not the listener's
                log.exception("failed to read a request")
                refusal = _Answer(None, perf_counter(), False, exchange=_server_error(), linger=True)
            self._refuse(refusal)
            return
        except httptools.HttpParserUpgrade as upgrade:
            # AWS's HTTP APIs do not switch protocols: the request was answered as HTTP/1.1, and what
            # follows it is parsed as the next request.
            self._parser = httptools.HttpRequestParser(self)
            offset = upgrade.args[0] if upgrade.args else len(data)
            if offset < len(data):
                self.data_received(data[offset:])
            return
        except httptools.HttpParserError:
            self._in_message = False
            exchange = Exchange(_NO_REQUEST, error_response(400, "Bad Request"))
            self._refuse(_Answer(None, perf_counter(), False, exchange=exchange, linger=True))
            return
        if self._in_head:
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BUFFER:
                self._refuse(_Answer(None, perf_counter(), False, exchange=_header_overflow(), linger=True))
            elif self._head_bytes > MAX_REQUEST_LINE_AND_HEADERS and self._header_values_too_large():
                # The head is not complete, but its header values are already over AWS's quota. (Counted
                # here, after each read, rather than in `on_header`: the head's bytes bound its values'.)
                self._refuse(_Answer(None, self._started, False, exchange=_header_overflow(), linger=True))

    def eof_received(self) -> bool | None:
        if self._busy or self._queue:
            self._close_after = True  # the client finished sending: answer it, then close
            return True
        return None  # nothing to answer: the transport closes

    def pause_writing(self) -> None:
        # The client is not reading its answers: stop reading its requests until it does.
        self._writing_paused = True
        self._pause_reading()

    def resume_writing(self) -> None:
        self._writing_paused = False
        if not self._busy:
            self._next()

    # -- httptools callbacks -------------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._in_message = True
        self._in_head = True
        self._head_bytes = 0
        self._url = b""
        self._raw_headers = []
        self._expects_continue = False
        self._body = []
        self._body_size = 0
        self._started = perf_counter()

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, raw_name: bytes, raw_value: bytes) -> None:
        # Kept as sent: decoded and checked together in `on_headers_complete`, without a loop.
        self._raw_headers += (raw_name, raw_value)

    def _header_values_too_large(self) -> bool:
        return sum(map(len, self._raw_headers[1::2])) > MAX_REQUEST_LINE_AND_HEADERS

    def on_headers_complete(self) -> None:
        self._in_head = False
        raw_headers = self._raw_headers
        raw_values = raw_headers[1::2]
        value_bytes = sum(map(len, raw_values))
        if value_bytes > MAX_REQUEST_LINE_AND_HEADERS:
            # Refused as `data_received` refuses an incomplete head: before the request exists.
            self._refusal = _Answer(None, self._started, False, exchange=_header_overflow(), linger=True)
            raise _Refused
        names = raw_header_names(raw_headers[::2])  # lower-cased, as bytes
        # A name's last value, as the listener reads `host` and the body's headers.
        last = dict(zip(names, raw_values, strict=False))  # (as many names as values)
        host_header = last.get(b"host", b"").decode("latin-1")
        parser = self._parser
        raw_method = parser.get_method()
        method = _METHODS.get(raw_method) or raw_method.decode("latin-1")
        url = self._url.decode("latin-1")  # a character a byte: lengths below are the bytes'
        if url[:1] == "/" and "#" not in url:  # origin form, as every client sends it
            raw_path, _, raw_query = url.partition("?")
        else:  # absolute form (`GET http://host/path`), or a fragment to drop
            try:
                parsed = httptools.parse_url(self._url)
            except httptools.HttpParserInvalidURLError:
                exchange = Exchange(_NO_REQUEST, error_response(400, "Bad Request"))
                self._refusal = _Answer(None, self._started, False, exchange=exchange, linger=True)
                raise _Refused from None
            raw_path = (parsed.path or b"/").decode("latin-1")
            raw_query = (parsed.query or b"").decode("latin-1")
        protocol = _PROTOCOLS.get(parser.get_http_version(), "HTTP/1.1")
        # The request line and header values against AWS's quota (`url` is never shorter than path and query
        # together: the exact sum is only needed near the limit).
        if (
            len(raw_method) + len(url) + value_bytes > MAX_REQUEST_LINE_AND_HEADERS
            and len(raw_method) + len(raw_path) + len(raw_query) + value_bytes > MAX_REQUEST_LINE_AND_HEADERS
        ):
            request = self._new_request(method, raw_path, raw_query, raw_headers, host_header, protocol)
            self._refusal = _Answer(request, self._started, False, exchange=headers_too_large(request), linger=True)
            raise _Refused
        if self._lane is not None and method != "HEAD" and OUTSIDE_LANE.isdisjoint(last):
            length = last.get(b"content-length")
            # Nothing to invite and no body over the quota to refuse: decided on once the request is complete
            # (`on_message_complete`). (httptools refuses a content-length that is not all digits.)
            if length is None or int(length) <= MAX_PAYLOAD_BYTES:
                self._lane_candidate = (method, raw_path, raw_query, raw_headers, names, host_header, protocol)
                return
        request = self._request = self._new_request(method, raw_path, raw_query, raw_headers, host_header, protocol)
        if not _BODY_HEADERS.isdisjoint(last):
            self._announced_body(request, request.headers)

    def _new_request(
        self, method: str, raw_path: str, raw_query: str, raw_headers: list[bytes], host_header: str, protocol: str
    ) -> IncomingRequest:
        return request_from_raw(
            method,
            raw_path,
            raw_query,
            raw_headers,
            host_header,
            source_ip=self.source_ip,
            server_port=self.server_port,
            protocol=protocol,
        )

    def _announced_body(self, request: IncomingRequest, headers: list[tuple[str, str]]) -> None:
        """For a request that sends one of _BODY_HEADERS: refuse a body over the quota, or invite it."""
        content_length, chunked, self._expects_continue = _body_headers(headers)
        if content_length > MAX_PAYLOAD_BYTES:
            # Refused before a byte of the body is read (and without a 100 Continue inviting it).
            self._refusal = _Answer(request, self._started, False, exchange=payload_too_large(request), linger=True)
            raise _Refused
        if self._expects_continue and (content_length > 0 or chunked) and self._next_in_line():
            self._write_continue()

    def on_body(self, body: bytes) -> None:
        size = self._body_size + len(body)
        if size > MAX_PAYLOAD_BYTES:
            request = self._request
            assert request is not None
            self._refusal = _Answer(request, self._started, False, exchange=payload_too_large(request), linger=True)
            raise _Refused
        self._body_size = size
        self._body.append(body)

    def on_message_complete(self) -> None:
        self._in_message = False
        candidate = self._lane_candidate
        if candidate is not None:
            self._lane_candidate = None
            if not (self._busy or self._queue or self._writing_paused):  # else earlier requests first, in order
                self._busy = True
                assert self._lane is not None
                body = self._body
                whole = (body[0] if len(body) == 1 else b"".join(body)) if body else b""
                try:
                    taken = self._lane.start(self, candidate, whole, self._parser.should_keep_alive(), self._started)
                except BaseException:
                    self._busy = False  # a bug in the lane: `data_received` answers 500 (not busy, or it would wait)
                    raise
                if taken:
                    return
                self._busy = False
            method, raw_path, raw_query, raw_headers, _, host_header, protocol = candidate
            request = self._new_request(method, raw_path, raw_query, raw_headers, host_header, protocol)
        else:
            waiting = self._request
            assert waiting is not None
            request, self._request = waiting, None
        body = self._body
        if body:
            request.body = body[0] if len(body) == 1 else b"".join(body)
        answer = _Answer(request, self._started, self._parser.should_keep_alive())
        if self._busy or self._queue or self._writing_paused:
            self._queue.append(answer)
            self._pause_reading()  # one waiting request is enough: the client's next ones wait in its socket
        else:
            self._start(answer)

    # -- answering, in order -------------------------------------------------------------------------------

    def _next_in_line(self) -> bool:
        return not self._busy and not self._queue

    def _write_continue(self) -> None:
        self._expects_continue = False
        if self._transport is not None:
            self._transport.write(_CONTINUE)

    def _start(self, answer: _Answer) -> None:
        self._busy = True
        wakeup = self._wakeup
        if answer.exchange is not None:
            self._finish(answer, answer.exchange)
        elif wakeup is not None:  # the connection's task waits for its next request
            self._wakeup = None
            wakeup.set_result(answer)
        else:
            self._task = self._loop.create_task(self._run(answer))

    async def _run(self, answer: _Answer) -> None:
        """Answer `answer`, then each request `_start` hands over, until the connection closes."""
        while True:
            request = answer.request
            assert request is not None
            exchange = await self._app.respond(request)
            # Waiting before the answer goes out: `_finish` may start the next request at once.
            wakeup = self._wakeup = self._loop.create_future()
            try:
                self._finish(answer, exchange)
            except Exception:  # a bug in answering costs this connection, never the listener
                log.exception("failed to answer request %s", request.request_id)
                self._wakeup = None
                self.abort()
                return
            if self._transport is None:  # closed while the pipeline ran
                self._wakeup = None
                return
            answer = await wakeup

    def _finish(self, answer: _Answer, exchange: Exchange) -> None:
        http_1_0 = answer.request is not None and answer.request.protocol == "HTTP/1.0"
        keep_alive = self._write_response(
            exchange.response, answer.request_id, answer.keep_alive, http_1_0, head_only=answer.head_only
        )
        if answer.request is not None:
            self._app.record(exchange, answer.started)
        self._busy = False
        if not keep_alive:
            self._close(linger=answer.linger)
        else:
            self._next()

    def _write_response(
        self, response: GatewayResponse, request_id: str, keep_alive: bool, http_1_0: bool, *, head_only: bool
    ) -> bool:
        """Write an answer, unless the connection is gone; True when the connection stays open after it."""
        # (A server that is closing has set `_close_after` on every connection: `shutdown`.)
        keep_alive = keep_alive and not self._close_after
        transport = self._transport
        if transport is not None and not transport.is_closing():
            connection = _CONNECTION_LINES[keep_alive, http_1_0]
            if head_only or len(response.body) < _ONE_BUFFER_BELOW:
                transport.write(encode_response(response, request_id, connection=connection, head_only=head_only))
            else:  # not worth copying a large body once more to make one buffer
                transport.writelines(
                    (encode_response(response, request_id, connection=connection, head_only=True), response.body)
                )
        return keep_alive

    # -- the proxy lane (`server/proxy_lane.py`) -----------------------------------------------------------

    def lane_write(self, head: bytes, body: bytes, keep_alive: bool, protocol: str) -> bool:
        keep_alive = keep_alive and not self._close_after
        transport = self._transport
        if transport is not None and not transport.is_closing():
            connection = _CONNECTION_LINES_BYTES[keep_alive, protocol == "HTTP/1.0"]
            if len(body) < _ONE_BUFFER_BELOW:
                transport.write(head + connection + body)
            else:
                transport.writelines((head + connection, body))
        return keep_alive

    def lane_write_response(self, response: GatewayResponse, request_id: str, keep_alive: bool, protocol: str) -> bool:
        return self._write_response(response, request_id, keep_alive, protocol == "HTTP/1.0", head_only=False)

    def lane_done(self, keep_alive: bool) -> None:
        self._busy = False
        if not keep_alive:
            self._close(linger=False)
        else:
            self._next()

    def _next(self) -> None:
        """Start the next waiting request, or go back to reading when there is none."""
        if self._writing_paused or self._transport is None:
            return
        if self._queue:
            self._start(self._queue.popleft())
            return
        self.active_tick = self._server.tick
        self._resume_reading()
        if self._in_message and self._expects_continue and not self._in_head:
            self._write_continue()  # the request behind the one just answered asked to send its body

    def _refuse(self, answer: _Answer) -> None:
        """Answer `answer` once those before it are answered, then close; drop everything read after it."""
        self._discarding = True
        self._in_message = self._in_head = False
        if self._busy or self._queue:
            self._queue.append(answer)
        else:
            self._start(answer)

    def _close(self, *, linger: bool) -> None:
        self._queue.clear()
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if not linger:
            transport.close()
            return
        # The client may still be sending the request we refused. Closing with unread bytes would reset the
        # connection, and a reset can destroy our answer before the client reads it: stop writing, read and
        # drop what still comes, close when the client does or after LINGER_S.
        self._discarding = True
        self._resume_reading()
        try:
            transport.write_eof()
        except (NotImplementedError, OSError, RuntimeError):
            transport.close()
            return
        self._linger_timer = self._loop.call_later(LINGER_S, transport.close)

    def _pause_reading(self) -> None:
        if not self._reading_paused and self._transport is not None and not self._transport.is_closing():
            self._reading_paused = True
            self._transport.pause_reading()

    def _resume_reading(self) -> None:
        if self._reading_paused and self._transport is not None and not self._transport.is_closing():
            self._reading_paused = False
            self._transport.resume_reading()

    # -- called by the server ------------------------------------------------------------------------------

    @property
    def idle(self) -> bool:
        """No request being answered, waiting, or partly received."""
        return not self._busy and not self._queue and not self._in_message

    def shutdown(self) -> None:
        """Stop taking requests: close now if idle, else after answering what was received."""
        self._close_after = True
        if self.idle and self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()


def _server_error() -> Exchange:
    return Exchange(_NO_REQUEST, error_response(500, "Internal Server Error"))


def _header_overflow() -> Exchange:
    return Exchange(_NO_REQUEST, error_response(431, "Request Header Fields Too Large"))


# What an Exchange made before a request could be read refers to; never logged (`_Answer.request` is None).
_NO_REQUEST = IncomingRequest("", "", "", [], b"", "", "", 0, "")


@dataclass(frozen=True)
class ListenerConfig:
    host: str
    port: int


class DataPlaneServer:
    """The public listener: one `_Connection` per client on an asyncio server."""

    def __init__(
        self,
        app: DataPlaneApp,
        host: str,
        port: int,
        *,
        keep_alive_timeout_s: float = KEEP_ALIVE_TIMEOUT_S,
        graceful_timeout_s: float = GRACEFUL_TIMEOUT_S,
        backlog: int = 2048,
        reuse_port: bool = False,
        proxy_lane: bool = True,
        lambda_lane: bool = True,
    ) -> None:
        self.app = app
        self.lane = ProxyLane(app, proxy=proxy_lane, lambda_routes=lambda_lane) if proxy_lane or lambda_lane else None
        """Plain HTTP proxy and Lambda routes answered from callbacks (`server/proxy_lane.py`,
        `server/lambda_lane.py`); None: every request takes the pipeline."""
        self.reuse_port = reuse_port
        """Several worker processes listen on one port; the kernel spreads connections over them."""
        self.config = ListenerConfig(host, port)
        self.keep_alive_timeout_s = keep_alive_timeout_s
        self.graceful_timeout_s = graceful_timeout_s
        self.backlog = backlog
        self.loop: asyncio.AbstractEventLoop | None = None
        self.connections: set[_Connection] = set()
        self.tick = 0
        """Seconds since the listener started, counted by a once-a-second timer: idle time is measured in it."""
        self.started = False
        self.closing = False
        self.force_exit = False
        self.sockets: list[object] = []
        self._should_exit = False
        self._exit: asyncio.Event | None = None
        self._ticker: asyncio.TimerHandle | None = None

    @property
    def should_exit(self) -> bool:
        return self._should_exit

    @should_exit.setter
    def should_exit(self, value: bool) -> None:
        self._should_exit = value
        if value and self._exit is not None:
            self._exit.set()

    async def serve(self) -> None:
        """Listen until `should_exit` is set, then shut down gracefully. Raises OSError if it cannot listen."""
        loop = self.loop = asyncio.get_running_loop()
        self._exit = asyncio.Event()
        if self._should_exit:
            return
        server = await loop.create_server(
            lambda: _Connection(self), self.config.host, self.config.port, backlog=self.backlog, reuse_address=True,
            reuse_port=self.reuse_port or None
        )
        self.sockets = list(server.sockets)
        self.started = True
        self._ticker = loop.call_later(1.0, self._tick)
        try:
            await self._exit.wait()
        finally:
            await self._shutdown(server)
            if self._ticker is not None:
                self._ticker.cancel()

    def _tick(self) -> None:
        assert self.loop is not None
        self.tick += 1
        self._ticker = self.loop.call_later(1.0, self._tick)
        limit = self.keep_alive_timeout_s
        for connection in list(self.connections):
            if connection.idle and self.tick - connection.active_tick > limit:
                connection.shutdown()

    async def _shutdown(self, server: asyncio.AbstractServer) -> None:
        self.closing = True
        server.close()
        for connection in list(self.connections):
            connection.shutdown()
        deadline = monotonic() + self.graceful_timeout_s
        while self.connections and not self.force_exit and monotonic() < deadline:
            await asyncio.sleep(0.05)
        for connection in list(self.connections):
            connection.abort()
        # Python 3.12+ waits here for every connection to be gone; they all are by now.
        await server.wait_closed()
