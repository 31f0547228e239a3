"""Apply a loaded configuration to the store, idempotently.

Ids are derived from names (`stable_id`), so applying the same file twice writes the same documents and
changes nothing; an API or function that was applied from a file and is no longer in any file is removed.
Documents applied from files carry `"stageway": {"managedBy": "file"}`; the control plane hides that key.
"""

from __future__ import annotations

from typing import Any

from stageway.config.spec import ApiSpec, ConfigSpec, FunctionSpec
from stageway.core.ids import stable_id
from stageway.store.base import Document, Store
from stageway.store.deployments import (
    auto_deploy,
    build_snapshot,
    create_deployment,
    new_api_document,
    now_iso,
    stage_snapshot,
)

MANAGED_BY_FILE = {"managedBy": "file"}


def apply_config(store: Store, config: ConfigSpec, *, deploy_all_stages: bool = True) -> None:
    """Write `config` to the store. With `deploy_all_stages`, every file-defined stage serves the file as
    it is now (what `stageway serve` does at start); otherwise only `autoDeploy` stages follow the change
    and the others keep their deployment until one is made (`stageway deploy`), as on AWS."""
    with store.transaction():
        wanted_functions = {function.name for function in config.functions}
        for old in store.list("function"):
            if _managed_by_file(old) and old["FunctionName"] not in wanted_functions:
                store.delete("function", "", old["FunctionName"])
        for function in config.functions:
            _put_if_changed(store, "function", "", function.name, _function_document(function, config))

        wanted_apis = {api.api_id for api in config.apis}
        for old in store.list("api"):
            if _managed_by_file(old) and old["apiId"] not in wanted_apis:
                delete_api(store, old["apiId"])
        for api in config.apis:
            _apply_api(store, api, deploy_all_stages)
        _apply_domains(store, config)


def _apply_domains(store: Store, config: ConfigSpec) -> None:
    """Custom domains of the files, with their API mappings; file-applied domains no longer in a file go."""
    wanted = {domain.name for domain in config.domains}
    for old in store.list("domain"):
        if _managed_by_file(old) and old["domainName"] not in wanted:
            for mapping in store.list("mapping", old["domainName"]):
                store.delete("mapping", old["domainName"], mapping["apiMappingId"])
            store.delete("domain", "", old["domainName"])
    api_ids = {api.name: api.api_id for api in config.apis}
    for domain in config.domains:
        existing = store.get("domain", "", domain.name)
        doc: Document = {
            "domainName": domain.name,
            "domainNameArn": f"arn:aws:apigateway:{config.region}::/domainnames/{domain.name}",
            "apiMappingSelectionExpression": "$request.basepath",
            "domainNameConfigurations": (existing or {}).get("domainNameConfigurations")
            or [{"endpointType": "REGIONAL", "securityPolicy": "TLS_1_2", "domainNameStatus": "AVAILABLE"}],
            "routingMode": "API_MAPPING_ONLY",
            "tags": {},
            "stageway": MANAGED_BY_FILE,
        }
        _put_if_changed(store, "domain", "", domain.name, doc)
        mappings = {
            stable_id(f"{domain.name} mapping {mapping.key}", 6): {
                "apiMappingId": stable_id(f"{domain.name} mapping {mapping.key}", 6),
                "apiId": api_ids[mapping.api_name],
                "apiMappingKey": mapping.key,
                "stage": mapping.stage,
            }
            for mapping in domain.mappings
        }
        _replace_children(store, "mapping", domain.name, mappings)


