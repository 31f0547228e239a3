"""What an authorization decides: the result handed to the integration, or AWS's refusal.

Refusals are the data plane's `GatewayError`s (`core.errors`) with two additions: the `www-authenticate`
header JWT authorizers send, and the text of `$context.authorizer.error` for access logs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stageway.core.errors import Forbidden, InternalServerError, Unauthorized
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


class AuthError:
    """Mixin of the refusals below: `authorizer_error` is `$context.authorizer.error`."""

    authorizer_error: str = ""
    www_authenticate: str | None = None

    def _with_challenge(self, response: GatewayResponse) -> GatewayResponse:
        if self.www_authenticate is not None:
            response.headers.append(("www-authenticate", self.www_authenticate))
        return response


class AuthUnauthorized(AuthError, Unauthorized):
    """401 `{"message":"Unauthorized"}`: no credentials, or ones that are not valid."""

    def __init__(self, detail: str, *, authorizer_error: str = "", www_authenticate: str | None = None) -> None:
        super().__init__(detail)
        self.authorizer_error = authorizer_error or detail
        self.www_authenticate = www_authenticate

    def to_response(self) -> GatewayResponse:
        return self._with_challenge(super().to_response())


class AuthForbidden(AuthError, Forbidden):
    """403 `{"message":"Forbidden"}`: valid credentials that do not allow this request."""

    def __init__(self, detail: str, *, authorizer_error: str = "", www_authenticate: str | None = None) -> None:
        super().__init__(detail)
        self.authorizer_error = authorizer_error or detail
        self.www_authenticate = www_authenticate

    def to_response(self) -> GatewayResponse:
        return self._with_challenge(super().to_response())


class AuthorizerFailure(AuthError, InternalServerError):
    """500 `{"message":"Internal Server Error"}`: the authorizer itself failed (spec §7.2)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.authorizer_error = detail
