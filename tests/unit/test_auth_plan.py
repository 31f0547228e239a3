"""Authorizer documents compiled into plans, and refused for the reasons CreateAuthorizer refuses them."""

from __future__ import annotations

from typing import Any

import pytest

from stageway.auth import (
    AuthorizerConfigError,
    JwtAuthorizerPlan,
    LambdaAuthorizerPlan,
    RouteAuth,
    authorizer_errors,
    compile_authorizer,
    compile_route_auth,
)
from stageway.auth.identity_sources import SourceKind

LAMBDA_ARN = "arn:aws:lambda:eu-west-1:111122223333:function:gate"
JWT_DOC: dict[str, Any] = {
    "authorizerId": "abc123",
    "authorizerType": "JWT",
    "name": "cognito",
    "identitySource": ["$request.header.Authorization"],
    "jwtConfiguration": {"issuer": "https://issuer.example/pool", "audience": ["app"]},
}
LAMBDA_DOC: dict[str, Any] = {
    "authorizerId": "def456",
    "authorizerType": "REQUEST",
    "name": "gate",
    "authorizerUri": f"arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/{LAMBDA_ARN}/invocations",
    "authorizerPayloadFormatVersion": "2.0",
    "enableSimpleResponses": True,
    "authorizerResultTtlInSeconds": 300,
    "identitySource": ["$request.header.x-token", "$context.routeKey"],
}


def compile_doc(doc: dict[str, Any]) -> Any:
    return compile_authorizer(doc, region="eu-west-1", account_id="111122223333")


def test_jwt_plan() -> None:
    plan = compile_doc(JWT_DOC)
    assert isinstance(plan, JwtAuthorizerPlan)
    assert (plan.authorizer_id, plan.issuer, plan.audiences) == ("abc123", "https://issuer.example/pool", {"app"})
    assert plan.identity_source.kind is SourceKind.HEADER
    assert plan.discovery_url == "https://issuer.example/pool/.well-known/openid-configuration"


def test_jwt_identity_source_defaults_to_the_authorization_header() -> None:
    plan = compile_doc({**JWT_DOC, "identitySource": []})
    assert str(plan.identity_source) == "$request.header.Authorization"


def test_lambda_plan() -> None:
    plan = compile_doc(LAMBDA_DOC)
    assert isinstance(plan, LambdaAuthorizerPlan)
    assert (plan.function_name, plan.function_arn) == ("gate", LAMBDA_ARN)
    assert (plan.payload_format_version, plan.simple_responses, plan.result_ttl_s) == ("2.0", True, 300)
    assert plan.caches_results
    assert [str(source) for source in plan.identity_sources] == LAMBDA_DOC["identitySource"]
    assert not compile_doc({**LAMBDA_DOC, "authorizerResultTtlInSeconds": 0}).caches_results


def test_fingerprint_changes_with_the_document() -> None:
    assert compile_doc(LAMBDA_DOC).fingerprint == compile_doc(dict(LAMBDA_DOC)).fingerprint
    assert compile_doc(LAMBDA_DOC).fingerprint != compile_doc({**LAMBDA_DOC, "name": "other"}).fingerprint


PROBLEMS = [
    ({**JWT_DOC, "name": ""}, ("name",), "Authorizer name must be 1 to 128 characters long"),
    ({**JWT_DOC, "authorizerType": "TOKEN"}, ("authorizerType",), "Invalid authorizer type specified: TOKEN"),
    ({**JWT_DOC, "identitySource": ["$request.header.a", "$request.header.b"]}, ("identitySource",), "exactly one"),
    ({**JWT_DOC, "identitySource": ["$context.routeKey"]}, ("identitySource",), "A JWT authorizer reads its token"),
    ({**JWT_DOC, "jwtConfiguration": {"audience": ["a"]}}, ("jwtConfiguration",), "with an issuer is required"),
    ({**JWT_DOC, "jwtConfiguration": {"issuer": "issuer.example"}}, ("jwtConfiguration", "issuer"), "http(s) URL"),
    (
        {**JWT_DOC, "jwtConfiguration": {"issuer": "https://i", "audience": [str(n) for n in range(51)]}},
        ("jwtConfiguration", "audience"),
        "at most 50 audiences",
    ),
    ({**JWT_DOC, "authorizerUri": LAMBDA_ARN}, ("authorizerUri",), "only supported for REQUEST"),
    ({**LAMBDA_DOC, "authorizerUri": "https://x"}, ("authorizerUri",), "Invalid authorizer URI"),
    ({k: v for k, v in LAMBDA_DOC.items() if k != "authorizerUri"}, ("authorizerUri",), "AuthorizerUri is a required"),
    (
        {k: v for k, v in LAMBDA_DOC.items() if k != "authorizerPayloadFormatVersion"},
        ("authorizerPayloadFormatVersion",),
        "AuthorizerPayloadFormatVersion is a required parameter",
    ),
    ({**LAMBDA_DOC, "authorizerPayloadFormatVersion": "1.0"}, ("enableSimpleResponses",), "only supported with"),
    ({**LAMBDA_DOC, "authorizerResultTtlInSeconds": 3601}, ("authorizerResultTtlInSeconds",), "between 0 and 3600"),
    ({**LAMBDA_DOC, "identitySource": []}, ("identitySource",), "required when authorizer caching is enabled"),
    ({**LAMBDA_DOC, "identitySource": ["$request.body.x"]}, ("identitySource",), "Invalid identity source"),
    ({**LAMBDA_DOC, "identitySource": ["$context.a", "$context.a"]}, ("identitySource",), "must be unique"),
    ({**LAMBDA_DOC, "jwtConfiguration": {"issuer": "https://i"}}, ("jwtConfiguration",), "only supported for JWT"),
]


@pytest.mark.parametrize(("doc", "field", "message"), PROBLEMS)
def test_problems(doc: dict[str, Any], field: tuple[str, ...], message: str) -> None:
    errors = authorizer_errors(doc)
    assert any(error.field == field and message in error.message for error in errors), errors
    with pytest.raises(AuthorizerConfigError):
        compile_doc(doc)


def test_route_auth() -> None:
    jwt_plan, lambda_plan = compile_doc(JWT_DOC), compile_doc(LAMBDA_DOC)
    plans = {"abc123": jwt_plan, "def456": lambda_plan}
    assert compile_route_auth({"authorizationType": "NONE"}, plans) == RouteAuth("NONE", None)
    assert compile_route_auth({}, plans).authorization_type == "NONE"
    assert compile_route_auth({"authorizationType": "AWS_IAM"}, plans) == RouteAuth("AWS_IAM", None)
    route = {"authorizationType": "JWT", "authorizerId": "abc123", "authorizationScopes": ["read"]}
    assert compile_route_auth(route, plans) == RouteAuth("JWT", jwt_plan, ("read",))
    assert compile_route_auth({"authorizationType": "CUSTOM", "authorizerId": "def456"}, plans).authorizer is lambda_plan
    # A missing authorizer, or one of the other type, leaves the route closed (authorize answers 500).
    assert compile_route_auth({"authorizationType": "JWT", "authorizerId": "def456"}, plans).authorizer is None
    assert compile_route_auth({"authorizationType": "CUSTOM", "authorizerId": "gone"}, plans).authorizer is None
