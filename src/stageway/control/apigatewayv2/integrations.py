"""Integrations: CreateIntegration, GetIntegration(s), UpdateIntegration, DeleteIntegration."""

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
from stageway.control.apigatewayv2.render import render_integration
from stageway.control.wire import BadRequestException, ConflictException
from stageway.core.validation import DEFAULT_TIMEOUT_MS, validate_integration
from stageway.store.base import Document
from stageway.store.deployments import auto_deploy

MAX_INTEGRATIONS = 300  # quota "Integrations per API" (spec §11.3)

# The members an HTTP API integration keeps. WebSocket-only members (contentHandlingStrategy,
# passthroughBehavior, requestTemplates, templateSelectionExpression) are refused below.
FIELDS = (
    "connectionId",
    "connectionType",
    "credentialsArn",
    "description",
    "integrationMethod",
    "integrationSubtype",
    "integrationType",
    "integrationUri",
    "payloadFormatVersion",
    "requestParameters",
    "responseParameters",
    "timeoutInMillis",
    "tlsConfig",
)
WEBSOCKET_ONLY = ("contentHandlingStrategy", "passthroughBehavior", "requestTemplates", "templateSelectionExpression")


def create_integration(ctx: Context, params: Params) -> Document:
    api_id = params["apiId"]
    with ctx.store.transaction():
        require_api(ctx, api_id)
        if len(ctx.store.list("integration", api_id)) >= MAX_INTEGRATIONS:
            raise BadRequestException(f"Maximum number of integrations ({MAX_INTEGRATIONS}) reached for this API")
        integration = build_integration(ctx, api_id, {key: params[key] for key in params if key != "apiId"})
        ctx.store.put("integration", api_id, integration["integrationId"], integration)
        auto_deploy(ctx.store, api_id)
    return render_integration(integration)


def build_integration(ctx: Context, api_id: str, fields: Params) -> Document:
    """A new, validated integration document with AWS's defaults (not yet stored)."""
    _refuse_websocket_members(fields)
    doc: Document = {"integrationId": unused_id(ctx, "integration", api_id), "connectionType": "INTERNET"}
    doc.update({key: fields[key] for key in FIELDS if key in fields})
    if doc.get("integrationType") == "AWS_PROXY" and not doc.get("integrationSubtype"):
        doc.setdefault("integrationMethod", "POST")  # AWS reports POST for Lambda integrations
    doc.setdefault("timeoutInMillis", DEFAULT_TIMEOUT_MS)
    validate(ctx, api_id, doc)
    return doc


get_integration, get_integrations = child_readers("integration", "integrationId", render_integration)


def update_integration(ctx: Context, params: Params) -> Document:
    api_id, integration_id = params["apiId"], params["integrationId"]
    with ctx.store.transaction():
        require_api(ctx, api_id)
        integration = require(ctx, "integration", api_id, integration_id)
        _refuse_websocket_members(params)
        updated = dict(integration)
        for key in FIELDS:
            if key in params and key not in ("requestParameters", "responseParameters"):
                updated[key] = params[key]
        if "requestParameters" in params:
            updated["requestParameters"] = merge_request_parameters(
                integration.get("requestParameters"), params["requestParameters"]
            )
        if "responseParameters" in params:
            updated["responseParameters"] = merge_response_parameters(
                integration.get("responseParameters"), params["responseParameters"]
            )
        for key in ("requestParameters", "responseParameters"):
            if key in updated and not updated[key]:
                del updated[key]
        if updated.get("integrationType") == "AWS_PROXY" and not updated.get("integrationSubtype"):
            updated.setdefault("integrationMethod", "POST")
        validate(ctx, api_id, updated)
        ctx.store.put("integration", api_id, integration_id, updated)
        auto_deploy(ctx.store, api_id)
    return render_integration(updated)


def delete_integration(ctx: Context, params: Params) -> None:
    api_id, integration_id = params["apiId"], params["integrationId"]
    with ctx.store.transaction():
        require_api(ctx, api_id)
        integration = require(ctx, "integration", api_id, integration_id)
        if integration.get("apiGatewayManaged"):
            # spec §1.4: a quick-create integration "can be updated but not deleted" [DOC]; wording [INF].
            raise BadRequestException("Cannot delete an integration managed by API Gateway")
        users = [
            route["routeId"]
            for route in ctx.store.list("route", api_id)
            if route.get("target") == f"integrations/{integration_id}"
        ]
        if users:
            # [OBS] milliHQ/terraform-aws-next-js#247 quotes AWS's answer.
            raise ConflictException(
                "Cannot delete Integration because it is referenced by the following Routes with Ids: "
                f"[{', '.join(users)}]"
            )
        ctx.store.delete("integration", api_id, integration_id)
        auto_deploy(ctx.store, api_id)


# --------------------------------------------------------------------------------------------------
# Validation beyond core.validation: parameter mappings (spec §5) and VPC links.


def validate(ctx: Context, api_id: str, doc: Document) -> None:
    with aws_errors():
        validate_integration(doc)
    if doc.get("connectionType") == "VPC_LINK":
        connection_id = doc.get("connectionId")
        if not connection_id:
            raise BadRequestException("ConnectionId is required for connection type VPC_LINK")  # [INF]
        if ctx.store.get("vpclink", "", connection_id) is None:
            raise not_found("vpclink", connection_id)
    if doc.get("tlsConfig") and doc.get("connectionType") != "VPC_LINK":
        # Service model doc string of TlsConfigInput: "Supported only for HTTP APIs" with private integrations.
        raise BadRequestException("TlsConfig is supported only for private integrations")  # [INF] wording


def merge_request_parameters(old: dict[str, str] | None, new: dict[str, str]) -> dict[str, str]:
    """spec §5.4 [DOC]: a key sent with "" deletes that mapping; other keys are added or replaced."""
    merged = dict(old or {})
    for key, value in new.items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def merge_response_parameters(
    old: dict[str, dict[str, str]] | None, new: dict[str, dict[str, str]]
) -> dict[str, dict[str, str]]:
    """spec §5.4 [DOC]: a status sent with {} deletes its mappings; other statuses are merged key by key."""
    merged = {status: dict(mappings) for status, mappings in (old or {}).items()}
    for status, mappings in new.items():
        if not mappings:
            merged.pop(status, None)
        else:
            merged[status] = merge_request_parameters(merged.get(status), mappings)
    return merged


def _refuse_websocket_members(fields: Params) -> None:
    for key in WEBSOCKET_ONLY:
        if key in fields:
            # Wording after AWS's "Execution logs are not supported on protocolType HTTP" [OBS]. [INF]
            raise BadRequestException(f"{key[0].upper()}{key[1:]} is not supported on protocolType HTTP")


OPERATIONS: dict[str, Handler] = {
    "CreateIntegration": create_integration,
    "GetIntegration": get_integration,
    "GetIntegrations": get_integrations,
    "UpdateIntegration": update_integration,
    "DeleteIntegration": delete_integration,
}
