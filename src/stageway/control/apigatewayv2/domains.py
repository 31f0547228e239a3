"""Custom domain names and API mappings (spec §9): CreateDomainName, GetDomainName(s), UpdateDomainName,
DeleteDomainName, CreateApiMapping, GetApiMapping(s), UpdateApiMapping, DeleteApiMapping.

A domain is stored as ("domain", "", domainName); its mappings as ("mapping", domainName, apiMappingId).
The data plane picks the domain by Host header and the mapping by the longest matching key.
There are no certificates to check on a self-hosted gateway: a domain without configurations gets one
REGIONAL / TLS_1_2 configuration, the only kind HTTP APIs can be mapped to.
"""

from __future__ import annotations

from stageway.control.apigatewayv2.common import (
    Context,
    Handler,
    Params,
    aws_errors,
    paginate,
    pick,
    require,
    require_api,
    unused_id,
)
from stageway.control.apigatewayv2.render import render_domain, render_mapping
from stageway.control.apigatewayv2.tags import validate_tags
from stageway.control.wire import BadRequestException, ConflictException
from stageway.core.ids import random_id
from stageway.core.validation import validate_api_mapping_key, validate_domain_name
from stageway.store.base import Document

MAX_MAPPINGS_PER_DOMAIN = 200  # quota "Multi-level API mappings per domain" (spec §9)
# Route 53 hosted zone of regional API Gateway endpoints is per region; any stable value serves clients.
_HOSTED_ZONE_ID = "Z1UJRXOUMOOFQ8"


def create_domain_name(ctx: Context, params: Params) -> Document:
    name = params["domainName"]
    with aws_errors():
        validate_domain_name(name)
    if "tags" in params:
        validate_tags(params["tags"])
    with ctx.store.transaction():
        if ctx.store.get("domain", "", name) is not None:
            raise ConflictException("The domain name resource already exists.")  # [EMU: moto] spec §1.3
        domain: Document = {
            "domainName": name,
            "domainNameArn": f"arn:aws:apigateway:{ctx.region}::/domainnames/{name}",
            "apiMappingSelectionExpression": "$request.basepath",
            "domainNameConfigurations": _configurations(ctx, params.get("domainNameConfigurations")),
            "routingMode": params.get("routingMode", "API_MAPPING_ONLY"),
            "tags": params.get("tags", {}),
        }
        if "mutualTlsAuthentication" in params:
            domain["mutualTlsAuthentication"] = params["mutualTlsAuthentication"]
        _check_routing_mode(domain)
        ctx.store.put("domain", "", name, domain)
    return render_domain(domain)


def get_domain_name(ctx: Context, params: Params) -> Document:
    return render_domain(require(ctx, "domain", "", params["domainName"]))


def get_domain_names(ctx: Context, params: Params) -> Document:
    return paginate([render_domain(doc) for doc in ctx.store.list("domain")], params)


def update_domain_name(ctx: Context, params: Params) -> Document:
    name = params["domainName"]
    with ctx.store.transaction():
        domain = require(ctx, "domain", "", name)
        if "domainNameConfigurations" in params:
            domain["domainNameConfigurations"] = _configurations(ctx, params["domainNameConfigurations"])
        domain.update(pick(params, ("mutualTlsAuthentication", "routingMode")))
        _check_routing_mode(domain)
        if ctx.store.list("mapping", name):
            _check_mappable(domain)
        ctx.store.put("domain", "", name, domain)
    return render_domain(domain)


def delete_domain_name(ctx: Context, params: Params) -> None:
    name = params["domainName"]
    with ctx.store.transaction():
        require(ctx, "domain", "", name)
        for mapping in ctx.store.list("mapping", name):
            ctx.store.delete("mapping", name, mapping["apiMappingId"])
        ctx.store.delete("domain", "", name)


def _configurations(ctx: Context, given: list[Document] | None) -> list[Document]:
    configurations = []
    for config in given or [{}]:
        filled = {
            "apiGatewayDomainName": f"d-{random_id(10)}.execute-api.{ctx.region}.amazonaws.com",
            "domainNameStatus": "AVAILABLE",
            "endpointType": "REGIONAL",
            "hostedZoneId": _HOSTED_ZONE_ID,
            "ipAddressType": "ipv4",
            "securityPolicy": "TLS_1_2",
            **config,
        }
        configurations.append(filled)
    return configurations


