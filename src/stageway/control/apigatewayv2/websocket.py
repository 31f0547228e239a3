"""WebSocket-only operations (route responses, integration responses, models): every API stageway holds is
an HTTP API, so after the usual 404 for an unknown API they answer BadRequestException, as AWS does for an
HTTP API. Wording after AWS's "Execution logs are not supported on protocolType HTTP" [OBS]; [INF].
"""

from __future__ import annotations

from stageway.control.apigatewayv2.common import Context, Handler, Params, require, require_api
from stageway.control.wire import BadRequestException

_RESOURCES = {
    "RouteResponse": "Route responses",
    "IntegrationResponse": "Integration responses",
    "Model": "Models",
}
_VERBS = ("Create", "Get", "Update", "Delete")


def _refuse(things: str) -> Handler:
    def handler(ctx: Context, params: Params) -> None:
        require_api(ctx, params["apiId"])
        if "routeId" in params:
            require(ctx, "route", params["apiId"], params["routeId"])
        if "integrationId" in params:
            require(ctx, "integration", params["apiId"], params["integrationId"])
        raise BadRequestException(f"{things} are not supported on protocolType HTTP")

    return handler


OPERATIONS: dict[str, Handler] = {
    f"{verb}{resource}{suffix}": _refuse(things)
    for resource, things in _RESOURCES.items()
    for verb in _VERBS
    for suffix in (("", "s") if verb == "Get" else ("",))
}
OPERATIONS["GetModelTemplate"] = _refuse("Models")