def _apply_api(store: Store, api: ApiSpec, deploy_all_stages: bool) -> None:
    api_id = api.api_id
    existing = store.get("api", "", api_id)
    api_doc = new_api_document(
        api_id,
        {**api.fields, "name": api.name, "stageway": MANAGED_BY_FILE},
        created=existing["createdDate"] if existing else None,
    )
    _put_if_changed(store, "api", "", api_id, api_doc)

    authorizer_ids = {spec.name: stable_id(f"{api_id} authorizer {spec.name}", 6) for spec in api.authorizers}
    _replace_children(
        store,
        "authorizer",
        api_id,
        {authorizer_ids[spec.name]: {"authorizerId": authorizer_ids[spec.name], **spec.fields} for spec in api.authorizers},
    )
    integration_ids = {spec.name: stable_id(f"{api_id} integration {spec.name}", 7) for spec in api.integrations}
    _replace_children(
        store,
        "integration",
        api_id,
        {
            integration_ids[spec.name]: {"integrationId": integration_ids[spec.name], **spec.fields}
            for spec in api.integrations
        },
    )
    routes: dict[str, Document] = {}
    for route in api.routes:
        route_id = stable_id(f"{api_id} route {route.route_key}", 7)
        doc: Document = {
            "routeId": route_id,
            "routeKey": route.route_key,
            "apiKeyRequired": False,
            "authorizationType": "NONE",
            **route.fields,
        }
        if route.integration is not None:
            doc["target"] = f"integrations/{integration_ids[route.integration]}"
        if route.authorizer is not None:
            doc["authorizerId"] = authorizer_ids[route.authorizer]
        routes[route_id] = doc
    _replace_children(store, "route", api_id, routes)

    stages: dict[str, Document] = {}
    for stage in api.stages:
        old_stage = store.get("stage", api_id, stage.name) or {}
        doc = {
            "stageName": stage.name,
            "autoDeploy": False,
            "stageVariables": {},
            "defaultRouteSettings": {"detailedMetricsEnabled": False},
            "routeSettings": {},
            "createdDate": old_stage.get("createdDate", now_iso()),
            "lastUpdatedDate": old_stage.get("lastUpdatedDate", now_iso()),
            **stage.fields,
        }
        for kept in ("deploymentId", "lastDeploymentStatusMessage"):
            if kept in old_stage:
                doc[kept] = old_stage[kept]
        stages[stage.name] = doc
    _replace_children(store, "stage", api_id, stages)

    current = build_snapshot(store, api_id)
    for stage_doc in store.list("stage", api_id):
        served = stage_snapshot(store, api_id, stage_doc)
        if served is None or (deploy_all_stages and served != current):
            create_deployment(store, api_id, stage_name=stage_doc["stageName"], auto_deployed=True)
    auto_deploy(store, api_id)


def delete_api(store: Store, api_id: str) -> None:
    """Remove an API and everything under it."""
    with store.transaction():
        for kind, key in (
            ("route", "routeId"),
            ("integration", "integrationId"),
            ("authorizer", "authorizerId"),
            ("stage", "stageName"),
            ("deployment", "deploymentId"),
        ):
            for doc in store.list(kind, api_id):
                store.delete(kind, api_id, doc[key])
                if kind == "deployment":
                    store.delete("snapshot", api_id, doc[key])
                if kind == "stage":
                    store.delete("authorizer-cache-reset", api_id, doc[key])
        store.delete("api", "", api_id)
        # API mappings of custom domains that pointed at this API go with it: they would route nowhere.
        for domain in store.list("domain"):
            for mapping in store.list("mapping", domain["domainName"]):
                if mapping.get("apiId") == api_id:
                    store.delete("mapping", domain["domainName"], mapping["apiMappingId"])


def _function_document(function: FunctionSpec, config: ConfigSpec) -> Document:
    arn = f"arn:aws:lambda:{config.region}:{config.account_id}:function:{function.name}"
    doc: Document = {
        "FunctionName": function.name,
        "FunctionArn": arn,
        "Runtime": function.runtime,
        "Handler": function.handler,
        "Role": f"arn:aws:iam::{config.account_id}:role/stageway-local",
        "Description": function.description,
        "Timeout": function.timeout_s,
        "MemorySize": function.memory_mb,
        "Environment": {"Variables": dict(function.environment)},
        "PackageType": "Zip",
        "Version": "$LATEST",
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "stageway": {**MANAGED_BY_FILE, "codeDirectory": str(function.code_dir)},
    }
    if function.reserved_concurrency is not None:
        doc["ReservedConcurrentExecutions"] = function.reserved_concurrency
    return doc


def _managed_by_file(doc: Document) -> bool:
    return bool((doc.get("stageway") or {}).get("managedBy") == "file")


def _put_if_changed(store: Store, kind: str, parent: str, id: str, doc: Document) -> None:
    if store.get(kind, parent, id) != doc:
        store.put(kind, parent, id, doc)


def _replace_children(store: Store, kind: str, parent: str, wanted: dict[str, Any]) -> None:
    id_key = {
        "route": "routeId",
        "integration": "integrationId",
        "stage": "stageName",
        "authorizer": "authorizerId",
        "mapping": "apiMappingId",
    }[kind]
    for old in store.list(kind, parent):
        if old[id_key] not in wanted:
            store.delete(kind, parent, old[id_key])
    for id, doc in wanted.items():
        _put_if_changed(store, kind, parent, id, doc)
