"""APIs: CreateApi (with quick create), GetApi(s), UpdateApi, DeleteApi, DeleteCorsConfiguration."""

from __future__ import annotations

from stageway.config.apply import delete_api as delete_api_documents
from stageway.control.apigatewayv2.common import (
    Context,
    Handler,
    Params,
    aws_errors,
    paginate,
    pick,
    raise_first,
    require_api,
    unused_id,
)
from stageway.control.apigatewayv2.integrations import build_integration
from stageway.control.apigatewayv2.integrations import validate as validate_integration_document
from stageway.control.apigatewayv2.render import render_api
from stageway.control.apigatewayv2.routes import build_route
from stageway.control.apigatewayv2.stages import new_stage
from stageway.control.apigatewayv2.tags import validate_tags
from stageway.control.wire import BadRequestException
from stageway.core.cors import compile_cors
from stageway.core.route_keys import DEFAULT_ROUTE_KEY, parse_route_key
from stageway.core.validation import (
    DEFAULT_TIMEOUT_MS,
    api_errors,
    check_route_key_conflicts,
    parse_lambda_arn,
    validate_route_key,
)
from stageway.store.base import Document
from stageway.store.deployments import ROUTE_SELECTION_EXPRESSION, auto_deploy, new_api_document

# What AWS echoes for an HTTP API (spec §1.4, gotcha 22).
_ROUTE_SELECTION_EXPRESSIONS = (ROUTE_SELECTION_EXPRESSION, "${request.method} ${request.path}")

UPDATABLE = ("corsConfiguration", "description", "disableExecuteApiEndpoint", "ipAddressType", "name", "version")


def create_api(ctx: Context, params: Params) -> Document:
    _validate(params)
    with aws_errors():
        raise_first(api_errors(params))
    if "tags" in params:
        validate_tags(params["tags"])
    if "routeKey" in params and "target" not in params:
        # [DOC] CreateApi: routeKey "is part of quick create", which needs a target. Wording [INF].
        raise BadRequestException("RouteKey can only be specified with Target for quick create")
    api = new_api_document("", {"name": params["name"], "tags": params.get("tags", {}), **pick(params, UPDATABLE)})
    with ctx.store.transaction():
        api["apiId"] = api_id = unused_id(ctx, "api")
        ctx.store.put("api", "", api_id, api)
        if "target" in params:
            _quick_create(ctx, api_id, params)
        auto_deploy(ctx.store, api_id)
    return render_api(ctx, api)


def _quick_create(ctx: Context, api_id: str, params: Params) -> None:
    """spec §1.4 quick create: an integration for `target`, a route for it (`routeKey` or `$default`) and an
    auto-deploying `$default` stage, all managed by API Gateway."""
    integration = build_integration(ctx, api_id, _quick_integration_fields(params))
    integration["apiGatewayManaged"] = True
    ctx.store.put("integration", api_id, integration["integrationId"], integration)
    route_fields = {
        "routeKey": params.get("routeKey", DEFAULT_ROUTE_KEY),
        "target": f"integrations/{integration['integrationId']}",
    }
    route = build_route(ctx, api_id, route_fields, ctx.store.list("route", api_id))
    route["apiGatewayManaged"] = True
    ctx.store.put("route", api_id, route["routeId"], route)
    if ctx.store.get("stage", api_id, "$default") is None:
        ctx.store.put("stage", api_id, "$default", new_stage("$default", {"autoDeploy": True, "apiGatewayManaged": True}))


def _quick_integration_fields(params: Params) -> Params:
    """AWS_PROXY with payload 2.0 for a Lambda ARN, HTTP_PROXY for anything else (spec §1.4)."""
    target = params["target"]
    fields: Params
    if parse_lambda_arn(target) is not None:
        fields = {"integrationType": "AWS_PROXY", "integrationMethod": "POST", "payloadFormatVersion": "2.0"}
    else:
        fields = {"integrationType": "HTTP_PROXY", "integrationMethod": "ANY", "payloadFormatVersion": "1.0"}
    fields.update(integrationUri=target, timeoutInMillis=DEFAULT_TIMEOUT_MS)
    if "credentialsArn" in params:
        fields["credentialsArn"] = params["credentialsArn"]
    return fields


