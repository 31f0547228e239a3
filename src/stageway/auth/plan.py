"""Compiled authorizers: an apigatewayv2 authorizer document checked once and turned into a frozen plan.

`compile_authorizer(doc, region=..., account_id=...)` runs when a deployment is compiled; the request path
only reads the plan. `authorizer_errors(fields)` is the same validation as a list, so the YAML loader can
report every problem at its line and the control plane can answer with the first one.

The rules are AWS's (spec §1.5, §7; CreateAuthorizer's documentation): a JWT authorizer has exactly one
identity source, a header or a query-string parameter, and a `jwtConfiguration` with an issuer and at most
50 audiences; a REQUEST (Lambda) authorizer has a Lambda function URI, a payload format version, simple
responses only with 2.0, a result TTL of 0..3600 seconds and, when the TTL is positive, at least one
identity source.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson

from stageway.auth.identity_sources import (
    JWT_DEFAULT_IDENTITY_SOURCE,
    IdentitySource,
    IdentitySourceError,
    parse_identity_source,
)
from stageway.core.validation import PAYLOAD_FORMAT_VERSIONS, ValidationError, parse_lambda_arn

AUTHORIZER_TYPES = ("JWT", "REQUEST")
MAX_AUDIENCES = 50  # quota "Audiences per authorizer" (spec §11.3)
MIN_TTL_S, MAX_TTL_S = 0, 3600
MAX_NAME_LENGTH = 128
REQUEST_ONLY_FIELDS = (
    "authorizerCredentialsArn",
    "authorizerPayloadFormatVersion",
    "authorizerResultTtlInSeconds",
    "authorizerUri",
    "enableSimpleResponses",
)


class AuthorizerConfigError(ValueError):
    """The authorizer document is refused; `errors` holds every problem found."""

    def __init__(self, errors: list[ValidationError]) -> None:
        super().__init__("; ".join(error.message for error in errors))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class JwtAuthorizerPlan:
    authorizer_id: str
    name: str
    identity_source: IdentitySource
    issuer: str
    audiences: frozenset[str]
    fingerprint: str
    """Digest of the document: results cached for one configuration are never served for another."""

    @property
    def discovery_url(self) -> str:
        """OpenID Connect discovery: `{issuer}/.well-known/openid-configuration` (spec §7.1 step 3)."""
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"


@dataclass(frozen=True, slots=True)
class LambdaAuthorizerPlan:
    authorizer_id: str
    name: str
    identity_sources: tuple[IdentitySource, ...]
    function_name: str
    """May hold `${stageVariables.x}`, resolved per request as for integrations."""
    function_arn: str
    payload_format_version: str
    simple_responses: bool
    result_ttl_s: int
    fingerprint: str

    @property
    def caches_results(self) -> bool:
        """AWS caches only with a positive TTL and at least one identity source to key the cache on."""
        return self.result_ttl_s > 0 and bool(self.identity_sources)


AuthorizerPlan = JwtAuthorizerPlan | LambdaAuthorizerPlan


@dataclass(frozen=True, slots=True)
class RouteAuth:
    """How one route is authorized: `NONE`, `AWS_IAM`, `JWT` or `CUSTOM` with its compiled authorizer."""

    authorization_type: str
    authorizer: AuthorizerPlan | None
    """None for NONE and AWS_IAM, and for a JWT/CUSTOM route whose authorizer could not be compiled
    (every request to it then fails with 500, never passes unchecked)."""
    scopes: tuple[str, ...] = ()


OPEN_ROUTE = RouteAuth("NONE", None)


def compile_authorizer(doc: Mapping[str, Any], *, region: str, account_id: str) -> AuthorizerPlan:
    """The plan for one authorizer document (apigatewayv2's wire shape); raises AuthorizerConfigError.

    `region` and `account_id` are the gateway's; they are kept in the signature the compiler calls with so
    that plans never need to be rebuilt when a rule starts to depend on them."""
    errors = authorizer_errors(doc)
    if errors:
        raise AuthorizerConfigError(errors)
    fingerprint = hashlib.sha256(orjson.dumps(dict(doc), option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]
    authorizer_id = str(doc.get("authorizerId", ""))
    sources = list(doc.get("identitySource") or [])
    if doc["authorizerType"] == "JWT":
        jwt_config = doc["jwtConfiguration"]
        return JwtAuthorizerPlan(
            authorizer_id=authorizer_id,
            name=doc["name"],
            identity_source=parse_identity_source(
                sources[0] if sources else JWT_DEFAULT_IDENTITY_SOURCE, jwt=True
            ),
            issuer=jwt_config["issuer"],
            audiences=frozenset(jwt_config.get("audience") or ()),
            fingerprint=fingerprint,
        )
    arn = parse_lambda_arn(doc["authorizerUri"])
    assert arn is not None  # checked by authorizer_errors
    return LambdaAuthorizerPlan(
        authorizer_id=authorizer_id,
        name=doc["name"],
        identity_sources=tuple(parse_identity_source(source) for source in sources),
        function_name=arn.name,
        function_arn=arn.function_arn,
        payload_format_version=str(doc["authorizerPayloadFormatVersion"]),
        simple_responses=bool(doc.get("enableSimpleResponses", False)),
        result_ttl_s=int(doc.get("authorizerResultTtlInSeconds") or 0),
        fingerprint=fingerprint,
    )


def compile_route_auth(route: Mapping[str, Any], authorizers: Mapping[str, AuthorizerPlan]) -> RouteAuth:
    """A route document's authorization: `authorizers` are the deployment's compiled plans by id (the ones
    that failed to compile left out)."""
    authorization_type = route.get("authorizationType") or "NONE"
    if authorization_type == "NONE":
        return OPEN_ROUTE
    scopes = tuple(route.get("authorizationScopes") or ())
    if authorization_type == "AWS_IAM":
        return RouteAuth("AWS_IAM", None, scopes)
    plan = authorizers.get(route.get("authorizerId") or "")
    wanted = JwtAuthorizerPlan if authorization_type == "JWT" else LambdaAuthorizerPlan
    return RouteAuth(authorization_type, plan if isinstance(plan, wanted) else None, scopes)


def authorizer_errors(fields: Mapping[str, Any]) -> list[ValidationError]:
    """Every problem CreateAuthorizer would find in these fields; `ValidationError.field` names the field.

    Messages are in AWS's manner; the ones AWS is known to use are marked where the control plane has
    them ([EMU: moto] for the payload format version)."""
    errors: list[ValidationError] = []
    name = fields.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME_LENGTH:
        errors.append(ValidationError(f"Authorizer name must be 1 to {MAX_NAME_LENGTH} characters long", ("name",)))
    authorizer_type = fields.get("authorizerType")
    if authorizer_type not in AUTHORIZER_TYPES:
        errors.append(
            ValidationError(
                f"Invalid authorizer type specified: {authorizer_type}. Valid values are JWT, REQUEST",
                ("authorizerType",),
            )
        )
        return errors
    sources = fields.get("identitySource")
    if sources is None:
        sources = []
    if not isinstance(sources, list) or not all(isinstance(source, str) for source in sources):
        errors.append(ValidationError("identitySource must be a list of strings", ("identitySource",)))
        sources = []
    elif len(set(sources)) != len(sources):
        errors.append(ValidationError("Identity sources must be unique", ("identitySource",)))
    if authorizer_type == "JWT":
        errors.extend(_jwt_errors(fields, sources))
    else:
        errors.extend(_request_errors(fields, sources))
    return errors


def _jwt_errors(fields: Mapping[str, Any], sources: Sequence[str]) -> list[ValidationError]:
    errors = []
    for key in REQUEST_ONLY_FIELDS:
        # The console sends a TTL of 0 with JWT authorizers; AWS accepts that one.
        if key in fields and not (key == "authorizerResultTtlInSeconds" and fields[key] == 0):
            errors.append(ValidationError(f"{key[0].upper()}{key[1:]} is only supported for REQUEST authorizers", (key,)))
    if len(sources) > 1:
        errors.append(
            ValidationError(
                "A JWT authorizer needs exactly one identity source: $request.header.{name} or "
                "$request.querystring.{name}",
                ("identitySource",),
            )
        )
    for source in sources[:1]:
        try:
            parse_identity_source(source, jwt=True)
        except IdentitySourceError as error:
            errors.append(ValidationError(str(error), ("identitySource",)))
    config = fields.get("jwtConfiguration")
    if not isinstance(config, Mapping) or not config.get("issuer"):
        errors.append(
            ValidationError("JwtConfiguration with an issuer is required for JWT authorizers", ("jwtConfiguration",))
        )
        return errors
    issuer = config["issuer"]
    if not isinstance(issuer, str) or not _is_http_url(issuer):
        errors.append(
            ValidationError(
                f"Invalid issuer specified: {issuer}. The issuer must be an http(s) URL",
                ("jwtConfiguration", "issuer"),
            )
        )
    audience = config.get("audience")
    if audience is not None and (
        not isinstance(audience, list) or not all(isinstance(entry, str) and entry for entry in audience)
    ):
        errors.append(
            ValidationError("audience must be a list of non-empty strings", ("jwtConfiguration", "audience"))
        )
    elif audience is not None and len(audience) > MAX_AUDIENCES:
        errors.append(
            ValidationError(
                f"A JWT authorizer can have at most {MAX_AUDIENCES} audiences", ("jwtConfiguration", "audience")
            )
        )
    return errors


def _request_errors(fields: Mapping[str, Any], sources: Sequence[str]) -> list[ValidationError]:
    errors = []
    if "jwtConfiguration" in fields:
        errors.append(
            ValidationError("JwtConfiguration is only supported for JWT authorizers", ("jwtConfiguration",))
        )
    uri = fields.get("authorizerUri")
    if not uri:
        errors.append(
            ValidationError("AuthorizerUri is a required parameter for REQUEST authorizer", ("authorizerUri",))
        )
    elif not isinstance(uri, str) or parse_lambda_arn(uri) is None:
        errors.append(ValidationError(f"Invalid authorizer URI specified: {uri}", ("authorizerUri",)))
    version = fields.get("authorizerPayloadFormatVersion")
    if version is None:
        errors.append(
            ValidationError(
                "AuthorizerPayloadFormatVersion is a required parameter for REQUEST authorizer",
                ("authorizerPayloadFormatVersion",),
            )
        )
    elif version not in PAYLOAD_FORMAT_VERSIONS:
        errors.append(
            ValidationError(
                f"AuthorizerPayloadFormatVersion {version} is not supported", ("authorizerPayloadFormatVersion",)
            )
        )
    simple = fields.get("enableSimpleResponses", False)
    if not isinstance(simple, bool):
        errors.append(ValidationError("enableSimpleResponses must be true or false", ("enableSimpleResponses",)))
    elif simple and version == "1.0":
        # [DOC] simple responses exist only in payload format 2.0 (spec §1.5).
        errors.append(
            ValidationError(
                "EnableSimpleResponses is only supported with AuthorizerPayloadFormatVersion 2.0",
                ("enableSimpleResponses",),
            )
        )
    ttl = fields.get("authorizerResultTtlInSeconds", 0)
    if not isinstance(ttl, int) or isinstance(ttl, bool) or not MIN_TTL_S <= ttl <= MAX_TTL_S:
        errors.append(
            ValidationError(
                f"AuthorizerResultTtlInSeconds must be between {MIN_TTL_S} and {MAX_TTL_S} seconds",
                ("authorizerResultTtlInSeconds",),
            )
        )
    elif ttl > 0 and not sources:
        # [DOC] "To enable caching, your authorizer must have at least one identity source."
        errors.append(
            ValidationError(
                "Identity sources are required when authorizer caching is enabled", ("identitySource",)
            )
        )
    for source in sources:
        try:
            parse_identity_source(source)
        except IdentitySourceError as error:
            errors.append(ValidationError(str(error), ("identitySource",)))
    return errors


def _is_http_url(text: str) -> bool:
    try:
        parts = urlsplit(text)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not any(c.isspace() for c in text)
