"""Routes: CreateRoute, GetRoute(s), UpdateRoute, DeleteRoute, DeleteRouteRequestParameter."""

from __future__ import annotations

from stageway.control.apigatewayv2.common import (
    Context,
    Handler,
    Params,
    aws_errors,
    child_readers,
    not_found,
    require,
    require_api,
    unused_id,
)
from stageway.control.apigatewayv2.render import render_route
from stageway.control.wire import BadRequestException, NotFoundException
from stageway.core.route_keys import DEFAULT_ROUTE_KEY, parse_route_key
from stageway.core.validation import check_route_key_conflicts, validate_route
from stageway.store.base import Document
from stageway.store.deployments import auto_deploy

MAX_ROUTES = 300  # quota "Routes per API" (spec §11.3)

FIELDS = (
    "apiKeyRequired",
    "authorizationScopes",
    "authorizationType",
    "authorizerId",
    "operationName",
    "requestParameters",
    "routeKey",
    "target",
)
WEBSOCKET_ONLY = ("modelSelectionExpression", "requestModels", "routeResponseSelectionExpression")

# [OBS] spec §1.3; the CUSTOM variant follows it [INF].
JWT_AUTHORIZER_MESSAGE = (
    "Invalid authorizer ID specified. Setting the authorization type to JWT requires a valid JWT authorizer."
)
CUSTOM_AUTHORIZER_MESSAGE = (
    "Invalid authorizer ID specified. Setting the authorization type to CUSTOM requires a valid REQUEST authorizer."
)


def create_route(ctx: Context, params: Params) -> Document:
    api_id = params["apiId"]
    with ctx.store.transaction():
        require_api(ctx, api_id)
        others = ctx.store.list("route", api_id)
        if len(others) >= MAX_ROUTES:
            raise BadRequestException(f"Maximum number of routes ({MAX_ROUTES}) reached for this API")  # [INF]
        route = build_route(ctx, api_id, params, others)
        ctx.store.put("route", api_id, route["routeId"], route)
        auto_deploy(ctx.store, api_id)
    return render_route(route)


def build_route(ctx: Context, api_id: str, fields: Params, others: list[Document]) -> Document:
    """A new, validated route document with AWS's defaults (not yet stored)."""
    doc: Document = {"routeId": unused_id(ctx, "route", api_id), "apiKeyRequired": False, "authorizationType": "NONE"}
    doc.update({key: fields[key] for key in FIELDS if key in fields})
    _refuse_websocket_members(fields)
    _validate(ctx, api_id, doc, others)
    return _normalized(doc)


get_route, get_routes = child_readers("route", "routeId", render_route)


def update_route(ctx: Context, params: Params) -> Document:
    api_id, route_id = params["apiId"], params["routeId"]
    with ctx.store.transaction():
        require_api(ctx, api_id)
        route = require(ctx, "route", api_id, route_id)
        _refuse_websocket_members(params)
        updated = dict(route)
        updated.update({key: params[key] for key in FIELDS if key in params})
        renamed = updated["routeKey"] != route["routeKey"]
        if renamed and (route.get("apiGatewayManaged") or DEFAULT_ROUTE_KEY in (route["routeKey"], updated["routeKey"])):
            # [DOC] CreateApi's routeKey doc string: the $default (quick create) route key can't be
            # modified; renaming a route to $default is undocumented and refused too. Wording [INF].
            raise BadRequestException(f"The route key {route['routeKey']} can't be changed to {updated['routeKey']}")
        others = [doc for doc in ctx.store.list("route", api_id) if doc["routeId"] != route_id]
        _validate(ctx, api_id, updated, others)
        updated = _normalized(updated)
        ctx.store.put("route", api_id, route_id, updated)
        auto_deploy(ctx.store, api_id)
    return render_route(updated)


def delete_route(ctx: Context, params: Params) -> None:
    api_id, route_id = params["apiId"], params["routeId"]
    with ctx.store.transaction():
        require_api(ctx, api_id)
        require(ctx, "route", api_id, route_id)
        ctx.store.delete("route", api_id, route_id)
        auto_deploy(ctx.store, api_id)


def delete_route_request_parameter(ctx: Context, params: Params) -> None:
    api_id, route_id, key = params["apiId"], params["routeId"], params["requestParameterKey"]
    with ctx.store.transaction():
        require_api(ctx, api_id)
        route = require(ctx, "route", api_id, route_id)
        parameters = dict(route.get("requestParameters") or {})
        if key not in parameters:
            raise NotFoundException(f"Invalid request parameter key specified {key}")  # [INF]
        del parameters[key]
        if parameters:
            route["requestParameters"] = parameters
        else:
            route.pop("requestParameters", None)
        ctx.store.put("route", api_id, route_id, route)
        auto_deploy(ctx.store, api_id)


def _validate(ctx: Context, api_id: str, doc: Document, others: list[Document]) -> None:
    with aws_errors():
        validate_route(doc)
        check_route_key_conflicts(parse_route_key(doc["routeKey"]), [parse_route_key(o["routeKey"]) for o in others])
    target = doc.get("target")
    if target:
        integration_id = target.removeprefix("integrations/")
        if not target.startswith("integrations/") or not integration_id:
            # [INF] The model: "The target for the route", of the form integrations/{integrationId}.
            raise BadRequestException(f"Invalid target specified: {target}. Use integrations/{{integrationId}}")
        if ctx.store.get("integration", api_id, integration_id) is None:
            raise not_found("integration", integration_id)
    authorization_type = doc.get("authorizationType", "NONE")
    if authorization_type in ("JWT", "CUSTOM"):
        wanted, message = ("JWT", JWT_AUTHORIZER_MESSAGE) if authorization_type == "JWT" else (
            "REQUEST",
            CUSTOM_AUTHORIZER_MESSAGE,
        )
        authorizer = ctx.store.get("authorizer", api_id, doc.get("authorizerId") or "")
        if authorizer is None or authorizer.get("authorizerType") != wanted:
            raise BadRequestException(message)


def _normalized(doc: Document) -> Document:
    """An empty target detaches the route; NONE and AWS_IAM routes carry no authorizer or scopes."""
    if not doc.get("target"):
        doc.pop("target", None)
    if doc.get("authorizationType", "NONE") in ("NONE", "AWS_IAM"):
        doc.pop("authorizerId", None)
        doc.pop("authorizationScopes", None)
    return doc


def _refuse_websocket_members(fields: Params) -> None:
    # Wording after AWS's "Execution logs are not supported on protocolType HTTP" [OBS]. [INF]
    for key in WEBSOCKET_ONLY:
        if key in fields:
            raise BadRequestException(f"{key[0].upper()}{key[1:]} is not supported on protocolType HTTP")
    if fields.get("apiKeyRequired") is True:
        raise BadRequestException("API keys are not supported on protocolType HTTP")


OPERATIONS: dict[str, Handler] = {
    "CreateRoute": create_route,
    "GetRoute": get_route,
    "GetRoutes": get_routes,
    "UpdateRoute": update_route,
    "DeleteRoute": delete_route,
    "DeleteRouteRequestParameter": delete_route_request_parameter,
}
