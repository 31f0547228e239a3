"""JWT authorizers against a real issuer: a loopback HTTP server publishing an OIDC discovery document and
a JWKS of freshly generated RSA and EC keys, tokens signed by PyJWT. No mocks.

Every refusal is AWS's: 401 `{"message":"Unauthorized"}` with `www-authenticate: Bearer scope="" error=
"invalid_token" error_description="..."`, and 403 `{"message":"Forbidden"}` for a missing scope.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import uvloop
from cryptography.hazmat.primitives import serialization

import stageway.auth.jwt as jwt_module
from stageway.auth import (
    Authorizers,
    AuthResult,
    AuthUnauthorized,
    JwtAuthorizerPlan,
    RouteAuth,
    compile_authorizer,
)
from stageway.auth.authorizers import VERIFIED_TOKEN_TTL_S
from stageway.auth.jwt import render_claims
from stageway.core.errors import GatewayError
from stageway.core.http import GatewayResponse
from stageway.functions import InvocationResult
from tests.support.auth_requests import make_request, make_route, run
from tests.support.jwks_server import IssuerKey, JwksServer

AUDIENCE = "app-client"
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]


class NoFunctions:
    """JWT authorizers never invoke a function."""

    async def invoke(self, name: str, payload: bytes) -> InvocationResult:
        raise AssertionError("no function should run")


class Clock:
    """A monotonic clock the test moves forward, to step past the JWKS refresh interval."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = uvloop.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def issuer() -> Iterator[JwksServer]:
    with JwksServer() as server:
        for alg in ALGORITHMS:
            server.add_key(alg, kid=f"main-{alg.lower()}")
        yield server


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def authorizers(loop: asyncio.AbstractEventLoop, clock: Clock) -> Iterator[Authorizers]:
    authorizers = Authorizers(invoker=NoFunctions(), monotonic=clock)
    yield authorizers
    run(loop, authorizers.close())


def plan_for(server: JwksServer, *, identity_source: str = "$request.header.Authorization",
             audience: list[str] | None = None) -> JwtAuthorizerPlan:
    plan = compile_authorizer(
        {
            "authorizerId": "jwt123",
            "authorizerType": "JWT",
            "name": "issuer",
            "identitySource": [identity_source],
            "jwtConfiguration": {"issuer": server.issuer, "audience": audience or [AUDIENCE]},
        },
        region="eu-west-1",
        account_id="111122223333",
    )
    assert isinstance(plan, JwtAuthorizerPlan)
    return plan


def authorize(
    loop: asyncio.AbstractEventLoop,
    authorizers: Authorizers,
    plan: JwtAuthorizerPlan,
    authorization: str | None,
    *,
    scopes: tuple[str, ...] = (),
    query: str = "",
) -> AuthResult:
    headers = [] if authorization is None else [("Authorization", authorization)]
    request = make_request(headers=headers, query=query)
    return run(loop, authorizers.authorize(RouteAuth("JWT", plan, scopes), request, make_route(request)))


def refusal(loop: asyncio.AbstractEventLoop, authorizers: Authorizers, plan: JwtAuthorizerPlan,
            authorization: str | None, **options: Any) -> tuple[GatewayError, GatewayResponse]:
    with pytest.raises(GatewayError) as info:
        authorize(loop, authorizers, plan, authorization, **options)
    return info.value, info.value.to_response()


def challenge(description: str, scope: str = "") -> str:
    return f'Bearer scope="{scope}" error="invalid_token" error_description="{description}"'


def header(response: GatewayResponse, name: str) -> str | None:
    return next((value for key, value in response.headers if key == name), None)


def assert_401(response: GatewayResponse, description: str) -> None:
    assert (response.status, response.body) == (401, b'{"message":"Unauthorized"}')
    assert header(response, "www-authenticate") == challenge(description)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def main_key(server: JwksServer, alg: str = "RS256") -> IssuerKey:
    return server.keys[f"main-{alg.lower()}"]


# ------------------------------------------------------------------------------------------ accepted


