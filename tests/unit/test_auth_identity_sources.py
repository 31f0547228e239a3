"""Identity sources: header names case-insensitive, query names case-sensitive, `$context` and stage
variables; any missing or empty value means "not identified" (401 before the Lambda is invoked)."""

from __future__ import annotations

import pytest

from stageway.auth.identity_sources import (
    IdentitySourceError,
    SourceKind,
    identity_value,
    identity_values,
    parse_identity_source,
)
from tests.support.auth_requests import make_request, make_route


def values(*expressions: str, **request_options: object) -> tuple[str, ...] | None:
    request = make_request(**request_options)  # type: ignore[arg-type]
    route = make_route(request, stage_variables={"tenant": "blue", "empty": ""})
    return identity_values([parse_identity_source(expression) for expression in expressions], request, route)


def test_headers_are_case_insensitive_and_repeats_are_joined() -> None:
    headers = [("X-Token", "a"), ("x-token", "b")]
    assert values("$request.header.X-TOKEN", headers=headers) == ("a,b",)


def test_query_names_are_case_sensitive_and_values_decoded() -> None:
    assert values("$request.querystring.tenant", query="tenant=t%209&Tenant=other") == ("t 9",)
    assert values("$request.querystring.TENANT", query="tenant=t9") is None


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("$context.routeKey", "GET /pets/{id}"),
        ("$context.stage", "prod"),
        ("$context.httpMethod", "GET"),
        ("$context.identity.sourceIp", "198.51.100.7"),
        ("$context.identity.userAgent", "pytest"),
        ("$context.path", "/prod/pets/7"),
        ("$context.apiId", "k3xq9zw1ab"),
        ("$context.domainPrefix", "k3xq9zw1ab"),
        ("$stageVariables.tenant", "blue"),
    ],
)
def test_context_variables_and_stage_variables(expression: str, expected: str) -> None:
    assert values(expression) == (expected,)


@pytest.mark.parametrize(
    "expression",
    [
        "$request.header.authorization",  # absent
        "$request.querystring.token",  # absent
        "$stageVariables.empty",  # present but empty
        "$stageVariables.nope",
        "$context.status",  # only known after the response
    ],
)
def test_one_missing_or_empty_source_means_not_identified(expression: str) -> None:
    assert values("$context.stage", expression) is None


def test_empty_header_value_is_missing() -> None:
    assert values("$request.header.x-token", headers=[("x-token", "")]) is None


def test_values_keep_the_configured_order() -> None:
    assert values("$request.querystring.b", "$request.header.a", headers=[("a", "1")], query="b=2") == ("2", "1")


def test_parse() -> None:
    source = parse_identity_source("$request.header.Authorization")
    assert (source.kind, source.name, str(source)) == (SourceKind.HEADER, "authorization", "$request.header.Authorization")
    with pytest.raises(IdentitySourceError):
        parse_identity_source("request.header.x")
    with pytest.raises(IdentitySourceError):
        parse_identity_source("$request.body.x")
    with pytest.raises(IdentitySourceError):
        parse_identity_source("$context.routeKey", jwt=True)


def test_identity_value_of_a_query_parameter_given_twice() -> None:
    request = make_request(query="t=1&t=2")
    assert identity_value(parse_identity_source("$request.querystring.t"), request, make_route(request)) == "1,2"
