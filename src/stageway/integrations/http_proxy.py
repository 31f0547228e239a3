"""The HTTP client behind HTTP_PROXY integrations: pooled keep-alive HTTP/1.1 to backends (spec §4.5, §4.6).

A small client on asyncio + httptools rather than aiohttp's ClientSession: it does only what a proxy needs
(no cookie jar, no decompression, no redirects, no headers of its own) and measured 1.5-2x aiohttp's
requests/s one at a time and about 4x with 16 in flight, against the example backend. Connections are kept per origin (scheme, host, port) and reused last-in first-out; a
connection goes back to the pool only after a complete response that allows keep-alive, so a broken one
is never handed out again.

Failures map to AWS's answers (spec §4.6): an unreachable or misbehaving backend is `IntegrationFailure`
(500 `Internal Server Error`), no complete response within the integration timeout is `IntegrationTimeout`
(503 `Service Unavailable`).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import ssl
from collections import deque
from collections.abc import Callable
from time import monotonic
from typing import Any, cast

import httptools

from stageway.core.errors import IntegrationFailure, IntegrationTimeout
from stageway.core.http import HEADER_LINE, HEADER_NAMES, GatewayResponse, header_name, raw_header_names
from stageway.core.http_proxy import BackendUrl, BadBackendUrl, backend_response_headers, parse_backend_url
from stageway.running_loop import running_loop

# HTTP APIs' payload quota is 10 MB for responses too (spec §11.3).
MAX_RESPONSE_BODY = 10 * 1024 * 1024

# Methods a stale keep-alive connection may be retried with (RFC 9110 §9.2.2): a backend that closed an idle
# connection just as it was reused has not seen the request, but for POST/PATCH that cannot be proven.
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
# Methods whose empty body is still announced with `content-length: 0`.
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

_Origin = tuple[str, str, int]


class _ResponseTooLarge(Exception):
    pass


class _Deadlines:
    """The integration timeouts of every request in flight, on one loop timer.

    A timer per request (`loop.call_at`, then `cancel`) measured about 2.4 µs on uvloop, a few percent of a
    proxied request. Here a request costs a heap push; a request that finished is skipped when the timer
    comes round, and finished ones are swept out every `_SWEEP_EVERY` requests so that long timeouts do not
    pile them up.
    """

    _SWEEP_EVERY = 512
    _SLACK_S = 0.001
    """uvloop's clock moves in milliseconds: a timer may run a hair before the deadline it was set for."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._heap: list[tuple[float, int, _BackendConnection]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf
        self._added = 0

    def add(self, deadline: float, serial: int, connection: _BackendConnection) -> None:
        heapq.heappush(self._heap, (deadline, serial, connection))
        self._added += 1
        if self._added >= self._SWEEP_EVERY:
            self._sweep()
        if deadline < self._timer_at:
            self._arm(deadline)

    def _arm(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = when
        self._timer = self._loop.call_at(when, self._expire)

    def _expire(self) -> None:
        self._timer, self._timer_at = None, math.inf
        heap = self._heap
        now = self._loop.time() + self._SLACK_S
        while heap and heap[0][0] <= now:
            _, serial, connection = heapq.heappop(heap)
            connection.time_out(serial)
        if heap:
            self._arm(heap[0][0])

    def _sweep(self) -> None:
        self._added = 0
        live = [entry for entry in self._heap if entry[2].waiting_for(entry[1])]
        heapq.heapify(live)
        self._heap = live

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._timer_at, self._heap = None, math.inf, []


_serials = itertools.count(1)


class _BackendConnection(asyncio.Protocol):
    """One HTTP/1.1 connection to a backend: one request at a time, the response parsed by httptools."""

    def __init__(self, loop: asyncio.AbstractEventLoop, origin: str, deadlines: _Deadlines) -> None:
        self.loop = loop
        self.origin = origin
        """`scheme://authority`, for messages."""
        self._deadlines = deadlines
        self._serial = 0
        """Which request the connection is on, for `_Deadlines`."""
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.reusable = False
        self.idle_since = 0.0
        self._waiter: asyncio.Future[GatewayResponse] | None = None
        self._timeout_s = 0.0
        self._head = False
        self._parser_spent = False
        self._received = False
        self.status = 0
        """The response's status code, once its head is parsed."""
        self._header_list: list[tuple[str, str]] = []
        """The headers `on_header` adds to (the message's, then a chunked body's trailers)."""
        self._headers: list[tuple[str, str]] = []
        self._headers_done = False
        self._body: list[bytes] = []
        self._body_size = 0
        self._failure: IntegrationFailure | None = None
        self._settled = False
        """A lane connection's response is complete and waits for `_deliver` (never set on this class)."""

    # -- the exchange --------------------------------------------------------------------------------------

    def request(
        self, data: bytes, *, head: bool, deadline: float, timeout_s: float
    ) -> asyncio.Future[GatewayResponse]:
        """Write one request; the future resolves with the complete response, or fails with IntegrationFailure,
        or with IntegrationTimeout if the response is not complete at `deadline` (loop time): the connection
        is then closed, as the response may still arrive."""
        assert self.transport is not None and self._waiter is None
        if self._parser_spent:
            # A HEAD response left the parser waiting for a body that never comes (httptools cannot be told
            # the request was HEAD), so the next response gets a fresh parser.
            self.parser = httptools.HttpResponseParser(self)
            self._parser_spent = False
        self._head = head
        self._received = False
        self._failure = None
        self._reset_message()
        waiter = self.loop.create_future()
        self._waiter = waiter
        # No `asyncio.timeout` block around the await (5 µs, two getpid() calls): the client's one timer.
        self._timeout_s = timeout_s
        self._serial = serial = next(_serials)
        self._deadlines.add(deadline, serial, self)
        self.transport.write(data)
        return waiter

    def waiting_for(self, serial: int) -> bool:
        return serial == self._serial and self._waiter is not None

    def time_out(self, serial: int) -> None:
        if self.waiting_for(serial):
            self._fail(IntegrationTimeout(f"no response from {self.origin} within {self._timeout_s:g}s"))

    @property
    def received_any(self) -> bool:
        """Whether any byte of a response arrived for the current request."""
        return self._received

    def _reset_message(self) -> None:
        # (`status` and `_headers` are set by `on_headers_complete` before anything reads them.)
        self._header_list = []
        self._headers_done = False
        self._body = []
        self._body_size = 0

    def _finish(self, keep_alive: bool) -> None:
        waiter, self._waiter = self._waiter, None
        self.reusable = keep_alive and not self.closed
        if waiter is not None and not waiter.done():
            waiter.set_result(GatewayResponse(self.status, self._headers, b"".join(self._body)))

    def _fail(self, failure: IntegrationFailure | IntegrationTimeout) -> None:
        waiter, self._waiter = self._waiter, None
        self.abort()
        if waiter is not None and not waiter.done():
            waiter.set_exception(failure)

    def abort(self) -> None:
        self.closed = True
        self.reusable = False
        if self.transport is not None:
            self.transport.abort()

    # -- asyncio.Protocol ----------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, hence a cast rather than an isinstance check.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._waiter is None:
            # Bytes nobody asked for: the connection's framing can no longer be trusted.
            self.abort()
            return
        self._received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(IntegrationFailure("backend switched protocols"))
        except httptools.HttpParserError as error:
            self._fail(self._failure or IntegrationFailure(f"malformed response from backend: {error}"))
        if self._settled:
            self._deliver()

    def _deliver(self) -> None:
        """Hand a settled response over, once the bytes read are parsed (`LaneConnection`)."""

    def eof_received(self) -> bool | None:
        return None  # close the transport; connection_lost decides what the EOF meant

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.reusable = False
        if self._waiter is None:
            return
        if self._headers_done and self._reads_until_eof():
            # No content-length, not chunked: the body ended with the connection (RFC 9112 §6.3 item 8).
            self._finish(keep_alive=False)
            if self._settled:
                self._deliver()
            return
        reason = f": {exc}" if exc else ""
        if not self._received:
            self._fail(IntegrationFailure(f"backend closed the connection without answering{reason}"))
        else:
            self._fail(IntegrationFailure(f"backend closed the connection mid-response{reason}"))

    def _reads_until_eof(self) -> bool:
        if self._head or self.status in (204, 304):
            return False
        return not any(name in ("content-length", "transfer-encoding") for name, _ in self._headers)

    # -- httptools callbacks -------------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._waiter is None:
            # A second response in the bytes after ours: reusing the connection would hand it to the next
            # request (response desync), so it is closed once this exchange ends.
            self.abort()

    def on_header(self, name: bytes, value: bytes) -> None:
        # The name lower-cased (the cache read inline: once per header); latin-1 keeps every byte as sent.
        self._header_list.append((HEADER_NAMES.get(name) or header_name(name), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self._headers_done = True
        headers = self._headers = self._header_list
        self._header_list = []  # trailers of a chunked body land here, and are not passed on
        if self.status < 200:
            return
        # httptools refuses a second Content-Length, and any character but a digit in one.
        length = dict(headers).get("content-length")
        if length is not None and int(length) > MAX_RESPONSE_BODY:
            self._failure = IntegrationFailure(f"backend response body over {MAX_RESPONSE_BODY} bytes")
            raise _ResponseTooLarge
        if self._head:
            self._parser_spent = True
            self._finish(keep_alive=self._head_keep_alive())

    def _head_keep_alive(self) -> bool:
        connection = ",".join(value for name, value in self._headers if name == "connection").lower()
        if self.parser.get_http_version() == "1.0":
            return "keep-alive" in connection
        return "close" not in connection

    def on_body(self, body: bytes) -> None:
        if self._waiter is None:
            return
        self._body_size += len(body)
        if self._body_size > MAX_RESPONSE_BODY:
            self._failure = IntegrationFailure(f"backend response body over {MAX_RESPONSE_BODY} bytes")
            raise _ResponseTooLarge
        self._body.append(body)

    def on_message_complete(self) -> None:
        if 100 <= self.status < 200:
            # An interim response (103 Early Hints, a stray 100 Continue): the real one follows.
            self._reset_message()
            return
        if self._waiter is None:
            return  # the HEAD response already finished; anything else would be unsolicited
        self._finish(keep_alive=self.parser.should_keep_alive())


LaneAnswered = Callable[[Any, "LaneConnection | None", BaseException | None], None]
"""Called once per `send_lane` request, with the caller's context: then the connection holding the complete
response, or None and why there is none (IntegrationFailure, IntegrationTimeout)."""

LaneExchange = tuple[str, BackendUrl, bytes, float, float, LaneAnswered, Any]
"""One `send_lane` request: (method, target, data, deadline, timeout, answered, the caller's context). A plain
tuple: one is made per request."""

# What a lane connection's `_waiter` holds while a request is out: the base class only tests it against None.
_LANE_IN_FLIGHT = cast("asyncio.Future[GatewayResponse]", object())


class LaneConnection(_BackendConnection):
    """A backend connection for the proxy lane (`send_lane`): the response is kept as the bytes received and
    handed to a callback, not to a future. Framing, timeouts, failures and the response size limit are the
    base class's; lane connections have their own pool, so one never carries a `send_to` request.

    The callback runs once the bytes read are parsed, not from inside the parser: it may send the next
    request on another connection at once, and bytes after this response must still meet a connection with
    no request out (`on_message_begin`)."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, origin: str, deadlines: _Deadlines, client: HttpProxyClient
    ) -> None:
        super().__init__(loop, origin, deadlines)
        self._client = client
        self.pool_key: _Origin = ("", "", 0)
        self._exchange: LaneExchange | None = None
        """The request out, and where its answer goes; what a stale connection's retry sends again."""
        self.reused = False
        self._raw_list: list[bytes] = []
        """What `on_header` adds to: the message's headers, then a chunked body's trailers."""
        self.raw_headers: list[bytes] = []
        """The response's header names and values as received: name, value, name, value, ..."""
        self.names: tuple[bytes, ...] = ()
        """The names lower-cased, as bytes."""
        self.body = b""

    def send(self, exchange: LaneExchange, reused: bool) -> None:
        """Write `exchange`'s request; its `answered` gets the outcome. Only on an open connection with no
        request out: `send_lane` takes it from the pool or opens it."""
        self._exchange = exchange
        self.reused = reused
        self._received = False
        self._failure = None
        self._raw_list = []
        self._headers_done = False
        self._body = []
        self._body_size = 0
        self._waiter = _LANE_IN_FLIGHT
        self._timeout_s = exchange[4]
        self._serial = serial = next(_serials)
        self._deadlines.add(exchange[3], serial, self)
        self.transport.write(exchange[2])  # type: ignore[union-attr]  # open: see above

    def _finish(self, keep_alive: bool) -> None:
        self._waiter = None
        self.reusable = keep_alive and not self.closed
        self.body = b"".join(self._body)
        self._settled = True  # delivered by `data_received` or `connection_lost`, once parsing is done

    def _deliver(self) -> None:
        self._settled = False
        exchange, self._exchange = self._exchange, None
        try:
            exchange[5](exchange[6], self, None)  # type: ignore[index]  # settled: a request was out
        finally:
            self._client.release_lane(self)

    def _fail(self, failure: IntegrationFailure | IntegrationTimeout) -> None:
        self._waiter = None
        self.abort()
        exchange, self._exchange = self._exchange, None
        if exchange is None:
            return
        if (
            self.reused
            and not self._received
            and exchange[0] in _IDEMPOTENT
            and isinstance(failure, IntegrationFailure)
        ):
            # The backend closed a pooled connection as it was reused: once more on a fresh one.
            self._client._lane_connect(exchange)
            return
        exchange[5](exchange[6], None, failure)

    def _reads_until_eof(self) -> bool:
        if self.status in (204, 304):
            return False
        return b"content-length" not in self.names and b"transfer-encoding" not in self.names

    def _reset_message(self) -> None:
        super()._reset_message()
        self._raw_list = []

    def on_header(self, name: bytes, value: bytes) -> None:
        self._raw_list += (name, value)

    def on_headers_complete(self) -> None:
        self.status = status = self.parser.get_status_code()
        self._headers_done = True
        headers = self.raw_headers = self._raw_list
        self._raw_list = []  # trailers of a chunked body land here, and are not passed on
        raw_names = tuple(headers[::2])
        self.names, length_at = _NAME_SHAPES.get(raw_names) or _name_shape(raw_names)
        # httptools refuses a second Content-Length, and any character but a digit in one.
        if status >= 200 and length_at >= 0 and int(headers[2 * length_at + 1]) > MAX_RESPONSE_BODY:
            self._failure = IntegrationFailure(f"backend response body over {MAX_RESPONSE_BODY} bytes")
            raise _ResponseTooLarge


_NAME_SHAPES: dict[tuple[bytes, ...], tuple[tuple[bytes, ...], int]] = {}
"""A response's header names as sent → (the names lower-cased, where `content-length` is or -1). A backend
answers with the same names in the same order again and again: one lookup instead of a pass over them."""
_MAX_NAME_SHAPES = 1024


def _name_shape(raw_names: tuple[bytes, ...]) -> tuple[tuple[bytes, ...], int]:
    names = raw_header_names(raw_names)
    shape = (names, names.index(b"content-length") if b"content-length" in names else -1)
    if len(_NAME_SHAPES) < _MAX_NAME_SHAPES:
        _NAME_SHAPES[raw_names] = shape
    return shape


class HttpProxyClient:
    """Sends HTTP_PROXY requests to backends over pooled keep-alive connections.

    `idle_timeout_s` retires connections idle longer than that: below the 5 s keep-alive timeout of Node and
    uvicorn, so the gateway rarely reuses a connection the backend is closing. `max_idle_per_origin` caps
    how many idle connections one origin keeps; busy origins open as many connections as requests in flight.
    `ssl_context` defaults to the system's trusted CAs (HTTP APIs require a publicly trusted certificate).
    """

    def __init__(
        self,
        *,
        max_idle_per_origin: int = 256,
        idle_timeout_s: float = 4.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.max_idle_per_origin = max_idle_per_origin
        self.idle_timeout_s = idle_timeout_s
        self._ssl_context = ssl_context
        self._idle: dict[_Origin, deque[_BackendConnection]] = {}
        self._lane_idle: dict[_Origin, deque[_BackendConnection]] = {}
        """The proxy lane's connections (`send_lane`), pooled apart from `send_to`'s."""
        self._connecting: set[asyncio.Task[_BackendConnection]] = set()
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._deadlines: _Deadlines | None = None

    async def send(
        self, method: str, url: str, headers: list[tuple[str, str]], body: bytes, timeout_s: float
    ) -> GatewayResponse:
        """One request/response exchange; raises IntegrationFailure or IntegrationTimeout.

        `headers` are sent as given (build them with `backend_request_headers`), a `host` added from the URL
        when absent, and `content-length` written for the body. The response comes back as the gateway
        passes it on: status and body untouched, headers filtered by `backend_response_headers`.
        """
        try:
            target = parse_backend_url(url)
        except BadBackendUrl as error:
            raise IntegrationFailure(str(error)) from None
        return await self.send_to(method, target, headers, body, timeout_s)

    async def send_to(
        self, method: str, target: BackendUrl, headers: list[tuple[str, str]], body: bytes, timeout_s: float
    ) -> GatewayResponse:
        """`send` to a URL already taken apart with `parse_backend_url` (as the pipeline has, for the headers)."""
        data = encode_request(method, target, headers, body)
        deadline = self._running_loop().time() + timeout_s
        origin = target.origin
        head = method == "HEAD"
        connection = self._take_idle(origin, self._idle)
        reused = connection is not None
        if connection is None:
            connection = await self._connect(target, deadline, timeout_s)
        try:
            response = await connection.request(data, head=head, deadline=deadline, timeout_s=timeout_s)
        except IntegrationFailure:
            if not (reused and not connection.received_any and method in _IDEMPOTENT):
                raise
            # The backend closed a pooled connection as it was reused: once more on a fresh one.
            connection = await self._connect(target, deadline, timeout_s)
            try:
                response = await connection.request(data, head=head, deadline=deadline, timeout_s=timeout_s)
            except BaseException:
                connection.abort()
                raise
        except BaseException:
            # Timed out or cancelled mid-exchange: the response may still arrive, so the connection is done.
            connection.abort()
            raise
        self._release(origin, connection, self._idle)
        response.headers = backend_response_headers(response.headers)
        return response

    def send_lane(
        self, method: str, target: BackendUrl, data: bytes, timeout_s: float, answered: LaneAnswered, context: Any
    ) -> None:
        """`send_to` for the proxy lane: `data` is the whole request, already encoded (not HEAD); it goes out now
        on an idle lane connection (else once a new one is open), and `answered(context, ...)` gets the
        connection holding the response as bytes, unfiltered, or the failure `send_to` would raise.
        Timeouts, failures and the retry of a stale pooled connection follow `send_to`'s rules."""
        exchange = (method, target, data, self._running_loop().time() + timeout_s, timeout_s, answered, context)
        connection = self._take_idle(target.origin, self._lane_idle)
        if connection is None:
            self._lane_connect(exchange)
        else:
            connection.send(exchange, True)  # type: ignore[attr-defined]  # the lane's pool

    def release_lane(self, connection: LaneConnection) -> None:
        """Back to the lane's pool after a complete response (closed instead when it cannot be reused)."""
        self._release(connection.pool_key, connection, self._lane_idle)

    def _lane_connect(self, exchange: LaneExchange) -> None:
        target = exchange[1]
        answered, context = exchange[5], exchange[6]

        def connected(task: asyncio.Task[_BackendConnection]) -> None:
            self._connecting.discard(task)
            if task.cancelled():
                failure = IntegrationFailure(f"connecting to {target.scheme}://{target.authority} was cancelled")
                answered(context, None, failure)
                return
            error = task.exception()
            if error is not None:
                answered(context, None, error)
                return
            connection = cast(LaneConnection, task.result())
            connection.pool_key = target.origin
            connection.send(exchange, False)

        task = self._running_loop().create_task(self._connect(target, exchange[3], exchange[4], lane=True))
        self._connecting.add(task)  # the loop keeps only a weak reference to a task
        task.add_done_callback(connected)

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        """The running loop; the deadlines' timer lives on it, so a new loop (tests run one after another)
        gets new deadlines."""
        loop = running_loop()
        if loop is not self._loop:
            self._loop = loop
            if self._deadlines is not None:
                self._deadlines.close()
            self._deadlines = _Deadlines(loop)
        return loop

    def _take_idle(self, origin: _Origin, pool: dict[_Origin, deque[_BackendConnection]]) -> _BackendConnection | None:
        idle = pool.get(origin)
        if not idle:
            return None
        now = monotonic()
        while idle:
            connection = idle.pop()
            if not connection.closed and now - connection.idle_since < self.idle_timeout_s:
                return connection
            connection.abort()
        return None

    def _release(
        self, origin: _Origin, connection: _BackendConnection, pool: dict[_Origin, deque[_BackendConnection]]
    ) -> None:
        if not connection.reusable or self._closed:  # (a connection that closed is not reusable)
            connection.abort()
            return
        idle = pool.get(origin)
        if idle is None:
            idle = pool[origin] = deque()
        if len(idle) >= self.max_idle_per_origin:
            # Keep the most recently used ones; the oldest idle connection is the likeliest to go stale.
            idle.popleft().abort()
        connection.idle_since = monotonic()
        idle.append(connection)

    async def _connect(
        self, target: BackendUrl, deadline: float, timeout_s: float, *, lane: bool = False
    ) -> _BackendConnection:
        loop = asyncio.get_running_loop()
        deadlines = self._deadlines
        assert deadlines is not None  # `send` made it
        origin = f"{target.scheme}://{target.authority}"
        tls: ssl.SSLContext | None = None
        if target.scheme == "https":
            if self._ssl_context is None:
                self._ssl_context = ssl.create_default_context()
            tls = self._ssl_context
        try:
            async with asyncio.timeout_at(deadline):
                _, connection = await loop.create_connection(
                    (lambda: LaneConnection(loop, origin, deadlines, self))
                    if lane
                    else (lambda: _BackendConnection(loop, origin, deadlines)),
                    target.host,
                    target.port,
                    ssl=tls,
                    server_hostname=target.host if tls else None,
                )
        except (OSError, ValueError) as error:
            if isinstance(error, TimeoutError) and loop.time() >= deadline:
                raise IntegrationTimeout(f"no response from {origin} within {timeout_s:g}s") from None
            # Refused, unreachable, DNS, TLS handshake or certificate (ssl errors are OSErrors, a bad IDNA host
            # name a ValueError): AWS answers 500 (spec §4.6).
            raise IntegrationFailure(
                f"cannot connect to {target.scheme}://{target.authority}: {error}"
            ) from None
        return connection

    async def close(self) -> None:
        """Close every idle connection; connections in use close when their exchange ends."""
        self._closed = True
        for pool in (self._idle, self._lane_idle):
            for idle in pool.values():
                while idle:
                    idle.pop().abort()
            pool.clear()


def encode_request(method: str, target: BackendUrl, headers: list[tuple[str, str]], body: bytes) -> bytes:
    """The request's bytes as the client sends them (`send_to`; the proxy lane's mapped requests too). Raises
    IntegrationFailure for a line break in a header."""
    # `backend_request_headers` puts `host` first.
    if not (headers and headers[0][0] == "host") and not any(name == "host" for name, _ in headers):
        headers = [("host", target.authority), *headers]
    head = f"{method} {target.target} HTTP/1.1\r\n" + "".join(map(HEADER_LINE, headers))
    # A CR or LF inside a name or value (a mapped parameter, a stage variable) would split the request.
    lines = len(headers) + 1
    if head.count("\n") != lines or head.count("\r") != lines:
        raise IntegrationFailure("request header contains a line break")
    if body or method in _BODY_METHODS:
        head += f"content-length: {len(body)}\r\n"
    head += "\r\n"
    try:
        return head.encode("latin-1") + body
    except UnicodeEncodeError:
        return head.encode("utf-8") + body
