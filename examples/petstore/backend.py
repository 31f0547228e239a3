"""The pet store's HTTP backend: what the example API's HTTP_PROXY routes call.

    python examples/petstore/backend.py --port 8090

Routes (JSON answers):
    GET  /pets            the pets, `?type=dog` filters
    GET  /pets/{id}       one pet, or 404
    POST /pets            add a pet from a JSON body `{"type": ..., "price": ...}`; 201 with the new pet
    ANY  /echo[/...]      the request as the backend saw it: method, path, query, headers, body, connection
    GET  /slow?ms=N       answer after N milliseconds

A raw asyncio protocol over httptools (the gateway's own parser) with keep-alive, no per-request logging and
uvloop when installed, so a benchmark through the gateway measures the gateway and not this backend.
Importable: `BackendProtocol`, `serve(host, port)` and `Response` are used by the tests' backend.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, cast
from urllib.parse import parse_qs

import httptools
import orjson


@dataclass(slots=True)
class Request:
    method: str
    path: str
    """Path as sent (still percent-encoded), no query."""
    query: str
    headers: list[tuple[str, str]]
    """Names as sent (case kept), order and repeats kept."""
    body: bytes
    connection_id: int
    keep_alive: bool = True


@dataclass(slots=True)
class Response:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    chunks: list[bytes] | None = None
    """When set, the body is sent with `transfer-encoding: chunked`, one chunk per item."""
    close: bool = False
    """Close the connection after this response."""

    def encode(self, *, head: bool, keep_alive: bool) -> bytes:
        reason = _REASONS.get(self.status, "Unknown")
        lines = [f"HTTP/1.1 {self.status} {reason}"]
        lines.extend(f"{name}: {value}" for name, value in self.headers)
        if self.chunks is not None:
            lines.append("transfer-encoding: chunked")
        elif self.status >= 200 and self.status not in (204, 304):
            lines.append(f"content-length: {len(self.body)}")
        if not keep_alive or self.close:
            lines.append("connection: close")
        head_bytes = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if head:
            return head_bytes
        if self.chunks is not None:
            framed = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in self.chunks if chunk)
            return head_bytes + framed + b"0\r\n\r\n"
        return head_bytes + self.body


_REASONS = {status.value: status.phrase for status in HTTPStatus}

Handler = Callable[[Request], "Response | Awaitable[Response]"]


def json_response(payload: Any, status: int = 200, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, [("content-type", "application/json"), *(headers or [])], orjson.dumps(payload))


class PetStore:
    """The in-memory pets and the example's routes."""

    def __init__(self) -> None:
        self.pets: dict[int, dict[str, Any]] = {
            1: {"id": 1, "type": "dog", "price": 249.99},
            2: {"id": 2, "type": "cat", "price": 124.99},
            3: {"id": 3, "type": "fish", "price": 0.99},
        }
        self._ids = itertools.count(4)

    def handle(self, request: Request) -> Response | Awaitable[Response]:
        path = request.path
        if path == "/pets":
            if request.method == "GET" or request.method == "HEAD":
                return self.list_pets(request)
            if request.method == "POST":
                return self.add_pet(request)
            return json_response({"message": "Method Not Allowed"}, 405)
        if path.startswith("/pets/") and request.method in ("GET", "HEAD"):
            return self.get_pet(path[len("/pets/") :])
        if path == "/echo" or path.startswith("/echo/"):
            return echo(request)
        if path == "/slow":
            return slow(request)
        return json_response({"message": "Not Found"}, 404)

    def list_pets(self, request: Request) -> Response:
        # parse_qs costs more than the rest of this answer: only when a `type` filter can be there.
        wanted = parse_qs(request.query).get("type") if "type" in request.query else None
        pets = [pet for pet in self.pets.values() if not wanted or pet["type"] in wanted]
        return json_response(pets)

    def get_pet(self, pet_id: str) -> Response:
        pet = self.pets.get(int(pet_id)) if pet_id.isdigit() else None
        if pet is None:
            return json_response({"message": f"pet {pet_id} not found"}, 404)
        return json_response(pet)

    def add_pet(self, request: Request) -> Response:
        try:
            data = orjson.loads(request.body)
        except orjson.JSONDecodeError:
            return json_response({"message": "body is not JSON"}, 400)
        if not isinstance(data, dict) or not isinstance(data.get("type"), str):
            return json_response({"message": 'expected {"type": string, "price": number}'}, 400)
        pet = {"id": next(self._ids), "type": data["type"], "price": data.get("price", 0)}
        self.pets[pet["id"]] = pet
        return json_response(pet, 201, [("location", f"/pets/{pet['id']}")])


