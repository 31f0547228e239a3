"""A real HTTP backend for tests: the pet store example plus misbehaving routes, on a free loopback port.

    with start_backend() as backend:
        backend.url                 # "http://127.0.0.1:<port>"
        backend.connections_opened  # TCP connections accepted so far

It runs its own event loop in a daemon thread, so synchronous tests (boto3, urllib) and tests that run
their own loop can both call it. Routes besides the pet store's (`/pets`, `/echo/...`, `/slow?ms=N`):

    ANY /test/raw                   the request body back, byte for byte, with the request's content-type
    GET /test/chunked?n=N           N chunks `chunk-<i>;` with transfer-encoding: chunked
    GET /test/cookies               two set-cookie headers and a repeated x-multi header
    GET /test/gzip                  a gzip body with content-encoding: gzip (must pass undecoded)
    GET /test/redirect              302 to /pets (must not be followed)
    GET /test/status/<code>         that status (204 and 304 without a body)
    GET /test/big?bytes=N           N bytes of `x`
    GET /test/hop-by-hop            hop-by-hop, date and server headers among ordinary ones
    GET /test/no-length             HTTP/1.1 body delimited by closing the connection
    GET /test/close-mid-response    promises 100 bytes, sends 10, closes
    GET /test/close-before-response closes without answering
    GET /test/garbage               answers bytes that are not HTTP
    GET /test/interim               a 103 Early Hints, then the answer
    GET /test/huge-length           announces a body over the 10 MB quota
    GET /test/connection-tokens     a `connection` header naming another header to drop
    GET /test/cors-headers          CORS headers of the backend's own (a gateway with CORS replaces them)
    GET /test/extra-response        answers `ok`, then a second, unrequested response on the same connection
    ANY /test/drop-reused           answers on a fresh connection, closes unanswered on a reused one
                                    (a backend closing an idle keep-alive connection as it is reused)

`start_backend(ssl_context=...)` serves HTTPS instead (`url` then starts with `https://`).
"""

from __future__ import annotations

import asyncio
import gzip
import importlib.util
import ssl
import sys
import threading
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Self
from urllib.parse import parse_qs


def _load_example_backend() -> ModuleType:
    name = "stageway_examples_petstore_backend"
    if name in sys.modules:
        return sys.modules[name]
    path = Path(__file__).resolve().parents[2] / "examples" / "petstore" / "backend.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


if TYPE_CHECKING:
    from examples.petstore import backend as petstore
    from examples.petstore.backend import Request, Response
else:
    petstore = _load_example_backend()
    Request, Response = petstore.Request, petstore.Response


@dataclass(slots=True)
class RawResponse(Response):
    """Bytes written as they are (then the connection closed, unless `close=False`): malformed answers."""

    raw: bytes = b""

    def encode(self, *, head: bool, keep_alive: bool) -> bytes:
        return self.raw


GZIP_BODY = gzip.compress(b'{"compressed": true}', mtime=0)


_ANSWERED_CONNECTIONS: set[int] = set()


