"""apigatewayv2 over HTTP: match a request to a modeled operation, read its input, run its handler.

Paths are matched on the raw path, segment by segment, each segment percent-decoded on its own: a tag
ARN (`arn%3Aaws%3Aapigateway%3A...%2Fapis%2Fabc`) or a route key (`GET%20%2Fpets`) is one segment even
though it holds slashes once decoded, and `%24default` is `$default`.
"""

from __future__ import annotations

import asyncio
from urllib.parse import unquote

from stageway.control.apigatewayv2 import (
    apis,
    authorizers,
    deployments,
    domains,
    integrations,
    routes,
    stages,
    tags,
    vpclinks,
    websocket,
)
from stageway.control.apigatewayv2.common import Context, Handler
from stageway.control.apigatewayv2.model import Operation, operations, read_input
from stageway.control.wire import AdminRequest, AdminResponse, BadRequestException
from stageway.store.base import Store

HANDLERS: dict[str, Handler] = {
    **apis.OPERATIONS,
    **routes.OPERATIONS,
    **integrations.OPERATIONS,
    **authorizers.OPERATIONS,
    **stages.OPERATIONS,
    **deployments.OPERATIONS,
    **domains.OPERATIONS,
    **tags.OPERATIONS,
    **vpclinks.OPERATIONS,
    **websocket.OPERATIONS,
}


class OperationTable:
    """Modeled operations by (method, number of path segments); literal segments beat variables."""

    def __init__(self, ops: list[Operation]) -> None:
        self._table: dict[tuple[str, int], list[Operation]] = {}
        for op in ops:
            self._table.setdefault((op.method, len(op.segments)), []).append(op)
        for candidates in self._table.values():
            candidates.sort(key=lambda op: -sum(1 for part in op.segments if not part.startswith("{")))

    def match(self, method: str, raw_path: str) -> tuple[Operation, dict[str, str]] | None:
        parts = [unquote(part) for part in raw_path.strip("/").split("/")]
        for op in self._table.get((method, len(parts)), ()):
            params: dict[str, str] = {}
            for pattern, part in zip(op.segments, parts, strict=True):
                if pattern.startswith("{"):
                    if not part:
                        break
                    params[pattern[1:-1]] = part
                elif pattern != part:
                    break
            else:
                return op, params
        return None


class ApiGatewayV2:
    """The apigatewayv2 service; `handle` answers None for a request that is no apigatewayv2 operation."""

    def __init__(self, store: Store, *, region: str, account_id: str, data_plane_port: int) -> None:
        self.context = Context(store, region, account_id, data_plane_port)
        self.table = OperationTable(operations())

    async def handle(self, request: AdminRequest) -> AdminResponse | None:
        raw_path = request.raw_path or request.path
        if not raw_path.startswith("/v2/"):
            return None
        matched = self.table.match(request.method, raw_path)
        if matched is None:
            return None
        operation, uri_params = matched
        handler = HANDLERS.get(operation.name)
        if handler is None:
            # Modeled but not served here: portals, routing rules, and Import/Reimport/ExportApi when no
            # extra handler took them.
            raise BadRequestException(f"The operation {operation.name} is not supported by stageway")
        params = read_input(operation, request, uri_params)
        # Handlers do blocking store I/O (SQLite); each call runs in one worker thread from start to end.
        result = await asyncio.to_thread(handler, self.context, params)
        if result is None:
            return AdminResponse(operation.success_status)
        return AdminResponse.json(operation.success_status, result)