def get_api(ctx: Context, params: Params) -> Document:
    return render_api(ctx, require_api(ctx, params["apiId"]))


def get_apis(ctx: Context, params: Params) -> Document:
    return paginate([render_api(ctx, api) for api in ctx.store.list("api")], params)


def update_api(ctx: Context, params: Params) -> Document:
    api_id = params["apiId"]
    _validate(params)
    if "name" in params:
        name = params["name"]
        if not 1 <= len(name) <= 128:
            raise BadRequestException("An API name must be 1 to 128 characters long")  # as core.validation
    with ctx.store.transaction():
        api = require_api(ctx, api_id)
        updated = {**api, **pick(params, UPDATABLE)}
        if "target" in params or "routeKey" in params:
            _update_quick_create(ctx, api_id, params)
        ctx.store.put("api", "", api_id, updated)
        auto_deploy(ctx.store, api_id)
    return render_api(ctx, updated)


def _update_quick_create(ctx: Context, api_id: str, params: Params) -> None:
    """[DOC] UpdateApi: `target` replaces the quick-create integration's URI and type, `routeKey` the quick-create
    route's key; an API without them gets them, as CreateApi would have made them."""
    integration = next((doc for doc in ctx.store.list("integration", api_id) if doc.get("apiGatewayManaged")), None)
    route = next((doc for doc in ctx.store.list("route", api_id) if doc.get("apiGatewayManaged")), None)
    if integration is None or route is None:
        if "target" not in params:
            raise BadRequestException("RouteKey can only be specified with Target for quick create")  # [INF]
        _quick_create(ctx, api_id, params)
        return
    if "target" in params:
        updated = {**integration, **_quick_integration_fields(params)}
        validate_integration_document(ctx, api_id, updated)
        ctx.store.put("integration", api_id, integration["integrationId"], updated)
    if "routeKey" in params and params["routeKey"] != route["routeKey"]:
        with aws_errors():
            key = validate_route_key(params["routeKey"])
            others = [doc for doc in ctx.store.list("route", api_id) if doc["routeId"] != route["routeId"]]
            check_route_key_conflicts(key, [parse_route_key(doc["routeKey"]) for doc in others])
        ctx.store.put("route", api_id, route["routeId"], {**route, "routeKey": params["routeKey"]})


def delete_api(ctx: Context, params: Params) -> None:
    api_id = params["apiId"]
    with ctx.store.transaction():
        require_api(ctx, api_id)
        # Its API mappings go with it: they would route nowhere [INF].
        delete_api_documents(ctx.store, api_id)


def delete_cors_configuration(ctx: Context, params: Params) -> None:
    api_id = params["apiId"]
    with ctx.store.transaction():
        api = require_api(ctx, api_id)
        if api.pop("corsConfiguration", None) is not None:
            ctx.store.put("api", "", api_id, api)
            auto_deploy(ctx.store, api_id)


def _validate(params: Params) -> None:
    """Rules CreateApi and UpdateApi share."""
    expression = params.get("routeSelectionExpression")
    if expression is not None and expression not in _ROUTE_SELECTION_EXPRESSIONS:
        # spec §1.4: HTTP APIs only take ${request.method} ${request.path}. Wording [INF].
        raise BadRequestException(
            f"Unsupported route selection expression for HTTP protocol type: {expression}. "
            "Supported expression: ${request.method} ${request.path}"
        )
    if "corsConfiguration" in params:
        with aws_errors():
            compile_cors(params["corsConfiguration"])  # what the data plane will run, checked now


OPERATIONS: dict[str, Handler] = {
    "CreateApi": create_api,
    "GetApi": get_api,
    "GetApis": get_apis,
    "UpdateApi": update_api,
    "DeleteApi": delete_api,
    "DeleteCorsConfiguration": delete_cors_configuration,
}
