"""Deployments: CreateDeployment, GetDeployment(s), UpdateDeployment, DeleteDeployment."""

from __future__ import annotations

from stageway.control.apigatewayv2.common import Context, Handler, Params, child_readers, require, require_api
from stageway.control.apigatewayv2.render import render_deployment
from stageway.control.wire import BadRequestException
from stageway.store.base import Document
from stageway.store.deployments import create_deployment as snapshot_api


def create_deployment(ctx: Context, params: Params) -> Document:
    api_id = params["apiId"]
    stage_name = params.get("stageName")
    with ctx.store.transaction():
        require_api(ctx, api_id)
        if stage_name is not None:
            stage = require(ctx, "stage", api_id, stage_name)
            if stage.get("autoDeploy"):
                # spec §1.5: an autoDeploy stage's deployment is the service's to choose [OBS]; wording [INF].
                raise BadRequestException(
                    f"Deployments can't be created for stage {stage_name} because auto deploy is enabled"
                )
        deployment = snapshot_api(ctx.store, api_id, stage_name=stage_name, description=params.get("description", ""))
    return render_deployment(deployment)


get_deployment, get_deployments = child_readers("deployment", "deploymentId", render_deployment)


def update_deployment(ctx: Context, params: Params) -> Document:
    api_id, deployment_id = params["apiId"], params["deploymentId"]
    with ctx.store.transaction():
        require_api(ctx, api_id)
        deployment = require(ctx, "deployment", api_id, deployment_id)
        if "description" in params:
            deployment["description"] = params["description"]
            ctx.store.put("deployment", api_id, deployment_id, deployment)
    return render_deployment(deployment)


def delete_deployment(ctx: Context, params: Params) -> None:
    api_id, deployment_id = params["apiId"], params["deploymentId"]
    with ctx.store.transaction():
        require_api(ctx, api_id)
        require(ctx, "deployment", api_id, deployment_id)
        if any(stage.get("deploymentId") == deployment_id for stage in ctx.store.list("stage", api_id)):
            # spec §2.1: REST's answer [OBS], applied to HTTP APIs [INF].
            raise BadRequestException("Active stages pointing to this deployment must be moved or deleted")
        ctx.store.delete("deployment", api_id, deployment_id)
        ctx.store.delete("snapshot", api_id, deployment_id)


OPERATIONS: dict[str, Handler] = {
    "CreateDeployment": create_deployment,
    "GetDeployment": get_deployment,
    "GetDeployments": get_deployments,
    "UpdateDeployment": update_deployment,
    "DeleteDeployment": delete_deployment,
}
