"""What an authorization decides: the result handed to the integration, or AWS's refusal.

Refusals are the data plane's `GatewayError`s (`core.errors`) with two additions: the `www-authenticate`
header JWT authorizers send, and the text of `$context.authorizer.error` for access logs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stageway.core.errors import Forbidden, GatewayError, InternalServerError, Unauthorized
from stageway.core.http import GatewayResponse


@dataclass(frozen=True, slots=True)
class AuthResult:
    """A request the authorizer let through, and what it learnt about the caller."""

    v2: dict[str, Any] | None = None
    """`requestContext.authorizer` of a payload 2.0 integration event: `{"jwt": {...}}`,
    `{"lambda": {...}}` or `{"iam": {...}}`; None for NONE routes (the key is then absent)."""
    v1: dict[str, Any] | None = None
    """`requestContext.authorizer` of a payload 1.0 event; None keeps the builder's default
    (`{"claims": null, "scopes": null}`)."""
    context_vars: dict[str, str] = field(default_factory=dict)
    """`$context.authorizer.*` without the prefix: `claims.sub`, `principalId`, a Lambda context key."""
    identity: dict[str, Any] = field(default_factory=dict)
    """AWS_IAM only: the caller's fields of 1.0 `requestContext.identity` and of `$context.identity.*`
    (`accessKey`, `accountId`, `caller`, `user`, `userArn`, `principalOrgId`, `cognito*`)."""


NO_AUTH = AuthResult()


class AuthError(GatewayError):
    """A refusal by an authorizer: AWS's status and body, plus the `www-authenticate` header JWT
    authorizers send, `$context.authorizer.error` (`authorizer_error`) and `$context.error.responseType`
    (`response_type`, API Gateway's gateway-response names [INF for HTTP APIs])."""

    response_type = ""

    def __init__(
        self,
        detail: str,
        *,
        authorizer_error: str | None = None,
        www_authenticate: str | None = None,
        response_type: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.authorizer_error = detail if authorizer_error is None else authorizer_error
        self.www_authenticate = www_authenticate
        if response_type is not None:
            self.response_type = response_type

    def to_response(self) -> GatewayResponse:
        response = super().to_response()
        if self.www_authenticate is not None:
            response.headers.append(("www-authenticate", self.www_authenticate))
        return response


class AuthUnauthorized(AuthError, Unauthorized):
    """401 `{"message":"Unauthorized"}`: no credentials, or ones that are not valid."""

    response_type = "UNAUTHORIZED"


class AuthForbidden(AuthError, Forbidden):
    """403 `{"message":"Forbidden"}`: valid credentials that do not allow this request."""

    response_type = "ACCESS_DENIED"


class AuthorizerFailure(AuthError, InternalServerError):
    """500 `{"message":"Internal Server Error"}`: the authorizer itself failed (spec §7.2)."""

    response_type = "AUTHORIZER_FAILURE"
