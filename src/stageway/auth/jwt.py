"""JWT authorizers: the token checks of AWS's workflow and the claims the integration receives (spec §7.1).

AWS's workflow (http-api-jwt-authorizer, "Authorizing API requests with a JWT authorizer"):
1. read the token from the identity source; "the identitySource can include only the token, or the token
   prefixed with Bearer";
2. decode it;
3. check its algorithm and signature with a key from the issuer's `jwks_uri` (`kid` must name one);
4. check `iss` (equal to the issuer), `aud` or, only when `aud` is absent, `client_id` (one of the
   audiences), `exp` (after now), `nbf` and `iat` (before now), and, when the route has
   `authorizationScopes`, `scope` or `scp` (at least one of them).

Failures answer 401 `{"message":"Unauthorized"}` with `www-authenticate: Bearer scope="" error="invalid_token"
error_description="..."` (http-api-troubleshooting-jwt); a valid token without a required scope answers 403.
Signatures are checked by PyJWT (`jwt.PyJWS`), never by hand; `none` and HMAC algorithms are never accepted.

Only the checks themselves live here (pure functions over the token and a key); fetching keys is `jwks`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
import orjson

from stageway.auth.jwks import SigningKey
from stageway.auth.plan import JwtAuthorizerPlan
from stageway.auth.result import AuthForbidden, AuthResult, AuthUnauthorized

# AWS documents RSA ("Currently, only RSA-based algorithms are supported"); ES* are accepted as well, as
# API Gateway's newer JWT authorizers accept them. HS* (a shared secret) and `none` never are.
ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"})
_EC_CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}

# `www-authenticate` descriptions. "the token does not have a valid audience" is AWS's [DOC]; "token
# contains an invalid number of segments" was observed on AWS for `Bearer not-a-token`, and AWS logged
# "missing: token not provided" and "issuer does not match" as `$context.authorizer.error` [OBS: user
# reports]. The rest are ours, in the same voice [INF]. None of them ever quotes the token.
NO_TOKEN = "token not provided"
BAD_SEGMENTS = "token contains an invalid number of segments"
MALFORMED = "token is malformed"
BAD_ALGORITHM = "signing method is invalid"
NONE_ALGORITHM = "'none' signature type is not allowed"
NO_KID = "the token has no key id (kid)"
UNKNOWN_KID = "no key in the issuer's key set matches the token's kid"
KEYS_UNAVAILABLE = "the issuer's signing keys could not be fetched"
BAD_SIGNATURE = "signature is invalid"
BAD_ISSUER = "issuer does not match"
BAD_AUDIENCE = "the token does not have a valid audience"
EXPIRED = "the token has expired"
NOT_YET_VALID = "the token is not valid yet"
ISSUED_IN_FUTURE = "the token was issued in the future"
MISSING_SCOPE = "the token does not have the required scopes"

_BEARER = re.compile(r"^bearer(\s+|$)", re.IGNORECASE)
_UNSAFE_IN_QUOTES = re.compile(r'["\\\x00-\x1f\x7f]')


@dataclass(frozen=True, slots=True)
class ParsedToken:
    """A token split and its header read; the signature is not checked yet."""

    token: str
    alg: str
    kid: str


def strip_bearer(value: str) -> str:
    """The token of an identity-source value: AWS accepts the bare token or `Bearer <token>`."""
    return _BEARER.sub("", value.strip(), count=1)


def missing_token() -> AuthUnauthorized:
    """No token at all: AWS answers with the bare challenge `www-authenticate: Bearer` [OBS]."""
    return AuthUnauthorized(
        f"JWT {NO_TOKEN}", authorizer_error=f"missing: {NO_TOKEN}", www_authenticate="Bearer"
    )


def invalid_token(description: str, route_scopes: Iterable[str] = ()) -> AuthUnauthorized:
    """401 with AWS's challenge: `Bearer scope="..." error="invalid_token" error_description="..."`."""
    return AuthUnauthorized(
        f"JWT rejected: {description}",
        authorizer_error=f"invalid_token: {description}",
        www_authenticate=_challenge(route_scopes, "invalid_token", description),
    )


def parse_token(token: str, route_scopes: Iterable[str] = ()) -> ParsedToken:
    """Split the token and read its header; raises the 401 AWS gives a token it cannot read."""
    if token.count(".") != 2:
        raise invalid_token(BAD_SEGMENTS, route_scopes)
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise invalid_token(MALFORMED, route_scopes) from None
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise invalid_token(MALFORMED, route_scopes)
    if alg.lower() == "none":
        raise invalid_token(NONE_ALGORITHM, route_scopes)
    if alg not in ALGORITHMS:
        raise invalid_token(BAD_ALGORITHM, route_scopes)
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise invalid_token(NO_KID, route_scopes)
    return ParsedToken(token, alg, kid)


def verify_signature(parsed: ParsedToken, key: SigningKey, route_scopes: Iterable[str] = ()) -> dict[str, Any]:
    """The token's claims once its signature checks out with `key`; raises 401 otherwise."""
    if not _key_fits(parsed.alg, key):
        raise invalid_token(BAD_ALGORITHM, route_scopes)
    try:
        decoded = jwt.PyJWS().decode_complete(parsed.token, key=key.key, algorithms=[parsed.alg])
    except jwt.InvalidSignatureError:
        raise invalid_token(BAD_SIGNATURE, route_scopes) from None
    except jwt.PyJWTError:
        raise invalid_token(MALFORMED, route_scopes) from None
    try:
        claims = orjson.loads(decoded["payload"])
    except orjson.JSONDecodeError:
        raise invalid_token(MALFORMED, route_scopes) from None
    if not isinstance(claims, dict):
        raise invalid_token(MALFORMED, route_scopes)
    return claims


