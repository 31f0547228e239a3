"""Authorizers: CreateAuthorizer, GetAuthorizer(s), UpdateAuthorizer, DeleteAuthorizer.

`core.validation` has no authorizer rules yet, so they live here (spec §1.4, §1.5, §7): JWT authorizers
need one header or query-string identity source and an issuer; REQUEST (Lambda) authorizers need a Lambda
URI and a payload format version, with simple responses only for 2.0 and a result TTL of 0..3600.
"""

from __future__ import annotations

import re

from stageway.control.apigatewayv2.common import (
    Context,
    Handler,
    Params,
    child_readers,
    require,
    require_api,
    unused_id,
)
from stageway.control.apigatewayv2.render import render_authorizer
from stageway.control.wire import BadRequestException, ConflictException
from stageway.core.validation import PAYLOAD_FORMAT_VERSIONS, parse_lambda_arn
from stageway.store.base import Document
from stageway.store.deployments import auto_deploy

MAX_AUTHORIZERS = 10  # quota "Authorizers per API" (spec §11.3)
MAX_AUDIENCES = 50  # quota "Audiences per authorizer" (spec §11.3)
MIN_TTL, MAX_TTL = 0, 3600

FIELDS = (
    "authorizerCredentialsArn",
    "authorizerPayloadFormatVersion",
    "authorizerResultTtlInSeconds",
    "authorizerType",
    "authorizerUri",
    "enableSimpleResponses",
    "identitySource",
    "identityValidationExpression",
    "jwtConfiguration",
    "name",
)
REQUEST_ONLY = (
    "authorizerCredentialsArn",
    "authorizerPayloadFormatVersion",
    "authorizerResultTtlInSeconds",
    "authorizerUri",
    "enableSimpleResponses",
)

_JWT_SOURCE = re.compile(r"^\$request\.(header|querystring)\.[^\s]+$")
_REQUEST_SOURCE = re.compile(r"^\$(request\.(header|querystring)\.|context\.|stageVariables\.)[^\s]+$")


def create_authorizer(ctx: Context, params: Params) -> Document:
    api_id = params["apiId"]
    with ctx.store.transaction():
        require_api(ctx, api_id)
        if len(ctx.store.list("authorizer", api_id)) >= MAX_AUTHORIZERS:
            raise BadRequestException(f"Maximum number of authorizers ({MAX_AUTHORIZERS}) reached for this API")
        authorizer: Document = {"authorizerId": unused_id(ctx, "authorizer", api_id)}
        authorizer.update({key: params[key] for key in FIELDS if key in params})
        validate_authorizer(authorizer)
        ctx.store.put("authorizer", api_id, authorizer["authorizerId"], authorizer)
        auto_deploy(ctx.store, api_id)
    return render_authorizer(authorizer)


get_authorizer, get_authorizers = child_readers("authorizer", "authorizerId", render_authorizer)


def update_authorizer(ctx: Context, params: Params) -> Document:
    api_id, authorizer_id = params["apiId"], params["authorizerId"]
    with ctx.store.transaction():
        require_api(ctx, api_id)
        authorizer = require(ctx, "authorizer", api_id, authorizer_id)
        updated = dict(authorizer)
        for key in FIELDS:
            if key not in params:
                continue
            if key == "jwtConfiguration":
                updated[key] = {**(authorizer.get(key) or {}), **params[key]}
            else:
                updated[key] = params[key]
        if updated["authorizerType"] != authorizer["authorizerType"]:
            users = _routes_using(ctx, api_id, authorizer_id)
            if users:
                raise BadRequestException(
                    "Cannot change the type of an authorizer used by the following Routes with Ids: "
                    f"[{', '.join(users)}]"
                )  # [INF]
            for key in (*REQUEST_ONLY, "jwtConfiguration"):
                if key not in params:
                    updated.pop(key, None)
        validate_authorizer(updated)
        ctx.store.put("authorizer", api_id, authorizer_id, updated)
        auto_deploy(ctx.store, api_id)
    return render_authorizer(updated)


def delete_authorizer(ctx: Context, params: Params) -> None:
    api_id, authorizer_id = params["apiId"], params["authorizerId"]
    with ctx.store.transaction():
        require_api(ctx, api_id)
        require(ctx, "authorizer", api_id, authorizer_id)
        users = _routes_using(ctx, api_id, authorizer_id)
        if users:
            # [INF] by analogy with AWS's answer for an integration in use ([OBS] in integrations.py).
            raise ConflictException(
                "Cannot delete Authorizer because it is referenced by the following Routes with Ids: "
                f"[{', '.join(users)}]"
            )
        ctx.store.delete("authorizer", api_id, authorizer_id)
        auto_deploy(ctx.store, api_id)


