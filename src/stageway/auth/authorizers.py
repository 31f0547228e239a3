"""`Authorizers`: the I/O side of authorization, one instance per gateway process.

It owns the JWKS cache, the cache of Lambda authorizer answers and the function invoker, and answers one
question per request: may this request reach its integration? The pipeline calls `authorize` after the
route matched and throttling let the request through, before parameter mapping and the integration
(spec §3.1); an `AuthResult` means yes, an exception (401, 403, 500) is the answer to send.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

from stageway.auth.iam import authorize_iam
from stageway.auth.identity_sources import identity_value, identity_values

if TYPE_CHECKING:
    from stageway.auth.jwks import JwksCache

from stageway.auth.lambda_authorizer import (
    MAX_AUTHORIZER_WAIT_S,
    AuthorizerAnswer,
    InvalidAuthorizerResponse,
    build_authorizer_event,
    function_error_detail,
    lambda_result,
    parse_authorizer_response,
)
from stageway.auth.plan import JwtAuthorizerPlan, LambdaAuthorizerPlan, RouteAuth
from stageway.auth.policy import route_arn
from stageway.auth.quotas import FETCH_TIMEOUT_S, MAX_JWKS_BYTES, MIN_REFRESH_S
from stageway.auth.result import NO_AUTH, AuthForbidden, AuthorizerFailure, AuthResult, AuthUnauthorized
from stageway.core.forwarding import with_forwarding_headers
from stageway.core.http import IncomingRequest, RouteContext
from stageway.core.lambda_events import encode_event
from stageway.core.stage_variables import substitute_stage_variables
from stageway.functions import FunctionNotFound, FunctionThrottled, InvocationResult, RequestTooLarge

log = logging.getLogger("stageway.auth")

DEFAULT_CACHE_ENTRIES = 10_000
"""Cached Lambda authorizer answers kept at most (least recently used first out): identity values come
from clients, so the cache must not grow with whatever they send."""




@functools.cache
def _jwt_support() -> tuple[ModuleType, type[Exception]]:
    """`stageway.auth.jwt` and the JWKS error, imported on the first JWT request: they load PyJWT and
    cryptography, which a gateway without JWT routes never needs at start-up. Cached: an import statement in
    the request path costs ≈ 3 µs each time, even for a module already loaded."""
    from stageway.auth import jwt as jwt_checks
    from stageway.auth.jwks import KeysUnavailable

    return jwt_checks, KeysUnavailable

class AuthorizerInvoker(Protocol):
    """What runs authorizer functions: the local runtime (`LocalRuntime`) or a remote Lambda client."""

    async def invoke(self, name: str, payload: bytes) -> InvocationResult: ...


_CacheKey = tuple[str, str, str, str, tuple[str, ...]]
"""(apiId, stage, authorizerId, plan fingerprint, identity values)."""


_Verified = tuple[dict[str, Any], float, dict[tuple[Any, ...], AuthResult]]
"""A verified token's claims, until when they are trusted, and its results by (issuer, audiences, scopes)."""

VERIFIED_TOKEN_TTL_S = 300.0
"""How long a verified signature is trusted without checking it again: well inside the two hours for which
AWS (and stageway) cache an issuer's keys."""