def test_a_valid_token_passes_and_its_claims_reach_the_integration_as_strings(
    loop: asyncio.AbstractEventLoop, authorizers: Authorizers, issuer: JwksServer
) -> None:
    claims = issuer.claims(aud=AUDIENCE, **{"cognito:groups": ["admins", "ops"], "email_verified": True})
    token = issuer.token(claims, key=main_key(issuer))
    result = authorize(loop, authorizers, plan_for(issuer), f"Bearer {token}")
    expected = {
        "iss": issuer.issuer,
        "sub": "user-1",
        "aud": AUDIENCE,
        "iat": str(claims["iat"]),
        "nbf": str(claims["nbf"]),
        "exp": str(claims["exp"]),
        "cognito:groups": "[admins ops]",
        "email_verified": "true",
    }
    # Payload 2.0: `jwt.claims`, and `scopes` null on a route without authorizationScopes.
    assert result.v2 == {"jwt": {"claims": expected, "scopes": None}}
    assert result.v1 == {"claims": expected, "scopes": None}
    assert result.context_vars["claims.sub"] == "user-1"
    assert result.context_vars["claims.cognito:groups"] == "[admins ops]"


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_every_asymmetric_algorithm(
    loop: asyncio.AbstractEventLoop, authorizers: Authorizers, issuer: JwksServer, alg: str
) -> None:
    token = issuer.token(issuer.claims(aud=AUDIENCE), key=main_key(issuer, alg))
    assert authorize(loop, authorizers, plan_for(issuer), f"Bearer {token}").v2 is not None


@pytest.mark.parametrize("prefix", ["", "Bearer ", "bearer ", "BEARER  "])
def test_the_bearer_prefix_is_optional(
    loop: asyncio.AbstractEventLoop, authorizers: Authorizers, issuer: JwksServer, prefix: str
) -> None:
    token = issuer.token(issuer.claims(aud=AUDIENCE), key=main_key(issuer))
    assert authorize(loop, authorizers, plan_for(issuer), prefix + token).v2 is not None


def test_token_in_the_query_string(loop: asyncio.AbstractEventLoop, authorizers: Authorizers, issuer: JwksServer) -> None:
    token = issuer.token(issuer.claims(aud=AUDIENCE), key=main_key(issuer))
    plan = plan_for(issuer, identity_source="$request.querystring.access_token")
    assert authorize(loop, authorizers, plan, None, query=f"access_token={token}").v2 is not None


def test_client_id_counts_only_without_aud(
    loop: asyncio.AbstractEventLoop, authorizers: Authorizers, issuer: JwksServer
) -> None:
    plan = plan_for(issuer)
    # Cognito access tokens carry `client_id` and no `aud`.
    access = issuer.token(issuer.claims(client_id=AUDIENCE), key=main_key(issuer))
    assert authorize(loop, authorizers, plan, f"Bearer {access}").v2 is not None
    # "When both aud and client_id are present, API Gateway evaluates aud."
    both = issuer.token(issuer.claims(aud="other", client_id=AUDIENCE), key=main_key(issuer))
    _, response = refusal(loop, authorizers, plan, f"Bearer {both}")
    assert_401(response, "the token does not have a valid audience")
    listed = issuer.token(issuer.claims(aud=["x", AUDIENCE]), key=main_key(issuer))
    assert authorize(loop, authorizers, plan, f"Bearer {listed}").v2 is not None


def test_a_jwk_without_alg_is_used_with_the_tokens_algorithm(
    loop: asyncio.AbstractEventLoop, authorizers: Authorizers, issuer: JwksServer
) -> None:
    key = issuer.add_key("RS512", jwk_alg=False)
    token = issuer.token(issuer.claims(aud=AUDIENCE), key=key)
    assert authorize(loop, authorizers, plan_for(issuer), token).v2 is not None


# ------------------------------------------------------------------------------------------ refused


