"""Stages: CreateStage, GetStage(s), UpdateStage, DeleteStage, DeleteAccessLogSettings, DeleteRouteSettings,
ResetAuthorizersCache.

Stage settings (variables, throttling, logging) are live: the data plane reads the stage document, so a
change takes effect without a deployment (spec §2.1). Only `autoDeploy` and `deploymentId` touch deployments.
"""

from __future__ import annotations

from typing import Any

from stageway.control.apigatewayv2.common import (
    Context,
    Handler,
    Params,
    aws_errors,
    child_readers,
    not_found,
    require,
    require_api,
)
from stageway.control.apigatewayv2.render import render_stage
from stageway.control.apigatewayv2.tags import validate_tags
from stageway.control.wire import BadRequestException, ConflictException, NotFoundException
from stageway.core.validation import validate_route_settings_keys, validate_stage
from stageway.store.base import Document
from stageway.store.deployments import auto_deploy, now_iso

MAX_STAGES = 10  # quota "Stages per API" (spec §11.3)

FIELDS = (
    "accessLogSettings",
    "autoDeploy",
    "defaultRouteSettings",
    "deploymentId",
    "description",
    "routeSettings",
    "stageVariables",
)
# [OBS] hashicorp/terraform-provider-aws#12893, #14010: AWS's answer to loggingLevel on an HTTP API stage.
EXECUTION_LOGS_MESSAGE = "Execution logs are not supported on protocolType HTTP"


def new_stage(name: str, fields: Params) -> Document:
    """A stage document with the defaults AWS reports for an HTTP API stage."""
    now = now_iso()
    stage: Document = {
        "stageName": name,
        "autoDeploy": False,
        "defaultRouteSettings": {"detailedMetricsEnabled": False},
        "routeSettings": {},
        "stageVariables": {},
        "tags": {},
        "createdDate": now,
        "lastUpdatedDate": now,
    }
    stage.update({key: fields[key] for key in (*FIELDS, "tags", "apiGatewayManaged") if key in fields})
    return stage


def create_stage(ctx: Context, params: Params) -> Document:
    api_id, name = params["apiId"], params["stageName"]
    with ctx.store.transaction():
        require_api(ctx, api_id)
        _validate_fields(ctx, api_id, params)
        if "tags" in params:
            validate_tags(params["tags"])
        if ctx.store.get("stage", api_id, name) is not None:
            raise ConflictException("Stage already exists")  # [OBS for REST; INF for v2] spec §1.3
        if len(ctx.store.list("stage", api_id)) >= MAX_STAGES:
            raise BadRequestException(f"Maximum number of stages ({MAX_STAGES}) reached for this API")  # [INF]
        stage = new_stage(name, params)
        ctx.store.put("stage", api_id, name, stage)
        if stage["autoDeploy"]:
            auto_deploy(ctx.store, api_id)
            stage = ctx.store.get("stage", api_id, name) or stage
    return render_stage(stage)


get_stage, get_stages = child_readers("stage", "stageName", render_stage)


def update_stage(ctx: Context, params: Params) -> Document:
    api_id, name = params["apiId"], params["stageName"]
    with ctx.store.transaction():
        require_api(ctx, api_id)
        stage = require(ctx, "stage", api_id, name)
        _refuse_managed(stage)
        checked = dict(params)
        if "deploymentId" in params and "autoDeploy" not in params:
            checked["autoDeploy"] = stage.get("autoDeploy", False)
        _validate_fields(ctx, api_id, checked)
        updated = dict(stage)
        for key in ("accessLogSettings", "autoDeploy", "deploymentId", "description", "stageVariables"):
            if key in params:
                updated[key] = params[key]
        if "defaultRouteSettings" in params:
            updated["defaultRouteSettings"] = {**stage.get("defaultRouteSettings", {}), **params["defaultRouteSettings"]}
        if "routeSettings" in params:
            # Per route key, the settings sent are merged into the stage's; DeleteRouteSettings removes one.
            merged: dict[str, Any] = dict(stage.get("routeSettings") or {})
            for key, settings in params["routeSettings"].items():
                merged[key] = {**merged.get(key, {}), **settings}
            updated["routeSettings"] = merged
        updated["lastUpdatedDate"] = now_iso()
        if not updated.get("autoDeploy"):
            updated.pop("lastDeploymentStatusMessage", None)
        ctx.store.put("stage", api_id, name, updated)
        if updated.get("autoDeploy"):
            auto_deploy(ctx.store, api_id)
            updated = ctx.store.get("stage", api_id, name) or updated
    return render_stage(updated)