def check_claims(
    claims: Mapping[str, Any],
    plan: JwtAuthorizerPlan,
    *,
    now: float,
    leeway_s: float = 0.0,
    route_scopes: Iterable[str] = (),
) -> None:
    """`iss`, `aud`/`client_id`, `exp`, `nbf`, `iat` in AWS's order; raises 401 at the first failure.

    Absent time claims are not required (AWS documents what they must be, not that they must be there)."""
    if claims.get("iss") != plan.issuer:
        raise invalid_token(BAD_ISSUER, route_scopes)
    if not _audience_ok(claims, plan.audiences):
        raise invalid_token(BAD_AUDIENCE, route_scopes)
    exp = _time_claim(claims, "exp", route_scopes)
    if exp is not None and not now < exp + leeway_s:
        raise invalid_token(EXPIRED, route_scopes)
    nbf = _time_claim(claims, "nbf", route_scopes)
    if nbf is not None and now + leeway_s < nbf:
        raise invalid_token(NOT_YET_VALID, route_scopes)
    iat = _time_claim(claims, "iat", route_scopes)
    if iat is not None and now + leeway_s < iat:
        raise invalid_token(ISSUED_IN_FUTURE, route_scopes)


def token_scopes(claims: Mapping[str, Any]) -> list[str]:
    """The token's scopes: `scope` (space-separated, OAuth 2.0) and `scp` (a list, or a string)."""
    scopes: list[str] = []
    for name in ("scope", "scp"):
        value = claims.get(name)
        if isinstance(value, str):
            scopes.extend(value.split())
        elif isinstance(value, list):
            scopes.extend(item for item in value if isinstance(item, str))
    return list(dict.fromkeys(scopes))


def check_scopes(scopes: list[str], route_scopes: tuple[str, ...]) -> None:
    """At least one of the route's `authorizationScopes` must be among the token's; raises 403."""
    if route_scopes and not set(route_scopes) & set(scopes):
        raise AuthForbidden(
            "JWT lacks every scope the route requires",
            authorizer_error=f"insufficient_scope: {MISSING_SCOPE}",
            # AWS's 403 carries a challenge too; its exact text is not documented [INF].
            www_authenticate=_challenge(route_scopes, "insufficient_scope", MISSING_SCOPE),
        )


def jwt_result(claims: Mapping[str, Any], scopes: list[str], route_scopes: tuple[str, ...]) -> AuthResult:
    """What the integration gets: every claim as a string (spec §13 item 14) and, only on routes with
    `authorizationScopes`, the token's scopes (`null` otherwise, as measured on AWS)."""
    rendered = render_claims(claims)
    shown_scopes = scopes if route_scopes else None
    return AuthResult(
        v2={"jwt": {"claims": rendered, "scopes": shown_scopes}},
        v1={"claims": rendered, "scopes": shown_scopes},
        context_vars={f"claims.{name}": value for name, value in rendered.items()},
    )


def render_claims(claims: Mapping[str, Any]) -> dict[str, str]:
    """AWS hands claims on as strings: numbers and booleans as text, arrays as `[a b]`, objects as JSON,
    null claims left out (`"cognito:groups": ["admins", "ops"]` becomes `"[admins ops]"`)."""
    return {name: render_claim(value) for name, value in claims.items() if value is not None}


def render_claim(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, list):
        return "[" + " ".join(render_claim(item) for item in value if item is not None) + "]"
    return orjson.dumps(value).decode()


def _audience_ok(claims: Mapping[str, Any], audiences: frozenset[str]) -> bool:
    # "API Gateway validates client_id only if aud is not present. When both aud and client_id are
    # present, API Gateway evaluates aud." (http-api-troubleshooting-jwt)
    aud = claims.get("aud")
    if aud is None:
        aud = claims.get("client_id")
    if isinstance(aud, str):
        return aud in audiences
    if isinstance(aud, list):
        return any(isinstance(entry, str) and entry in audiences for entry in aud)
    return False


def _time_claim(claims: Mapping[str, Any], name: str, route_scopes: Iterable[str]) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise invalid_token(f"the token has an invalid {name} claim", route_scopes)
    return float(value)


def _key_fits(alg: str, key: SigningKey) -> bool:
    """The key may sign with `alg`: its type matches (and its curve, for EC), and a JWK that names an
    algorithm allows only that one."""
    if key.alg is not None and key.alg != alg:
        return False
    if alg.startswith(("RS", "PS")):
        return key.kty == "RSA"
    return key.kty == "EC" and key.crv == _EC_CURVES.get(alg)


def _challenge(route_scopes: Iterable[str], error: str, description: str) -> str:
    # AWS's form, without commas between the parameters: Bearer scope="" error="..." error_description="..."
    scope = _UNSAFE_IN_QUOTES.sub("", " ".join(route_scopes))
    return f'Bearer scope="{scope}" error="{error}" error_description="{description}"'
