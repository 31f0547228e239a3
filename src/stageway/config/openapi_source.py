"""OpenAPI 3.0 documents with the `x-amazon-apigateway-*` extensions, given to `stageway serve` as they are.

AWS's own importer (`core/openapi.py`, the same code ImportApi runs) reads the document; this module turns
what it found into an `ApiSpec`, so the API is applied, deployed and served like one from a YAML file: its id
is derived from `info.title`, and it gets one auto-deploying `$default` stage (an OpenAPI document has no
stages). Warnings AWS would report are logged; errors refuse the file, as any invalid file is refused.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from stageway.config.spec import (
    ApiSpec,
    AuthorizerSpec,
    ConfigProblem,
    IntegrationSpec,
    RouteSpec,
    SourceLocation,
    StageSpec,
)
from stageway.core.ids import stable_id
from stageway.core.openapi import OpenApiError, import_document

log = logging.getLogger("stageway.config")


def is_openapi_document(root: object) -> bool:
    return isinstance(root, dict) and ("openapi" in root or "swagger" in root)


def openapi_api(
    path: Path, document: dict[str, Any], *, region: str, account_id: str, problems: list[ConfigProblem]
) -> ApiSpec | None:
    """The API an OpenAPI document describes, or None (with the problem recorded) when AWS would refuse it."""
    name = str(path)
    here = SourceLocation(name, 1)
    try:
        imported = import_document(document, region=region, account_id=account_id)
    except OpenApiError as error:
        problems.append(ConfigProblem(name, 1, f"OpenAPI import: {error}"))
        return None
    for warning in imported.warnings:
        log.warning("%s: OpenAPI import: %s", name, warning)
    title = str(imported.api.get("name") or path.stem)
    # Integration keys are `$ref`s or route keys; as spec names they only need to be unique.
    integrations = tuple(IntegrationSpec(item.key, dict(item.fields), here) for item in imported.integrations)
    return ApiSpec(
        name=title,
        api_id=stable_id(title),
        fields={"protocolType": "HTTP", "disableExecuteApiEndpoint": False, **imported.api, "name": title},
        integrations=integrations,
        routes=tuple(
            RouteSpec(route.route_key, route.integration, dict(route.fields), here, authorizer=route.authorizer)
            for route in imported.routes
        ),
        stages=(StageSpec("$default", {"stageName": "$default", "autoDeploy": True}, here),),
        location=here,
        authorizers=tuple(AuthorizerSpec(item.name, dict(item.fields), here) for item in imported.authorizers),
    )