def delete_stage(ctx: Context, params: Params) -> None:
    api_id, name = params["apiId"], params["stageName"]
    with ctx.store.transaction():
        require_api(ctx, api_id)
        stage = require(ctx, "stage", api_id, name)
        _refuse_managed(stage)
        ctx.store.delete("stage", api_id, name)


def delete_access_log_settings(ctx: Context, params: Params) -> None:
    api_id, name = params["apiId"], params["stageName"]
    with ctx.store.transaction():
        require_api(ctx, api_id)
        stage = require(ctx, "stage", api_id, name)
        if stage.pop("accessLogSettings", None) is not None:
            stage["lastUpdatedDate"] = now_iso()
            ctx.store.put("stage", api_id, name, stage)


def delete_route_settings(ctx: Context, params: Params) -> None:
    api_id, name, route_key = params["apiId"], params["stageName"], params["routeKey"]
    with ctx.store.transaction():
        require_api(ctx, api_id)
        stage = require(ctx, "stage", api_id, name)
        settings = dict(stage.get("routeSettings") or {})
        if route_key not in settings:
            # The wording of AWS's 404 for an unknown route key in routeSettings [OBS] (core.validation).
            raise NotFoundException(f"Unable to find Route by key {route_key} within the provided RouteSettings")
        del settings[route_key]
        stage["routeSettings"] = settings
        stage["lastUpdatedDate"] = now_iso()
        ctx.store.put("stage", api_id, name, stage)


def reset_authorizers_cache(ctx: Context, params: Params) -> None:
    # The data plane owns the authorizer cache: a bumped counter in the store reaches every node, which
    # flushes that stage's cached authorizer answers when it sees it.
    api_id, stage_name = params["apiId"], params["stageName"]
    with ctx.store.transaction():
        require_api(ctx, api_id)
        require(ctx, "stage", api_id, stage_name)
        marker = ctx.store.get("authorizer-cache-reset", api_id, stage_name) or {"resets": 0}
        ctx.store.put("authorizer-cache-reset", api_id, stage_name, {"resets": marker["resets"] + 1})


def _validate_fields(ctx: Context, api_id: str, params: Params) -> None:
    with aws_errors():
        validate_stage({key: params[key] for key in (*FIELDS, "stageName") if key in params})
    for settings in (params.get("defaultRouteSettings"), *(params.get("routeSettings") or {}).values()):
        if settings and ("loggingLevel" in settings or settings.get("dataTraceEnabled")):
            raise BadRequestException(EXECUTION_LOGS_MESSAGE)
    if params.get("clientCertificateId"):
        raise BadRequestException("Client certificates are not supported on protocolType HTTP")  # [INF]
    deployment_id = params.get("deploymentId")
    if deployment_id and ctx.store.get("deployment", api_id, deployment_id) is None:
        raise not_found("deployment", deployment_id)
    if params.get("routeSettings"):
        with aws_errors():
            validate_route_settings_keys(
                params["routeSettings"], {route["routeKey"] for route in ctx.store.list("route", api_id)}
            )


def _refuse_managed(stage: Document) -> None:
    if stage.get("apiGatewayManaged"):
        # [DOC] Stage.apiGatewayManaged: the quick-create $default stage can't be modified. Wording [INF].
        raise BadRequestException(f"Stage {stage['stageName']} is managed by API Gateway and can't be modified")


OPERATIONS: dict[str, Handler] = {
    "CreateStage": create_stage,
    "GetStage": get_stage,
    "GetStages": get_stages,
    "UpdateStage": update_stage,
    "DeleteStage": delete_stage,
    "DeleteAccessLogSettings": delete_access_log_settings,
    "DeleteRouteSettings": delete_route_settings,
    "ResetAuthorizersCache": reset_authorizers_cache,
}