@pytest.mark.parametrize(
    ("claims", "description"),
    [
        ({"aud": "someone-else"}, "the token does not have a valid audience"),
        ({"aud": None}, "the token does not have a valid audience"),
        ({"iss": "https://evil.example/pool"}, "issuer does not match"),
        ({"exp": -60}, "the token has expired"),
        ({"exp": 0}, "the token has expired"),
        ({"nbf": 600}, "the token is not valid yet"),
        ({"iat": 600}, "the token was issued in the future"),
        ({"exp": "tomorrow"}, "the token has an invalid exp claim"),
    ],
    ids=["audience", "no audience", "issuer", "expired", "expiring now", "not yet valid", "issued later", "bad exp"],
)
def test_claims_that_fail(
    loop: asyncio.AbstractEventLoop, authorizers: Authorizers, issuer: JwksServer,
    claims: dict[str, Any], description: str,
) -> None:
    base = issuer.claims(aud=AUDIENCE)
    for name in ("exp", "nbf", "iat"):
        if isinstance(claims.get(name), int):
            claims = {**claims, name: base["iat"] + claims[name]}
    values = {**base, **claims}
    token = issuer.token({name: value for name, value in values.items() if value is not None}, key=main_key(issuer))
    error, response = refusal(loop, authorizers, plan_for(issuer), f"Bearer {token}")
    assert_401(response, description)
    assert isinstance(error, AuthUnauthorized) and error.response_type == "UNAUTHORIZED"
    assert error.authorizer_error == f"invalid_token: {description}"


def test_the_wrong_audience_answer_is_byte_for_byte_awss(
    loop: asyncio.AbstractEventLoop, authorizers: Authorizers, issuer: JwksServer
) -> None:
    token = issuer.token(issuer.claims(aud="nope"), key=main_key(issuer))
    _, response = refusal(loop, authorizers, plan_for(issuer), f"Bearer {token}")
    # http-api-troubleshooting-jwt: 401, 26-byte body, this header.
    assert response.status == 401 and len(response.body) == 26
    assert response.headers == [
        ("content-type", "application/json"),
        ("www-authenticate", 'Bearer scope="" error="invalid_token" error_description="the token does not have a valid audience"'),
    ]


@pytest.mark.parametrize("authorization", [None, "", "Bearer ", "Bearer    "])
def test_no_token_gets_the_bare_challenge(
    loop: asyncio.AbstractEventLoop, authorizers: Authorizers, issuer: JwksServer, authorization: str | None
) -> None:
    error, response = refusal(loop, authorizers, plan_for(issuer), authorization)
    assert (response.status, header(response, "www-authenticate")) == (401, "Bearer")
    assert isinstance(error, AuthUnauthorized) and error.authorizer_error == "missing: token not provided"


@pytest.mark.parametrize(
    ("token", "description"),
    [
        ("not-a-token", "token contains an invalid number of segments"),
        ("a.b", "token contains an invalid number of segments"),
        ("a.b.c.d", "token contains an invalid number of segments"),
        ("!!!.e30.sig", "token is malformed"),
        (b64(b'{"alg":"RS256"}') + ".e30.c2ln", "the token has no key id (kid)"),
        (b64(b'{"alg":"XX999","kid":"k"}') + ".e30.c2ln", "signing method is invalid"),
    ],
)
def test_unreadable_tokens(
    loop: asyncio.AbstractEventLoop, authorizers: Authorizers, issuer: JwksServer, token: str, description: str
) -> None:
    _, response = refusal(loop, authorizers, plan_for(issuer), f"Bearer {token}")
    assert_401(response, description)


def test_alg_none_is_never_accepted(loop: asyncio.AbstractEventLoop, authorizers: Authorizers, issuer: JwksServer) -> None:
    kid = main_key(issuer).kid
    for alg in ("none", "None", "NONE"):
        token = f"{b64(json.dumps({'alg': alg, 'kid': kid}).encode())}.{b64(orjson.dumps(issuer.claims(aud=AUDIENCE)))}."
        _, response = refusal(loop, authorizers, plan_for(issuer), f"Bearer {token}")
        assert_401(response, "'none' signature type is not allowed")


def test_hs256_signed_with_the_public_key_is_refused(
    loop: asyncio.AbstractEventLoop, authorizers: Authorizers, issuer: JwksServer
) -> None:
    # The classic algorithm confusion: the attacker knows the public key and uses it as an HMAC secret.
    key = main_key(issuer)
    public_pem = key.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = f"{b64(json.dumps({'alg': 'HS256', 'kid': key.kid}).encode())}.{b64(orjson.dumps(issuer.claims(aud=AUDIENCE)))}"
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    _, response = refusal(loop, authorizers, plan_for(issuer), f"Bearer {signing_input}.{b64(signature)}")
    assert_401(response, "signing method is invalid")


