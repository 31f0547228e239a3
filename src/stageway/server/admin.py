"""The admin listener: apigatewayv2 + Lambda's API over the node's store and runtime."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from stageway.store.base import POSTGRES_URL_PREFIXES

if TYPE_CHECKING:
    from stageway.control.app import AdminApp
    from stageway.server.metrics import GatewayMetrics
    from stageway.server.serve import Node


def code_root_for(store_url: str) -> Path:
    """Function code lives beside the database (`.stageway/functions/` for the default store)."""
    if store_url.startswith("sqlite:"):
        from stageway.store.sqlite import SqliteStore

        path = SqliteStore.path_from_url(store_url)
        return path.parent / "functions"
    if store_url.startswith(POSTGRES_URL_PREFIXES):
        # The database holds the documents, not the unpacked code: it stays on this node's disk, where a
        # restart finds it (the README says how several nodes share it).
        return Path(".stageway") / "functions"
    # memory://: the code is as throw-away as the rest of the state.
    import atexit
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="stageway-functions-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


class WithMetrics:
    """`GET /metrics` (Prometheus text, unsigned so that scrapers can read it) in front of the admin API."""

    def __init__(self, app: AdminApp, metrics: GatewayMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/metrics" and scope["method"] in ("GET", "HEAD"):
            body = self.metrics.render()
            headers = [(b"content-type", self.metrics.content_type.encode()), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


def build_admin_app(node: Node) -> WithMetrics:
    from stageway.control.app import AdminApp
    from stageway.control.auth import build_authenticator
    from stageway.control.lambda_api import LambdaApi
    from stageway.control.openapi_ops import OpenApiOps

    options = node.options
    lambda_api = LambdaApi(
        node.store,
        node.runtime,
        code_root=code_root_for(options.store_url),
        region=options.region,
        account_id=options.account_id,
    )
    openapi = OpenApiOps(node.store, region=options.region, account_id=options.account_id, data_plane_port=options.port)
    admin = AdminApp(
        node.store,
        region=options.region,
        account_id=options.account_id,
        data_plane_port=options.port,
        extra_handlers=[lambda_api.handle, openapi.handle],
        authenticate=build_authenticator(options.admin_credentials),
    )
    return WithMetrics(admin, node.metrics)