def validate_authorizer(doc: Document) -> None:
    """AWS's rules for an HTTP API authorizer (spec §1.4, §7); messages are [INF] unless marked."""
    name = doc.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= 128:
        raise BadRequestException("Authorizer name must be 1 to 128 characters long")
    sources = doc.get("identitySource") or []
    if len(set(sources)) != len(sources):
        raise BadRequestException("Identity sources must be unique")
    if doc["authorizerType"] == "JWT":
        _validate_jwt(doc, sources)
    else:
        _validate_request(doc, sources)


def _validate_jwt(doc: Document, sources: list[str]) -> None:
    for key in REQUEST_ONLY:
        if key in doc and not (key == "authorizerResultTtlInSeconds" and doc[key] == 0):
            raise BadRequestException(f"{key[0].upper()}{key[1:]} is only supported for REQUEST authorizers")
    if len(sources) != 1 or not _JWT_SOURCE.match(sources[0]):
        # spec §7.1 [DOC]: exactly one of $request.header.{name} or $request.querystring.{name}.
        raise BadRequestException(
            "A JWT authorizer needs exactly one identity source: $request.header.{name} or "
            "$request.querystring.{name}"
        )
    jwt = doc.get("jwtConfiguration")
    if not jwt or not jwt.get("issuer"):
        raise BadRequestException("JwtConfiguration with an issuer is required for JWT authorizers")
    if not re.match(r"^https?://[^\s/]+", jwt["issuer"]):
        raise BadRequestException(f"Invalid issuer specified: {jwt['issuer']}. The issuer must be an http(s) URL")
    if len(jwt.get("audience") or []) > MAX_AUDIENCES:
        raise BadRequestException(f"A JWT authorizer can have at most {MAX_AUDIENCES} audiences")


def _validate_request(doc: Document, sources: list[str]) -> None:
    if "jwtConfiguration" in doc:
        raise BadRequestException("JwtConfiguration is only supported for JWT authorizers")
    uri = doc.get("authorizerUri")
    if not uri:
        raise BadRequestException("AuthorizerUri is a required parameter for REQUEST authorizer")
    if parse_lambda_arn(uri) is None:
        raise BadRequestException(f"Invalid authorizer URI specified: {uri}")
    version = doc.get("authorizerPayloadFormatVersion")
    if version is None:
        # [EMU: moto] spec §1.3.
        raise BadRequestException("AuthorizerPayloadFormatVersion is a required parameter for REQUEST authorizer")
    if version not in PAYLOAD_FORMAT_VERSIONS:
        raise BadRequestException(f"AuthorizerPayloadFormatVersion {version} is not supported")
    if doc.get("enableSimpleResponses") and version != "2.0":
        # spec §1.5 [DOC]: simple responses exist only in payload format 2.0.
        raise BadRequestException("EnableSimpleResponses is only supported with AuthorizerPayloadFormatVersion 2.0")
    ttl = doc.get("authorizerResultTtlInSeconds", 0)
    if not MIN_TTL <= ttl <= MAX_TTL:
        raise BadRequestException(
            f"AuthorizerResultTtlInSeconds must be between {MIN_TTL} and {MAX_TTL} seconds"
        )
    if ttl > 0 and not sources:
        # spec §7.2 [DOC]: with no identity sources caching is impossible.
        raise BadRequestException("Identity sources are required when authorizer caching is enabled")
    for source in sources:
        if not _REQUEST_SOURCE.match(source):
            raise BadRequestException(
                f"Invalid identity source specified: {source}. Use $request.header.{{name}}, "
                "$request.querystring.{name}, $context.{name} or $stageVariables.{name}"
            )


def _routes_using(ctx: Context, api_id: str, authorizer_id: str) -> list[str]:
    return [route["routeId"] for route in ctx.store.list("route", api_id) if route.get("authorizerId") == authorizer_id]


OPERATIONS: dict[str, Handler] = {
    "CreateAuthorizer": create_authorizer,
    "GetAuthorizer": get_authorizer,
    "GetAuthorizers": get_authorizers,
    "UpdateAuthorizer": update_authorizer,
    "DeleteAuthorizer": delete_authorizer,
}