class Authorizers:
    def __init__(
        self,
        *,
        invoker: AuthorizerInvoker,
        credentials: Mapping[str, str] | None = None,
        http_timeout_s: float = FETCH_TIMEOUT_S,
        jwks_max_bytes: int = MAX_JWKS_BYTES,
        jwks_min_refresh_s: float = MIN_REFRESH_S,
        authorizer_timeout_s: float = MAX_AUTHORIZER_WAIT_S,
        clock_skew_s: float = 0.0,
        cache_entries: int = DEFAULT_CACHE_ENTRIES,
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        """`credentials` are the keys that may sign AWS_IAM requests (`KEY:SECRET` pairs, as for the
        admin listener); none means every AWS_IAM route answers 403. `clock_skew_s` is the leeway on
        `exp`/`nbf`/`iat`: AWS documents none, so 0 is the default."""
        self.invoker = invoker
        self.credentials = dict(credentials or {})
        self._jwks_settings = (http_timeout_s, jwks_max_bytes, jwks_min_refresh_s)
        self._jwks: JwksCache | None = None
        self.authorizer_timeout_s = authorizer_timeout_s
        self.clock_skew_s = clock_skew_s
        self._cache: OrderedDict[_CacheKey, tuple[float, AuthorizerAnswer]] = OrderedDict()
        self._verified: OrderedDict[tuple[str, str], _Verified] = OrderedDict()
        self._cache_entries = cache_entries
        self._monotonic = monotonic
        self._wall_clock = wall_clock

    def __repr__(self) -> str:  # never show the secrets
        return f"Authorizers(iam_keys={sorted(self.credentials)}, cached={len(self._cache)})"

    async def authorize(
        self,
        route_auth: RouteAuth,
        request: IncomingRequest,
        route: RouteContext,
        *,
        method_arn: str | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> AuthResult:
        """Decide about one request. `method_arn` defaults to `route_arn(request, route)`; `headers` to
        `with_forwarding_headers(request)` (pass the integration's list so both events show the same
        trace id). Raises AuthUnauthorized (401), AuthForbidden (403) or AuthorizerFailure (500)."""
        kind = route_auth.authorization_type
        if kind == "NONE":
            return NO_AUTH
        if kind == "AWS_IAM":
            now = datetime.fromtimestamp(self._wall_clock(), UTC)
            return authorize_iam(request, route, self.credentials, now=now)
        plan = route_auth.authorizer
        if isinstance(plan, JwtAuthorizerPlan) and kind == "JWT":
            return await self._authorize_jwt(plan, route_auth.scopes, request, route)
        if isinstance(plan, LambdaAuthorizerPlan) and kind == "CUSTOM":
            arn = method_arn or route_arn(request, route)
            return await self._authorize_lambda(plan, request, route, arn, headers)
        # A route whose authorizer is missing or failed to compile is closed, never open.
        raise AuthorizerFailure(
            f"route {route.route_key}: no usable {kind} authorizer", response_type="AUTHORIZER_CONFIGURATION_ERROR"
        )

    def reset_cache(self, api_id: str, stage: str | None = None, authorizer_id: str | None = None) -> None:
        """Forget cached Lambda authorizer answers: ResetAuthorizersCache (`DELETE /v2/apis/{apiId}/stages/
        {stageName}/cache/authorizers`) flushes one stage; `authorizer_id` narrows it to one authorizer."""
        for key in [
            key
            for key in self._cache
            if key[0] == api_id and stage in (None, key[1]) and authorizer_id in (None, key[2])
        ]:
            del self._cache[key]

    @property
    def jwks(self) -> JwksCache:
        """The key-set cache, made on first use: PyJWT, cryptography and the HTTP client it needs load only
        when an API has a JWT authorizer (they cost start-up time and memory otherwise)."""
        if self._jwks is None:
            from stageway.auth.jwks import JwksCache

            timeout_s, max_bytes, min_refresh_s = self._jwks_settings
            self._jwks = JwksCache(
                timeout_s=timeout_s, max_bytes=max_bytes, min_refresh_s=min_refresh_s, clock=self._monotonic
            )
        return self._jwks

    def _verified_claims(self, issuer_url: str, token: str) -> _Verified | None:
        """Claims of a token whose signature was verified lately. The signature check (RSA/EC arithmetic) is
        the dearest step of a JWT request; the same bytes verify the same way while the issuer's keys are
        cached, so a client reusing its token pays for it once per `VERIFIED_TOKEN_TTL_S`."""
        entry = self._verified.get((issuer_url, token))
        if entry is None:
            return None
        if self._monotonic() >= entry[1]:
            del self._verified[(issuer_url, token)]
            return None
        return entry

    def _remember_verified(self, issuer_url: str, token: str, claims: dict[str, Any]) -> _Verified:
        """Also keeps, per route's scopes, the result built from the claims: rendering every claim as AWS
        does is the next dearest step once the signature is known good."""
        entry: _Verified = (claims, self._monotonic() + VERIFIED_TOKEN_TTL_S, {})
        self._verified[(issuer_url, token)] = entry
        if len(self._verified) > self._cache_entries:
            self._verified.popitem(last=False)
        return entry

    async def close(self) -> None:
        if self._jwks is not None:
            await self._jwks.close()

    # ----------------------------------------------------------------------------------------------- JWT

    async def _authorize_jwt(
        self, plan: JwtAuthorizerPlan, route_scopes: tuple[str, ...], request: IncomingRequest, route: RouteContext
    ) -> AuthResult:
        jwt_checks, KeysUnavailable = _jwt_support()
        value = identity_value(plan.identity_source, request, route)
        token = jwt_checks.strip_bearer(value) if value else ""
        if not token:
            raise jwt_checks.missing_token()
        verified = self._verified_claims(plan.discovery_url, token)
        if verified is None:
            parsed = jwt_checks.parse_token(token, route_scopes)
            try:
                key = await self.jwks.key(plan.discovery_url, parsed.kid)
            except KeysUnavailable as error:
                log.warning("JWT authorizer %s: %s", plan.name, error)
                raise jwt_checks.invalid_token(jwt_checks.KEYS_UNAVAILABLE, route_scopes) from None
            if key is None:
                raise jwt_checks.invalid_token(jwt_checks.UNKNOWN_KID, route_scopes)
            verified = self._remember_verified(
                plan.discovery_url, token, jwt_checks.verify_signature(parsed, key, route_scopes)
            )
        claims, _, results = verified
        # The claims are checked on every request, cached signature or not: a token expires mid-cache.
        jwt_checks.check_claims(
            claims, plan, now=self._wall_clock(), leeway_s=self.clock_skew_s, route_scopes=route_scopes
        )
        result = results.get((plan.issuer, plan.audiences, route_scopes))
        if result is None:
            scopes = jwt_checks.token_scopes(claims)
            jwt_checks.check_scopes(scopes, route_scopes)  # a refusal is never cached: it raises every time
            result = jwt_checks.jwt_result(claims, scopes, route_scopes)
            results[(plan.issuer, plan.audiences, route_scopes)] = result
        return result

    def result_without_io(
        self, plan: JwtAuthorizerPlan, route_scopes: tuple[str, ...], value: str
    ) -> AuthResult | None:
        """What `_authorize_jwt` would answer at once for a request with this identity-source value, when it
        lets it through: its token verified lately, its claims good now, its scopes checked for these route
        scopes before (the result cached then). None for anything else (nothing is fetched, verified or
        refused here): the caller then leaves the request to the pipeline, which decides and answers as AWS
        does."""
        if not self._verified:  # (no token verified yet: nothing to import for)
            return None
        jwt_checks, _ = _jwt_support()
        verified = self._verified_claims(plan.discovery_url, jwt_checks.strip_bearer(value))
        if verified is None:
            return None
        claims, _, results = verified
        # Only a result cached for this issuer, audiences and scopes: it was stored after they all passed.
        result = results.get((plan.issuer, plan.audiences, route_scopes))
        if result is None:
            return None
        try:
            jwt_checks.check_claims(
                claims, plan, now=self._wall_clock(), leeway_s=self.clock_skew_s, route_scopes=route_scopes
            )
        except AuthUnauthorized:
            return None
        return result

    # -------------------------------------------------------------------------------------------- Lambda

    async def _authorize_lambda(
        self,
        plan: LambdaAuthorizerPlan,
        request: IncomingRequest,
        route: RouteContext,
        arn: str,
        headers: list[tuple[str, str]] | None,
    ) -> AuthResult:
        identity = identity_values(plan.identity_sources, request, route)
        if identity is None:
            # "If the client's request doesn't include the identity sources, API Gateway doesn't invoke
            # your Lambda authorizer, and the client receives a 401 error." [DOC]
            raise AuthUnauthorized(
                f"Lambda authorizer {plan.name}: an identity source is missing or empty",
                authorizer_error="an identity source is missing or empty",
            )
        key: _CacheKey = (route.api_id, route.stage, plan.authorizer_id, plan.fingerprint, identity)
        answer = self._cached(key) if plan.caches_results else None
        if answer is None:
            answer = await self._invoke(plan, request, route, arn, identity, headers)
            if plan.caches_results:
                # Denials are cached too, as REST APIs do [INF].
                self._store(key, answer, plan.result_ttl_s)
        if not answer.allows(arn):
            raise AuthForbidden(f"Lambda authorizer {plan.name} denied {arn}", authorizer_error="")
        return lambda_result(answer)

    async def _invoke(
        self,
        plan: LambdaAuthorizerPlan,
        request: IncomingRequest,
        route: RouteContext,
        arn: str,
        identity: tuple[str, ...],
        headers: list[tuple[str, str]] | None,
    ) -> AuthorizerAnswer:
        event = build_authorizer_event(
            plan, request, route, headers if headers is not None else with_forwarding_headers(request),
            arn=arn, identity=identity,
        )
        name = plan.function_name
        if "${" in name:
            name = substitute_stage_variables(name, route.stage_variables)
        try:
            async with asyncio.timeout(self.authorizer_timeout_s):
                result = await self.invoker.invoke(name, encode_event(event))
        except TimeoutError:
            raise AuthorizerFailure(
                f"The authorizer function {name} did not answer within {self.authorizer_timeout_s:g} s"
            ) from None
        except FunctionNotFound:
            raise AuthorizerFailure(
                f"Authorizer function not found: {plan.function_arn}", response_type="AUTHORIZER_CONFIGURATION_ERROR"
            ) from None
        except (FunctionThrottled, RequestTooLarge) as error:
            raise AuthorizerFailure(f"The authorizer function {name} could not be invoked: {error}") from None
        if result.function_error:
            raise AuthorizerFailure(function_error_detail(result.payload))
        try:
            return parse_authorizer_response(plan, result.payload)
        except InvalidAuthorizerResponse as error:
            raise AuthorizerFailure(f"The authorizer function {name} returned an invalid response: {error}") from None

    def _cached(self, key: _CacheKey) -> AuthorizerAnswer | None:
        entry = self._cache.get(key)
        if entry is None:
            return None
        expires, answer = entry
        if self._monotonic() >= expires:
            del self._cache[key]
            return None
        self._cache.move_to_end(key)
        return answer

    def _store(self, key: _CacheKey, answer: AuthorizerAnswer, ttl_s: int) -> None:
        self._cache[key] = (self._monotonic() + ttl_s, answer)
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_entries:
            self._cache.popitem(last=False)
