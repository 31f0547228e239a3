"""The admin listener's ASGI application: AWS's wire APIs for boto3 and the AWS CLI (`endpoint_url`).

A request is read into an `AdminRequest`, authenticated (SigV4, when an authenticator is given), offered to
the extra handlers in order (Lambda's API, OpenAPI import/export: each answers None for what it doesn't own),
then to apigatewayv2. What nobody claims is an unknown operation. Errors are rendered in AWS's wire format
(spec §1.3); a bug costs one request a 500, never a traceback on the wire.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any
from urllib.parse import parse_qs, unquote

from stageway.control.apigatewayv2.router import ApiGatewayV2
from stageway.control.wire import AdminRequest, AdminResponse, AwsError
from stageway.store.base import Store

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ExtraHandler = Callable[[AdminRequest], Awaitable[AdminResponse | None]]

log = logging.getLogger("stageway.control")

MAX_BODY_BYTES = 64 * 1024 * 1024
"""Far above any apigatewayv2 request; Lambda's CreateFunction carries a zip of up to 50 MB (base64)."""


class UnknownOperationException(AwsError):
    """What AWS's front door answers for a path no operation has (the error is not in the service models)."""

    status, error_type = 404, "UnknownOperationException"


class InternalFailure(AwsError):
    """AWS's common error for a failure on the service's side."""

    status, error_type = 500, "InternalFailure"


class AdminApp:
    def __init__(
        self,
        store: Store,
        *,
        region: str,
        account_id: str,
        data_plane_port: int,
        extra_handlers: Sequence[ExtraHandler] = (),
        authenticate: Callable[[AdminRequest], None] | None = None,
    ) -> None:
        self.store = store
        self.extra_handlers = list(extra_handlers)
        self.authenticate = authenticate
        self.apigatewayv2 = ApiGatewayV2(store, region=region, account_id=account_id, data_plane_port=data_plane_port)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = await _read_body(receive)
        if body is None:
            response = AwsError("Request body too large").to_response()
        else:
            response = await self.respond(_admin_request(scope, body))
        await _send(send, response)

    async def respond(self, request: AdminRequest) -> AdminResponse:
        try:
            if self.authenticate is not None:
                self.authenticate(request)
            for handler in self.extra_handlers:
                answer = await handler(request)
                if answer is not None:
                    return answer
            answer = await self.apigatewayv2.handle(request)
            if answer is not None:
                return answer
            raise UnknownOperationException(f"No operation matches {request.method} {request.path}")
        except AwsError as error:
            return error.to_response()
        except Exception:  # a bug costs this request, never the listener
            log.exception("admin request %s %s failed", request.method, request.path)
            return InternalFailure("An internal error occurred; see the stageway log").to_response()


def _admin_request(scope: Scope, body: bytes) -> AdminRequest:
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    raw_path = scope.get("raw_path")
    raw = raw_path.decode("latin-1") if raw_path else scope["path"]
    raw_query = scope.get("query_string", b"").decode("latin-1")
    return AdminRequest(
        method=scope["method"],
        path=unquote(raw),
        query=parse_qs(raw_query, keep_blank_values=True),
        headers=headers,
        body=body,
        raw_path=raw,
        raw_query=raw_query,
    )


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _send(send: Send, response: AdminResponse) -> None:
    headers = [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in response.headers
        if name.lower() != "content-length"
    ]
    if not any(name == b"x-amzn-requestid" for name, _ in headers):
        headers.append((b"x-amzn-requestid", str(uuid.uuid4()).encode()))
    headers.append((b"content-length", str(len(response.body)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