def test_a_tampered_payload_fails_the_signature(
    loop: asyncio.AbstractEventLoop, authorizers: Authorizers, issuer: JwksServer
) -> None:
    for alg in ("RS256", "ES256", "PS256"):
        header_part, _, signature = issuer.token(issuer.claims(aud=AUDIENCE), key=main_key(issuer, alg)).split(".")
        forged = b64(orjson.dumps(issuer.claims(aud=AUDIENCE, sub="admin")))
        _, response = refusal(loop, authorizers, plan_for(issuer), f"Bearer {header_part}.{forged}.{signature}")
        assert_401(response, "signature is invalid")


def test_a_key_the_issuer_does_not_publish_fails_even_with_a_known_kid(
    loop: asyncio.AbstractEventLoop, authorizers: Authorizers, issuer: JwksServer
) -> None:
    stranger = issuer.add_key("RS256", publish=False)
    token = issuer.token(issuer.claims(aud=AUDIENCE), key=stranger, headers={"kid": main_key(issuer).kid})
    _, response = refusal(loop, authorizers, plan_for(issuer), f"Bearer {token}")
    assert_401(response, "signature is invalid")


def test_the_key_type_must_fit_the_algorithm(
    loop: asyncio.AbstractEventLoop, authorizers: Authorizers, issuer: JwksServer
) -> None:
    # An EC key named by an RS256 token, and an ES256 token naming a P-384 key.
    rsa_signed = issuer.token(issuer.claims(aud=AUDIENCE), key=main_key(issuer), headers={"kid": "main-es256"})
    _, response = refusal(loop, authorizers, plan_for(issuer), f"Bearer {rsa_signed}")
    assert_401(response, "signing method is invalid")
    es256 = issuer.token(issuer.claims(aud=AUDIENCE), key=main_key(issuer, "ES256"), headers={"kid": "main-es384"})
    _, response = refusal(loop, authorizers, plan_for(issuer), f"Bearer {es256}")
    assert_401(response, "signing method is invalid")


# ------------------------------------------------------------------------------------------- scopes


def test_scopes(loop: asyncio.AbstractEventLoop, authorizers: Authorizers, issuer: JwksServer) -> None:
    plan, route_scopes = plan_for(issuer), ("pets/write", "pets/admin")
    reader = issuer.token(issuer.claims(aud=AUDIENCE, scope="pets/read"), key=main_key(issuer))
    _, response = refusal(loop, authorizers, plan, f"Bearer {reader}", scopes=route_scopes)
    assert (response.status, response.body) == (403, b'{"message":"Forbidden"}')
    assert header(response, "www-authenticate") == (
        'Bearer scope="pets/write pets/admin" error="insufficient_scope" '
        'error_description="the token does not have the required scopes"'
    )
    writer = issuer.token(issuer.claims(aud=AUDIENCE, scope="pets/read pets/write"), key=main_key(issuer))
    result = authorize(loop, authorizers, plan, f"Bearer {writer}", scopes=route_scopes)
    assert result.v2 is not None and result.v2["jwt"]["scopes"] == ["pets/read", "pets/write"]
    # `scp` as a list (Okta, Entra ID) works the same.
    listed = issuer.token(issuer.claims(aud=AUDIENCE, scp=["pets/admin"]), key=main_key(issuer))
    assert authorize(loop, authorizers, plan, f"Bearer {listed}", scopes=route_scopes).v1 == {
        "claims": render_claims(issuer.claims(aud=AUDIENCE, scp=["pets/admin"]) | _times(listed)),
        "scopes": ["pets/admin"],
    }
    # An invalid token on a scoped route names the route's scopes in its challenge.
    _, response = refusal(loop, authorizers, plan, "Bearer x.y", scopes=route_scopes)
    assert header(response, "www-authenticate") == challenge(
        "token contains an invalid number of segments", "pets/write pets/admin"
    )


