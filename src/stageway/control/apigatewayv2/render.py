"""Stored documents → what apigatewayv2 returns: exactly the members of the model's output shapes.

Documents are stored in AWS's wire shape already; rendering only drops what the model doesn't have (the
`"stageway"` key of file-applied resources) and adds what is computed per answer (`apiEndpoint`).
"""

from __future__ import annotations

from stageway.control.apigatewayv2._model_data import OPERATIONS
from stageway.control.apigatewayv2.common import Context, public
from stageway.store.base import Document


def _fields(operation: str) -> frozenset[str]:
    return frozenset(OPERATIONS[operation]["output"])


API_FIELDS = _fields("GetApi")
ROUTE_FIELDS = _fields("GetRoute")
INTEGRATION_FIELDS = _fields("GetIntegration")
AUTHORIZER_FIELDS = _fields("GetAuthorizer")
STAGE_FIELDS = _fields("GetStage")
DEPLOYMENT_FIELDS = _fields("GetDeployment")
DOMAIN_FIELDS = _fields("GetDomainName")
MAPPING_FIELDS = _fields("GetApiMapping")
VPC_LINK_FIELDS = _fields("GetVpcLink")


def render_api(ctx: Context, doc: Document) -> Document:
    rendered = public(doc, API_FIELDS)
    rendered["apiEndpoint"] = ctx.api_endpoint(doc["apiId"])
    return rendered


def render_route(doc: Document) -> Document:
    return public(doc, ROUTE_FIELDS)


def render_integration(doc: Document) -> Document:
    return public(doc, INTEGRATION_FIELDS)


def render_authorizer(doc: Document) -> Document:
    return public(doc, AUTHORIZER_FIELDS)


def render_stage(doc: Document) -> Document:
    return public(doc, STAGE_FIELDS)


def render_deployment(doc: Document) -> Document:
    return public(doc, DEPLOYMENT_FIELDS)


def render_domain(doc: Document) -> Document:
    return public(doc, DOMAIN_FIELDS)


def render_mapping(doc: Document) -> Document:
    return public(doc, MAPPING_FIELDS)


def render_vpc_link(doc: Document) -> Document:
    return public(doc, VPC_LINK_FIELDS)
