"""Authorizers: CreateAuthorizer, GetAuthorizer(s), UpdateAuthorizer, DeleteAuthorizer.

`core.validation` has no authorizer rules yet, so they live here (spec §1.4, §1.5, §7): JWT authorizers
need one header or query-string identity source and an issuer; REQUEST (Lambda) authorizers need a Lambda
URI and a payload format version, with simple responses only for 2.0 and a result TTL of 0..3600.
"""

from __future__ import annotations

from stageway.auth import authorizer_errors
from stageway.control.apigatewayv2.common import (
    Context,
    Handler,
    Params,
    child_readers,
    raise_first,
    require,
    require_api,
    unused_id,
)
from stageway.control.apigatewayv2.render import render_authorizer
from stageway.control.wire import BadRequestException, ConflictException
from stageway.store.base import Document
from stageway.store.deployments import auto_deploy

MAX_AUTHORIZERS = 10  # quota "Authorizers per API" (spec §11.3)

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
    """AWS's rules for an HTTP API authorizer (spec §1.4, §7): the same rules the file loader and the data
    plane's authorizer compiler apply."""
    raise_first(authorizer_errors(doc))


def _routes_using(ctx: Context, api_id: str, authorizer_id: str) -> list[str]:
    return [route["routeId"] for route in ctx.store.list("route", api_id) if route.get("authorizerId") == authorizer_id]


OPERATIONS: dict[str, Handler] = {
    "CreateAuthorizer": create_authorizer,
    "GetAuthorizer": get_authorizer,
    "GetAuthorizers": get_authorizers,
    "UpdateAuthorizer": update_authorizer,
    "DeleteAuthorizer": delete_authorizer,
}