def echo(request: Request) -> Response:
    joined: dict[str, str] = {}
    for name, value in request.headers:
        key = name.lower()
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    return json_response(
        {
            "method": request.method,
            "path": request.path,
            "query": request.query,
            "headers": joined,
            "rawHeaders": request.headers,
            "body": request.body.decode("utf-8", "replace"),
            "bodyBase64": base64.b64encode(request.body).decode(),
            "connection": request.connection_id,
        }
    )


async def slow(request: Request) -> Response:
    values = parse_qs(request.query).get("ms", ["0"])
    milliseconds = int(values[0]) if values[0].isdigit() else 0
    await asyncio.sleep(milliseconds / 1000)
    return json_response({"slept_ms": milliseconds})


class BackendProtocol(asyncio.Protocol):
    """HTTP/1.1 server side of one connection: parse requests, answer them in order."""

    _connection_ids = itertools.count(1)

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connection_id = next(self._connection_ids)
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.pending: deque[Request] = deque()
        self.busy = False
        self._url = b""
        self._headers: list[tuple[str, str]] = []
        self._body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, hence a cast rather than an isinstance check.
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.write(
                    b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                )
                self.transport.close()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = []
        self._body = []

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        target = self._url.decode("latin-1")
        path, _, query = target.partition("?")
        request = Request(
            self.parser.get_method().decode("ascii"),
            path,
            query,
            self._headers,
            b"".join(self._body),
            self.connection_id,
            self.parser.should_keep_alive(),
        )
        self.pending.append(request)
        if not self.busy:
            self._answer_pending()

    def _answer_pending(self) -> None:
        while self.pending and self.transport is not None:
            request = self.pending.popleft()
            result = self.handler(request)
            if isinstance(result, Response):
                self._write(request, result)
            else:
                self.busy = True
                asyncio.ensure_future(self._answer_later(request, result))
                return

    async def _answer_later(self, request: Request, result: Awaitable[Response]) -> None:
        try:
            response = await result
        except Exception as error:  # noqa: BLE001 - a demo backend answers 500 rather than hang the client
            response = json_response({"message": f"backend error: {error}"}, 500)
        self.busy = False
        if self.transport is not None:
            self._write(request, response)
            self._answer_pending()

    def _write(self, request: Request, response: Response) -> None:
        assert self.transport is not None
        keep_alive = request.keep_alive and not response.close
        self.transport.write(response.encode(head=request.method == "HEAD", keep_alive=keep_alive))
        if not keep_alive:
            self.transport.close()


async def serve(
    host: str = "127.0.0.1", port: int = 0, handler: Handler | None = None, *, backlog: int = 1024
) -> asyncio.Server:
    """Start the backend on `host:port` (0 picks a free port); the pet store's routes unless `handler`."""
    handle = handler or PetStore().handle
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: BackendProtocol(handle), host, port, backlog=backlog)


def main() -> None:
    parser = argparse.ArgumentParser(description="The pet store example's HTTP backend.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    args = parser.parse_args()

    async def run() -> None:
        server = await serve(args.host, args.port)
        port = server.sockets[0].getsockname()[1]
        print(f"pet store backend listening on http://{args.host}:{port}", flush=True)
        async with server:
            await server.serve_forever()

    try:
        import uvloop

        runner: Callable[..., None] = uvloop.run
    except ImportError:
        runner = asyncio.run
    try:
        runner(run())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