def misbehaving_routes(request: Request) -> Response | Awaitable[Response] | None:
    path: str = request.path
    if path == "/test/drop-reused":
        if request.connection_id in _ANSWERED_CONNECTIONS:
            return RawResponse(close=True, raw=b"")
        _ANSWERED_CONNECTIONS.add(request.connection_id)
        return Response(200, [("content-type", "text/plain")], b"fresh connection")
    query = parse_qs(request.query)
    if path == "/test/raw":
        content_type = next((v for k, v in request.headers if k.lower() == "content-type"), None)
        headers = [("content-type", content_type)] if content_type else []
        return Response(200, headers, request.body)
    if path == "/test/chunked":
        count = int(query.get("n", ["3"])[0])
        return Response(
            200, [("content-type", "text/plain")], chunks=[b"chunk-%d;" % i for i in range(count)]
        )
    if path == "/test/cookies":
        return Response(
            200,
            [
                ("Set-Cookie", "a=1; Path=/"),
                ("Set-Cookie", "b=2; HttpOnly"),
                ("X-Multi", "one"),
                ("X-Multi", "two"),
                ("content-type", "text/plain"),
            ],
            b"cookies",
        )
    if path == "/test/gzip":
        return Response(200, [("content-type", "application/json"), ("content-encoding", "gzip")], GZIP_BODY)
    if path == "/test/redirect":
        return Response(302, [("location", "/pets")], b"")
    if path.startswith("/test/status/"):
        status = int(path.rsplit("/", 1)[1])
        body = b"" if status in (204, 304) else b"status %d" % status
        return Response(status, [("content-type", "text/plain")], body)
    if path == "/test/big":
        return Response(200, [("content-type", "application/octet-stream")], b"x" * int(query["bytes"][0]))
    if path == "/test/hop-by-hop":
        return Response(
            200,
            [
                ("Connection", "X-Private"),
                ("X-Private", "secret"),
                ("Keep-Alive", "timeout=5"),
                ("Date", "Mon, 01 Jan 2001 00:00:00 GMT"),
                ("Server", "petstore"),
                ("Upgrade", "h2c"),
                ("X-Kept", "yes"),
            ],
            b"ok",
        )
    if path == "/test/no-length":
        return RawResponse(close=True, raw=b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil-eof")
    if path == "/test/close-mid-response":
        return RawResponse(close=True, raw=b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789")
    if path == "/test/close-before-response":
        return RawResponse(close=True, raw=b"")
    if path == "/test/extra-response":
        return RawResponse(
            close=False,
            raw=b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
            b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nex",  # unfinished: would eat the next answer
        )
    if path == "/test/interim":
        return RawResponse(
            close=False,
            raw=b"HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\n"
            b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\nfinal",
        )
    if path == "/test/huge-length":
        return RawResponse(close=True, raw=b"HTTP/1.1 200 OK\r\ncontent-length: 20971520\r\n\r\nxx")
    if path == "/test/connection-tokens":
        return Response(
            200, [("Connection", "keep-alive, X-Hop"), ("X-Hop", "dropped"), ("X-Kept", "kept")], b"tokens"
        )
    if path == "/test/cors-headers":
        return Response(
            200,
            [("Access-Control-Allow-Origin", "*"), ("Access-Control-Expose-Headers", "x-backend"), ("X-Kept", "kept")],
            b"cors",
        )
    if path == "/test/garbage":
        return RawResponse(close=True, raw=b"this is not HTTP at all\r\n\r\n")
    return None


class BackendServer:
    """The test backend on 127.0.0.1:<free port>, served from a daemon thread."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.ssl_context = ssl_context
        self.connections_opened = 0
        self.port = 0
        self._store = petstore.PetStore()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._protocols: list[asyncio.Protocol] = []

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def handle(self, request: Request) -> Response | Awaitable[Response]:
        answer = misbehaving_routes(request)
        return answer if answer is not None else self._store.handle(request)

    def _protocol(self) -> asyncio.Protocol:
        self.connections_opened += 1
        protocol: asyncio.Protocol = petstore.BackendProtocol(self.handle)
        self._protocols.append(protocol)
        return protocol

    def start(self) -> BackendServer:
        self._thread = threading.Thread(target=self._run, name="test-backend", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise RuntimeError("test backend failed to start") from self._error
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._server = loop.run_until_complete(
                loop.create_server(self._protocol, "127.0.0.1", 0, ssl=self.ssl_context)
            )
            self.port = self._server.sockets[0].getsockname()[1]
        except BaseException as error:  # noqa: BLE001 - reported to the starting thread
            self._error = error
            self._ready.set()
            return
        self._ready.set()
        loop.run_forever()
        self._server.close()
        for protocol in self._protocols:
            transport = getattr(protocol, "transport", None)
            if transport is not None:
                transport.abort()
        loop.run_until_complete(asyncio.sleep(0))
        loop.close()

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_backend(*, ssl_context: ssl.SSLContext | None = None) -> BackendServer:
    """Start a backend on a free port; use as a context manager or call `.stop()`."""
    return BackendServer(ssl_context).start()