def _check_routing_mode(domain: Document) -> None:
    if domain.get("routingMode", "API_MAPPING_ONLY") != "API_MAPPING_ONLY":
        raise BadRequestException("stageway supports the routing mode API_MAPPING_ONLY only")


# --------------------------------------------------------------------------------------------------
# API mappings


def create_api_mapping(ctx: Context, params: Params) -> Document:
    name = params["domainName"]
    key = params.get("apiMappingKey", "")
    with ctx.store.transaction():
        domain = require(ctx, "domain", "", name)
        _check_mapping_key(key)
        _check_target(ctx, params["apiId"], params["stage"])
        _check_mappable(domain)
        mappings = ctx.store.list("mapping", name)
        if any(mapping.get("apiMappingKey", "") == key for mapping in mappings):
            raise ConflictException(f"API mapping key {key!r} already exists for domain name {name}")  # [INF]
        if len(mappings) >= MAX_MAPPINGS_PER_DOMAIN:
            raise BadRequestException(f"A domain name can have at most {MAX_MAPPINGS_PER_DOMAIN} API mappings")
        mapping: Document = {
            "apiMappingId": unused_id(ctx, "mapping", name),
            "apiId": params["apiId"],
            "apiMappingKey": key,
            "stage": params["stage"],
        }
        ctx.store.put("mapping", name, mapping["apiMappingId"], mapping)
    return render_mapping(mapping)


def get_api_mapping(ctx: Context, params: Params) -> Document:
    require(ctx, "domain", "", params["domainName"])
    return render_mapping(require(ctx, "mapping", params["domainName"], params["apiMappingId"]))


def get_api_mappings(ctx: Context, params: Params) -> Document:
    require(ctx, "domain", "", params["domainName"])
    return paginate([render_mapping(doc) for doc in ctx.store.list("mapping", params["domainName"])], params)


def update_api_mapping(ctx: Context, params: Params) -> Document:
    name, mapping_id = params["domainName"], params["apiMappingId"]
    with ctx.store.transaction():
        require(ctx, "domain", "", name)
        mapping = require(ctx, "mapping", name, mapping_id)
        updated = {"apiMappingKey": "", **mapping, **pick(params, ("apiId", "apiMappingKey", "stage"))}
        _check_mapping_key(updated["apiMappingKey"])
        _check_target(ctx, updated["apiId"], updated["stage"])
        others = [doc for doc in ctx.store.list("mapping", name) if doc["apiMappingId"] != mapping_id]
        if any(doc.get("apiMappingKey", "") == updated["apiMappingKey"] for doc in others):
            raise ConflictException(
                f"API mapping key {updated['apiMappingKey']!r} already exists for domain name {name}"
            )  # [INF]
        ctx.store.put("mapping", name, mapping_id, updated)
    return render_mapping(updated)


def delete_api_mapping(ctx: Context, params: Params) -> None:
    name, mapping_id = params["domainName"], params["apiMappingId"]
    with ctx.store.transaction():
        require(ctx, "domain", "", name)
        require(ctx, "mapping", name, mapping_id)
        ctx.store.delete("mapping", name, mapping_id)


def _check_mapping_key(key: str) -> None:
    with aws_errors():
        validate_api_mapping_key(key)


def _check_target(ctx: Context, api_id: str, stage: str) -> None:
    require_api(ctx, api_id)
    if ctx.store.get("stage", api_id, stage) is None:
        # [OBS] AWS's answer to a base path mapping to a missing stage (serverless-domain-manager#589).
        raise BadRequestException("Invalid stage identifier specified")


def _check_mappable(domain: Document) -> None:
    for config in domain.get("domainNameConfigurations") or []:
        if config.get("endpointType") != "REGIONAL" or config.get("securityPolicy") != "TLS_1_2":
            # [DOC] HTTP APIs can only be mapped to REGIONAL domains with TLS_1_2 (spec §9). Wording [INF].
            raise BadRequestException(
                "HTTP APIs can only be mapped to REGIONAL domain names with security policy TLS_1_2"
            )


OPERATIONS: dict[str, Handler] = {
    "CreateDomainName": create_domain_name,
    "GetDomainName": get_domain_name,
    "GetDomainNames": get_domain_names,
    "UpdateDomainName": update_domain_name,
    "DeleteDomainName": delete_domain_name,
    "CreateApiMapping": create_api_mapping,
    "GetApiMapping": get_api_mapping,
    "GetApiMappings": get_api_mappings,
    "UpdateApiMapping": update_api_mapping,
    "DeleteApiMapping": delete_api_mapping,
}
