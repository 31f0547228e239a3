"""Deployments: immutable snapshots of an API, and the stages that point at them.

A deployment copies the API's routes, integrations, authorizers and CORS settings at the moment it is made
(spec §2.1); a stage serves its deployment until it is pointed at another one. A stage with `autoDeploy`
gets a new deployment whenever the API's configuration differs from the one it serves.
The snapshot is kept as its own document (kind "snapshot", same id as the deployment) so that the
deployment document stays exactly what apigatewayv2 returns.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from stageway.core.ids import random_id
from stageway.store.base import Document, Store

# API fields that belong to a deployment; everything else on the API (name, tags, description) is live.
SNAPSHOT_API_FIELDS = ("corsConfiguration", "name")


def now_iso() -> str:
    """AWS's timestamp shape: `2020-04-08T19:05:45Z`."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


ROUTE_SELECTION_EXPRESSION = "$request.method $request.path"
API_KEY_SELECTION_EXPRESSION = "$request.header.x-api-key"


def new_api_document(api_id: str, fields: dict[str, Any], *, created: str | None = None) -> Document:
    """An HTTP API as AWS describes a new one (CreateApi's answer), with `fields` (`name` among them) on top;
    shared by CreateApi, ImportApi and the file loader so that every API looks the same however it came."""
    return {
        "apiId": api_id,
        "protocolType": "HTTP",
        "routeSelectionExpression": ROUTE_SELECTION_EXPRESSION,
        "apiKeySelectionExpression": API_KEY_SELECTION_EXPRESSION,
        "disableExecuteApiEndpoint": False,
        "ipAddressType": "ipv4",
        "createdDate": created or now_iso(),
        "tags": {},
        **fields,
    }


def build_snapshot(store: Store, api_id: str) -> dict[str, Any]:
    """The part of an API's configuration a deployment freezes."""
    api = store.get("api", "", api_id) or {}
    return {
        "api": {key: api[key] for key in SNAPSHOT_API_FIELDS if key in api},
        "routes": store.list("route", api_id),
        "integrations": store.list("integration", api_id),
        "authorizers": store.list("authorizer", api_id),
    }


def create_deployment(
    store: Store,
    api_id: str,
    *,
    stage_name: str | None = None,
    description: str = "",
    auto_deployed: bool = False,
    snapshot: dict[str, Any] | None = None,
) -> Document:
    """Snapshot the API and, when `stage_name` is given, point that stage at the new deployment. `snapshot`:
    the API's `build_snapshot`, when the caller has just made it in this transaction (reading every route
    again costs a large API milliseconds on each write)."""
    with store.transaction():
        deployment_id = random_id(6)
        deployment: Document = {
            "deploymentId": deployment_id,
            "createdDate": now_iso(),
            "deploymentStatus": "DEPLOYED",
            "autoDeployed": auto_deployed,
        }
        if description:
            deployment["description"] = description
        store.put("deployment", api_id, deployment_id, deployment)
        store.put("snapshot", api_id, deployment_id, snapshot if snapshot is not None else build_snapshot(store, api_id))
        if stage_name is not None:
            stage = store.get("stage", api_id, stage_name)
            if stage is not None:
                stage["deploymentId"] = deployment_id
                stage["lastUpdatedDate"] = now_iso()
                if auto_deployed:
                    stage["lastDeploymentStatusMessage"] = f"Successfully deployed stage with deployment ID '{deployment_id}'"
                store.put("stage", api_id, stage_name, stage)
        return deployment


def auto_deploy(store: Store, api_id: str) -> list[str]:
    """Redeploy every `autoDeploy` stage whose deployment no longer matches the API; returns their names."""
    deployed: list[str] = []
    with store.transaction():
        current = build_snapshot(store, api_id)
        for stage in store.list("stage", api_id):
            if not stage.get("autoDeploy"):
                continue
            served = store.get("snapshot", api_id, stage.get("deploymentId") or "")
            if served != current:
                create_deployment(store, api_id, stage_name=stage["stageName"], auto_deployed=True, snapshot=current)
                deployed.append(stage["stageName"])
    return deployed


def stage_snapshot(store: Store, api_id: str, stage: Document) -> dict[str, Any] | None:
    """The snapshot a stage serves, or None when it has no deployment yet."""
    deployment_id = stage.get("deploymentId")
    return store.get("snapshot", api_id, deployment_id) if deployment_id else None
