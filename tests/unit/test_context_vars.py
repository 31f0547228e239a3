"""`$context` variables and access-log formats, against spec §10 and AWS's http-api-logging-variables."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stageway.core.context_vars import (
    _INLINE,
    CLF_FORMAT,
    CSV_FORMAT,
    JSON_FORMAT,
    XML_FORMAT,
    ContextVariables,
    RequestFacts,
    compile_log_format,
    is_context_variable,
)
from stageway.core.http import IncomingRequest, RouteContext
from stageway.core.validation import ValidationError

EPOCH_MS = 1767261600123  # 01/Jan/2026:10:00:00 UTC
HOST = "k3xq9zw1ab.execute-api.eu-west-1.amazonaws.com"


def make_request(headers: list[tuple[str, str]] | None = None, method: str = "GET") -> IncomingRequest:
    return IncomingRequest(
        method=method,
        raw_path="/prod/pets/7",
        raw_query="",
        headers=headers if headers is not None else [("user-agent", "curl/8.5.0")],
        body=b"",
        source_ip="203.0.113.9",
        request_id="JCIndgObPHcEJVQ=",
        time_epoch_ms=EPOCH_MS,
        host=HOST,
    )


def make_route(domain_name: str = HOST) -> RouteContext:
    return RouteContext(
        api_id="k3xq9zw1ab",
        account_id="123456789012",
        region="eu-west-1",
        stage="prod",
        route_key="GET /pets/{id}",
        path_parameters={"id": "7"},
        stage_variables={},
        stage_raw_path="/prod/pets/7",
        route_raw_path="/pets/7",
        domain_name=domain_name,
    )


FACTS = RequestFacts(
    status=200,
    response_length=27,
    response_latency_ms=45,
    integration_status=201,
    integration_invoke_status=200,
    integration_latency_ms=38,
    integration_error="",
    integration_request_id="c1f0b6a2-lambda",
    integration_request_id2="id2",
    data_processed=512,
    base_path_matched="v1/orders",
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("accountId", "123456789012"),
        ("apiId", "k3xq9zw1ab"),
        ("awsEndpointRequestId", "c1f0b6a2-lambda"),
        ("awsEndpointRequestId2", "id2"),
        ("customDomain.basePathMatched", "v1/orders"),
        ("dataProcessed", "512"),
        ("domainName", HOST),
        ("domainPrefix", "k3xq9zw1ab"),
        ("extendedRequestId", "JCIndgObPHcEJVQ="),
        ("httpMethod", "GET"),
        ("identity.sourceIp", "203.0.113.9"),
        ("identity.userAgent", "curl/8.5.0"),
        # The function's statusCode for integration.status, the Lambda service's 200 for integrationStatus.
        ("integration.status", "201"),
        ("integration.integrationStatus", "200"),
        ("integrationStatus", "200"),
        ("integration.latency", "38"),
        ("integrationLatency", "38"),
        ("integration.requestId", "c1f0b6a2-lambda"),
        ("path", "/prod/pets/7"),
        ("protocol", "HTTP/1.1"),
        ("requestId", "JCIndgObPHcEJVQ="),
        ("requestTime", "01/Jan/2026:10:00:00 +0000"),
        ("requestTimeEpoch", str(EPOCH_MS)),
        ("responseLatency", "45"),
        ("responseLength", "27"),
        ("routeKey", "GET /pets/{id}"),
        ("stage", "prod"),
        ("status", "200"),
    ],
)
def test_variables_of_a_served_request(name: str, expected: str) -> None:
    assert ContextVariables(make_request(), make_route(), FACTS).lookup(name) == expected


@pytest.mark.parametrize(
    "name",
    [
        "error.message",
        "error.messageString",
        "error.responseType",
        "integrationErrorMessage",
        "integration.error",
        "authorizer.error",
        "authorizer.principalId",
        "authorizer.claims.sub",
        "authorizer.anything",
        "identity.caller",
        "identity.user",
        "identity.userArn",
        "identity.accountId",
        "identity.cognitoIdentityId",
        "identity.clientCert.clientCertPem",
    ],
)
def test_values_a_request_does_not_have_are_none(name: str) -> None:
    assert is_context_variable(name)
    assert ContextVariables(make_request(), make_route(), FACTS).lookup(name) is None


def test_a_request_without_a_route_still_has_its_own_variables() -> None:
    variables = ContextVariables(make_request(), None, RequestFacts(status=404, error_message="Not Found"))
    assert variables.lookup("routeKey") is None
    assert variables.lookup("stage") is None
    assert variables.lookup("status") == "404"
    assert variables.lookup("error.message") == "Not Found"
    assert variables.lookup("error.messageString") == '"Not Found"'
    assert variables.lookup("path") == "/prod/pets/7"
    assert variables.lookup("domainName") == HOST


def test_http_backend_integration_status_falls_back_to_the_backend_status() -> None:
    facts = RequestFacts(integration_status=502)
    variables = ContextVariables(make_request(), make_route(), facts)
    assert variables.lookup("integrationStatus") == variables.lookup("integration.status") == "502"


def test_jwt_claims() -> None:
    # What a JWT authorizer hands on: every claim as a string, under `claims.`.
    facts = RequestFacts(authorizer={"claims.sub": "user-1", "claims.email": "a@example.com"})
    variables = ContextVariables(make_request(), make_route(), facts)
    assert variables.lookup("authorizer.claims.sub") == "user-1"
    assert variables.lookup("authorizer.claims.email") == "a@example.com"
    assert variables.lookup("authorizer.claims.missing") is None
    # AWS: "Calling $context.authorizer.claims returns null."
    assert variables.lookup("authorizer.claims") is None


def test_lambda_authorizer_context() -> None:
    # AWS's own example: context {"key": "value", "numKey": 1, "boolKey": true} prints value, 1, true.
    facts = RequestFacts(authorizer={"key": "value", "numKey": "1", "boolKey": "true", "principalId": "me"})
    variables = ContextVariables(make_request(), make_route(), facts)
    assert variables.lookup("authorizer.key") == "value"
    assert variables.lookup("authorizer.numKey") == "1"
    assert variables.lookup("authorizer.boolKey") == "true"
    assert variables.lookup("authorizer.principalId") == "me"


def test_iam_identity() -> None:
    identity = {
        "accessKey": "AKIAEXAMPLE",
        "accountId": "111122223333",
        "caller": "AIDAEXAMPLE",
        "cognitoAuthenticationProvider": None,
        "cognitoAuthenticationType": None,
        "cognitoIdentityId": None,
        "cognitoIdentityPoolId": None,
        "principalOrgId": "o-abc",
        "user": "AIDAEXAMPLE",
        "userArn": "arn:aws:iam::111122223333:user/alice",
    }
    variables = ContextVariables(make_request(), make_route(), RequestFacts(identity=identity))
    assert variables.lookup("identity.accountId") == "111122223333"
    assert variables.lookup("identity.caller") == "AIDAEXAMPLE"
    assert variables.lookup("identity.user") == "AIDAEXAMPLE"
    assert variables.lookup("identity.userArn") == "arn:aws:iam::111122223333:user/alice"
    assert variables.lookup("identity.principalOrgId") == "o-abc"
    assert variables.lookup("identity.cognitoIdentityId") is None
    assert variables.lookup("identity.cognitoAuthenticationType") is None


def test_authorizer_error() -> None:
    facts = RequestFacts(status=401, error_message="Unauthorized", authorizer_error="invalid_token")
    variables = ContextVariables(make_request(), make_route(), facts)
    assert variables.lookup("authorizer.error") == "invalid_token"


@pytest.mark.parametrize("name", ["nope", "requestid", "authorizer.claims.cognito:groups", "identity", ""])
def test_unknown_variables(name: str) -> None:
    assert not is_context_variable(name)
    assert ContextVariables(make_request(), make_route()).lookup(name) is None


# --------------------------------------------------------------------------------------------------
# Access-log formats


def served() -> ContextVariables:
    return ContextVariables(make_request(), make_route(), FACTS)


def test_clf_preset() -> None:
    line = compile_log_format(CLF_FORMAT).render(served())
    assert line == (
        '203.0.113.9 - - [01/Jan/2026:10:00:00 +0000] "GET GET /pets/{id} HTTP/1.1" 200 27 JCIndgObPHcEJVQ='
    )


def test_json_preset_is_json() -> None:
    line = compile_log_format(JSON_FORMAT).render(served())
    assert orjson.loads(line) == {
        "requestId": "JCIndgObPHcEJVQ=",
        "ip": "203.0.113.9",
        "requestTime": "01/Jan/2026:10:00:00 +0000",
        "httpMethod": "GET",
        "routeKey": "GET /pets/{id}",
        "status": "200",
        "protocol": "HTTP/1.1",
        "responseLength": "27",
    }


def test_xml_and_csv_presets() -> None:
    assert (
        compile_log_format(XML_FORMAT)
        .render(served())
        .startswith(
            '<request id="JCIndgObPHcEJVQ="> <ip>203.0.113.9</ip> <requestTime>01/Jan/2026:10:00:00 +0000</requestTime>'
        )
    )
    assert compile_log_format(CSV_FORMAT).render(served()) == (
        "203.0.113.9,01/Jan/2026:10:00:00 +0000,GET,GET /pets/{id},HTTP/1.1,200,27,JCIndgObPHcEJVQ="
    )


def test_missing_and_unknown_values_print_a_dash() -> None:
    log_format = compile_log_format("$context.requestId $context.error.message $context.notAVariable")
    assert log_format.render(served()) == "JCIndgObPHcEJVQ= - -"


def test_message_string_is_quoted_for_json_formats() -> None:
    log_format = compile_log_format('{"requestId":"$context.requestId","error":$context.error.messageString}')
    variables = ContextVariables(make_request(), None, RequestFacts(status=404, error_message="Not Found"))
    assert orjson.loads(log_format.render(variables)) == {
        "requestId": "JCIndgObPHcEJVQ=",
        "error": "Not Found",
    }


def test_json_formats_stay_json_whatever_the_values() -> None:
    request = make_request([("user-agent", 'evil"agent\\\n{"x":1}')])
    log_format = compile_log_format('{"requestId":"$context.requestId","ua":"$context.identity.userAgent"}')
    line = log_format.render(ContextVariables(request, make_route()))
    assert "\n" not in line
    assert orjson.loads(line)["ua"] == 'evil"agent\\\n{"x":1}'


def test_plain_formats_stay_on_one_line() -> None:
    request = make_request([("user-agent", "a\r\nforged line")])
    line = compile_log_format("$context.requestId $context.identity.userAgent").render(
        ContextVariables(request, make_route())
    )
    assert line == "JCIndgObPHcEJVQ= a\\r\\nforged line"


def test_braced_references_and_trailing_full_stops() -> None:
    log_format = compile_log_format("${context.requestId}/${context.stage}. status $context.status.")
    assert log_format.render(served()) == "JCIndgObPHcEJVQ=/prod. status 200."
    assert log_format.variables == ("requestId", "stage", "status")


def test_extended_request_id_is_enough() -> None:
    compile_log_format("$context.extendedRequestId")


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("$context.status", "must contain $context.requestId or $context.extendedRequestId"),
        ("$context.requestIdentity", "must contain $context.requestId"),
        ("$context.requestId " + "x" * 3072, "must not exceed 3 KB"),
        ("$context.requestId\n$context.status", "single line"),
        ("", "needs format"),
    ],
)
def test_formats_aws_refuses(template: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("$", r"\$")) as raised:
        compile_log_format(template)
    assert raised.value.field == ("accessLogSettings", "format")


@given(st.text())
def test_json_formats_round_trip_any_value(user_agent: str) -> None:
    log_format = compile_log_format('{"requestId":"$context.requestId","ua":"$context.identity.userAgent"}')
    line = log_format.render(ContextVariables(make_request([("user-agent", user_agent)]), make_route()))
    assert orjson.loads(line) == {"requestId": "JCIndgObPHcEJVQ=", "ua": user_agent or "-"}


@pytest.mark.parametrize("name", sorted(_INLINE))
@pytest.mark.parametrize("with_route", [True, False])
@pytest.mark.parametrize("facts", [FACTS, RequestFacts(response_latency_ms=2.5)])
def test_inlined_variables_render_what_their_resolvers_give(name: str, with_route: bool, facts: RequestFacts) -> None:
    # The render function writes these as expressions instead of resolver calls; both must agree.
    variables = ContextVariables(make_request(), make_route() if with_route else None, facts)
    for template in (f"$context.requestId $context.{name}", f'{{"id":"$context.requestId","v":"$context.{name}"}}'):
        rendered = compile_log_format(template).render(variables)
        value = variables.lookup(name) or "-"
        assert rendered.endswith((f" {value}", f'"v":"{value}"}}')), (template, rendered)