def _times(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return {name: claims[name] for name in ("iat", "nbf", "exp")}


# -------------------------------------------------------------------------------------------- JWKS


def test_keys_are_fetched_once_not_per_request(loop: asyncio.AbstractEventLoop, issuer: JwksServer) -> None:
    with JwksServer() as server:
        key = server.add_key("RS256")
        authorizers = Authorizers(invoker=NoFunctions())
        plan = plan_for(server)
        tokens = [server.token(server.claims(aud=AUDIENCE, sub=f"u{n}"), key=key) for n in range(20)]

        async def many() -> list[AuthResult]:
            # Concurrent first requests share one fetch.
            return await asyncio.gather(
                *(authorizers.authorize(RouteAuth("JWT", plan), request, make_route(request))
                  for request in (make_request(headers=[("authorization", token)]) for token in tokens))
            )

        assert len(run(loop, many())) == 20
        assert run(loop, many())[0].v2 is not None
        assert (server.count("/openid-configuration"), server.jwks_fetches) == (1, 1)
        run(loop, authorizers.close())


def test_key_rotation_unknown_kid_refreshes_once_per_interval(
    loop: asyncio.AbstractEventLoop, issuer: JwksServer, clock: Clock
) -> None:
    with JwksServer() as server:
        old = server.add_key("RS256")
        authorizers = Authorizers(invoker=NoFunctions(), monotonic=clock)
        plan = plan_for(server)
        assert authorize(loop, authorizers, plan, server.token(server.claims(aud=AUDIENCE), key=old)).v2
        assert server.jwks_fetches == 1

        # The issuer rotates: a token signed with a key published after the gateway fetched the set.
        new = server.add_key("ES256")
        token = server.token(server.claims(aud=AUDIENCE), key=new)
        # Within the refresh interval the unknown kid is refused without asking the issuer again...
        clock.now += 1
        _, response = refusal(loop, authorizers, plan, token)
        assert_401(response, "no key in the issuer's key set matches the token's kid")
        # ... and a flood of made-up kids does not hammer it.
        for n in range(50):
            forged = server.token(server.claims(aud=AUDIENCE), key=old, headers={"kid": f"made-up-{n}"})
            refusal(loop, authorizers, plan, forged)
        assert server.jwks_fetches == 1
        # Once the interval has passed, the unknown kid makes the gateway fetch the set again: accepted.
        clock.now += 10
        assert authorize(loop, authorizers, plan, token).v2 is not None
        assert server.jwks_fetches == 2
        # The old key still works while it is published.
        assert authorize(loop, authorizers, plan, server.token(server.claims(aud=AUDIENCE), key=old)).v2
        assert server.jwks_fetches == 2
        run(loop, authorizers.close())


def test_an_unreachable_issuer_is_refused_then_retried(
    loop: asyncio.AbstractEventLoop, issuer: JwksServer, clock: Clock
) -> None:
    with JwksServer() as server:
        key = server.add_key("RS256")
        authorizers = Authorizers(invoker=NoFunctions(), monotonic=clock)
        plan = plan_for(server)
        token = server.token(server.claims(aud=AUDIENCE), key=key)
        server.fail_status = 503
        _, response = refusal(loop, authorizers, plan, token)
        assert_401(response, "the issuer's signing keys could not be fetched")
        server.fail_status = None
        # A failure is not remembered for long (ministack#999 cached one for two hours).
        clock.now += 10
        assert authorize(loop, authorizers, plan, token).v2 is not None
        # Once keys are known, a failing refresh keeps them.
        server.fail_status = 500
        clock.now += 10
        stranger = server.token(server.claims(aud=AUDIENCE), key=key, headers={"kid": "rotated"})
        refusal(loop, authorizers, plan, stranger)
        assert authorize(loop, authorizers, plan, token).v2 is not None
        run(loop, authorizers.close())


def test_oversized_and_slow_key_sets_are_refused(loop: asyncio.AbstractEventLoop, issuer: JwksServer) -> None:
    with JwksServer() as server:
        key = server.add_key("RS256")
        token = server.token(server.claims(aud=AUDIENCE), key=key)
        server.padding_bytes = 150_000
        authorizers = Authorizers(invoker=NoFunctions())
        _, response = refusal(loop, authorizers, plan_for(server), token)
        assert_401(response, "the issuer's signing keys could not be fetched")
        run(loop, authorizers.close())

        server.padding_bytes = 0
        server.delay_s = 0.5
        authorizers = Authorizers(invoker=NoFunctions(), http_timeout_s=0.2)
        _, response = refusal(loop, authorizers, plan_for(server), token)
        assert_401(response, "the issuer's signing keys could not be fetched")
        run(loop, authorizers.close())


def test_claim_rendering() -> None:
    assert render_claims(
        {
            "s": "text",
            "n": 1767225600,
            "f": 1.5,
            "whole": 2.0,
            "b": False,
            "groups": ["admins", "ops"],
            "mixed": [1, True, "x"],
            "obj": {"a": 1},
            "gone": None,
        }
    ) == {
        "s": "text",
        "n": "1767225600",
        "f": "1.5",
        "whole": "2",
        "b": "false",
        "groups": "[admins ops]",
        "mixed": "[1 true x]",
        "obj": '{"a":1}',
    }


def test_a_verified_token_is_not_verified_again_but_its_claims_are_checked_every_time(
    loop: asyncio.AbstractEventLoop, issuer: JwksServer
) -> None:
    now = [time.time()]
    authorizers = Authorizers(invoker=NoFunctions(), wall_clock=lambda: now[0])
    try:
        plan = plan_for(issuer)
        claims = issuer.claims(aud=AUDIENCE)
        claims["exp"] = int(now[0]) + 60
        token = issuer.token(claims, key=main_key(issuer))
        calls = []
        original = jwt_module.verify_signature

        def counting(*args: Any, **kwargs: Any) -> Any:
            calls.append(1)
            return original(*args, **kwargs)

        jwt_module.verify_signature = counting  # type: ignore[assignment]
        try:
            for _ in range(3):
                authorize(loop, authorizers, plan, f"Bearer {token}")
            assert len(calls) == 1
            # The cached signature does not outlive the token: `exp` is checked on every request.
            now[0] += 120
            _, response = refusal(loop, authorizers, plan, f"Bearer {token}")
            assert response.status == 401
            # A token that differs by one byte is verified afresh (and fails).
            tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
            refusal(loop, authorizers, plan, f"Bearer {tampered}")
            assert len(calls) == 2
        finally:
            jwt_module.verify_signature = original  # type: ignore[assignment]
    finally:
        run(loop, authorizers.close())


def test_result_without_io_answers_only_what_the_authorizer_would_let_through_at_once(
    loop: asyncio.AbstractEventLoop, issuer: JwksServer
) -> None:
    # The lanes' question (server/proxy_lane.py): the cached result, or None to leave the request to the pipeline.
    now = [time.time()]
    ticks = [0.0]
    authorizers = Authorizers(invoker=NoFunctions(), wall_clock=lambda: now[0], monotonic=lambda: ticks[0])
    try:
        plan = plan_for(issuer)
        claims = issuer.claims(aud=AUDIENCE, scope="pets/read")
        claims["exp"] = int(now[0]) + 60
        token = issuer.token(claims, key=main_key(issuer))
        assert authorizers.result_without_io(plan, (), f"Bearer {token}") is None  # never verified: nothing fetched
        passed = authorize(loop, authorizers, plan, f"Bearer {token}")
        assert authorizers.result_without_io(plan, (), f"Bearer {token}") is passed
        assert authorizers.result_without_io(plan, (), token) is passed  # the bare token is the same token
        assert authorizers.result_without_io(plan, (), f"Bearer {token}x") is None
        # Other scopes: checked by the pipeline first (a refusal is never cached), then answered here.
        assert authorizers.result_without_io(plan, ("pets/read",), token) is None
        scoped = authorize(loop, authorizers, plan, token, scopes=("pets/read",))
        assert authorizers.result_without_io(plan, ("pets/read",), token) is scoped
        refusal(loop, authorizers, plan, token, scopes=("pets/write",))
        assert authorizers.result_without_io(plan, ("pets/write",), token) is None
        # Another audience (a new configuration of the authorizer): the pipeline's.
        assert authorizers.result_without_io(plan_for(issuer, audience=["other"]), (), token) is None
        # Expired by the clock, though still cached: None, and the pipeline answers 401.
        now[0] += 120
        assert authorizers.result_without_io(plan, (), token) is None
        now[0] -= 120
        # The verification itself is remembered for VERIFIED_TOKEN_TTL_S only.
        ticks[0] += VERIFIED_TOKEN_TTL_S + 1
        assert authorizers.result_without_io(plan, (), token) is None
    finally:
        run(loop, authorizers.close())
