"""The floor of the proxy row's stack: the least an HTTP proxy on uvloop + httptools in Python can do.

    python bench/floor_proxy.py --port 8000 --backend-port 8090

One keep-alive backend connection per client connection, requests forwarded one at a time in order (no
pipelining), headers passed through less the hop-by-hop ones, the answer sent back with its status,
headers and body: no routing, no ids, no limits, no error handling beyond closing. It is what stageway's
listener and HTTP client are built on, so `stageway / floor` in `make bench` says how much of the gap to
nginx is the gateway's own work per request and how much is the stack's (Python, uvloop, httptools, the
kernel). Not a server to use: a backend that fails or a client that pipelines gets a closed connection.
"""

from __future__ import annotations

import argparse
import asyncio
from http import HTTPStatus

import httptools
import uvloop

_HOP_BY_HOP = frozenset(
    {b"connection", b"keep-alive", b"transfer-encoding", b"content-length", b"host", b"te", b"upgrade"}
)
_REASONS = {status.value: status.phrase for status in HTTPStatus}


class _Messages(asyncio.Protocol):
    """What both sides collect of a message as httptools parses it: the end-to-end headers, as lines to
    send on, and the body."""

    def __init__(self) -> None:
        self.headers: list[bytes] = []
        self.body: list[bytes] = []

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() not in _HOP_BY_HOP:
            self.headers += (name, b": ", value, b"\r\n")

    def on_body(self, body: bytes) -> None:
        self.body.append(body)


class _Backend(_Messages):
    """The client connection's own connection to the backend; answers go straight back to the client."""

    def __init__(self, client: _Client) -> None:
        super().__init__()
        self.client = client
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.client.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.client.close()

    def on_message_complete(self) -> None:
        status = self.parser.get_status_code()
        body = b"".join(self.body)
        head = f"HTTP/1.1 {status} {_REASONS.get(status, '')}\r\ncontent-length: {len(body)}\r\n".encode()
        self.client.send(head + b"".join(self.headers) + b"\r\n" + body)
        self.headers = []
        self.body = []


class _Client(_Messages):
    backend_class: type[_Backend] = _Backend

    def __init__(self, backend_port: int) -> None:
        super().__init__()
        self.backend_port = backend_port
        self.transport: asyncio.Transport | None = None
        self.backend: _Backend | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.waiting: bytes | None = None  # a request read before the backend connection was up
        self.keep_alive = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, backend = await loop.create_connection(lambda: self.backend_class(self), "127.0.0.1", self.backend_port)
        except OSError:
            self.close()
            return
        self.backend = backend
        if self.waiting is not None:
            self._forward(self.waiting)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.backend is not None and self.backend.transport is not None:
            self.backend.transport.close()

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_message_complete(self) -> None:
        request = self.backend_request()
        self.url, self.headers, self.body = b"", [], []
        self.keep_alive = self.parser.should_keep_alive()
        if request is None:
            self.close()
        elif self.backend is None:
            self.waiting = request
        else:
            self._forward(request)

    def backend_request(self) -> bytes | None:
        """What to send the backend for the request just read (None: close the connection instead)."""
        body = b"".join(self.body)
        head = b"%s %s HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: %d\r\n" % (
            self.parser.get_method(),
            self.url,
            len(body),
        )
        return head + b"".join(self.headers) + b"\r\n" + body

    def _forward(self, request: bytes) -> None:
        self.waiting = None
        if self.backend is not None and self.backend.transport is not None:
            self.backend.transport.write(request)

    def send(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)
            if not self.keep_alive:  # `Connection: close` (or HTTP/1.0): the client reads to the end
                self.transport.close()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def serve(host: str, port: int, backend_port: int, client_class: type[_Client] = _Client) -> None:
    server = await asyncio.get_running_loop().create_server(
        lambda: client_class(backend_port), host, port, backlog=1024
    )
    await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--backend-port", type=int, required=True)
    args = parser.parse_args()
    uvloop.run(serve(args.host, args.port, args.backend_port))


if __name__ == "__main__":
    main()
