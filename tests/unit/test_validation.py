"""AWS's validation rules as pure functions, with AWS's messages (spec §1.3-1.5, §2, §4)."""

from __future__ import annotations

from typing import Any

import pytest

from stageway.core.route_keys import parse_route_key
from stageway.core.validation import (
    PROXY_ONLY_MESSAGE,
    ConflictError,
    LambdaArn,
    NotFoundError,
    ValidationError,
    api_errors,
    check_route_key_conflicts,
    cors_errors,
    environment_errors,
    integration_errors,
    parse_lambda_arn,
    route_errors,
    stage_errors,
    validate_function_name,
    validate_function_timeout,
    validate_handler,
    validate_integration,
    validate_memory_size,
    validate_route_settings_keys,
    validate_runtime,
    validate_stage_name,
    validate_stage_variable_references,
    validate_timeout_in_millis,
)

ARN = "arn:aws:lambda:us-east-1:123456789012:function:hello"

# fmt: off
LAMBDA_ARNS = [
    (ARN, LambdaArn("us-east-1", "123456789012", "hello", None)),
    (ARN + ":live", LambdaArn("us-east-1", "123456789012", "hello", "live")),
    (ARN + ":$LATEST", LambdaArn("us-east-1", "123456789012", "hello", "$LATEST")),
    (ARN + ":7", LambdaArn("us-east-1", "123456789012", "hello", "7")),
    (f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{ARN}/invocations",
     LambdaArn("us-east-1", "123456789012", "hello", None)),
    ("arn:aws:lambda:us-east-1:123456789012:function:${stageVariables.fn}",
     LambdaArn("us-east-1", "123456789012", "${stageVariables.fn}", None)),
    (ARN + ":${stageVariables.alias}", LambdaArn("us-east-1", "123456789012", "hello", "${stageVariables.alias}")),
    ("arn:aws-cn:lambda:cn-north-1:123456789012:function:f", LambdaArn("cn-north-1", "123456789012", "f", None)),
    ("hello", None),
    ("arn:aws:lambda:us-east-1:1234:function:hello", None),
    ("arn:aws:lambda:us-east-1:123456789012:layer:hello", None),
    ("arn:aws:lambda:us-east-1:123456789012:function:hello world", None),
    ("arn:aws:lambda:us-east-1:123456789012:function:" + "x" * 65, None),
    ("http://example.com", None),
]
# fmt: on


@pytest.mark.parametrize(("uri", "expected"), LAMBDA_ARNS)
def test_parse_lambda_arn(uri: str, expected: LambdaArn | None) -> None:
    assert parse_lambda_arn(uri) == expected


def test_lambda_arn_rebuilds_the_plain_function_arn() -> None:
    wrapped = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{ARN}:live/invocations"
    arn = parse_lambda_arn(wrapped)
    assert arn is not None and arn.function_arn == ARN + ":live"
    china = parse_lambda_arn("arn:aws-cn:lambda:cn-north-1:123456789012:function:f")
    assert china is not None and china.function_arn == "arn:aws-cn:lambda:cn-north-1:123456789012:function:f"


HTTP = {
    "integrationType": "HTTP_PROXY",
    "integrationUri": "https://example.com/pets/{id}",
    "integrationMethod": "ANY",
    "payloadFormatVersion": "1.0",
}
LAMBDA = {"integrationType": "AWS_PROXY", "integrationUri": ARN, "payloadFormatVersion": "2.0"}

SQS_PARAMETERS = {"QueueUrl": "$request.header.queueUrl", "MessageBody": "$request.body"}

# (fields, [(field, message)])
INTEGRATION_CASES = [
    pytest.param(HTTP, [], id="http-ok"),
    pytest.param(LAMBDA, [], id="lambda-ok"),
    pytest.param(
        {**LAMBDA, "integrationMethod": "POST", "timeoutInMillis": 50}, [], id="lambda-post-min-timeout"
    ),
    pytest.param(
        {**HTTP, "integrationUri": "http://${stageVariables.host}:8080/x?q=${stageVariables.q}"},
        [],
        id="stage-variables-in-url",
    ),
    pytest.param(
        {**HTTP, "integrationType": "MOCK"}, [(("integrationType",), PROXY_ONLY_MESSAGE)], id="mock"
    ),
    pytest.param(
        {**HTTP, "integrationType": None}, [(("integrationType",), PROXY_ONLY_MESSAGE)], id="no-type"
    ),
    pytest.param(
        {**HTTP, "payloadFormatVersion": "2.0"},
        [
            (
                ("payloadFormatVersion",),
                "PayloadFormatVersion 2.0 is not supported for integration of type HTTP_PROXY",
            )
        ],
        id="http-2.0",
    ),
    pytest.param(
        {**LAMBDA, "payloadFormatVersion": None},
        [(("payloadFormatVersion",), "PayloadFormatVersion is a required parameter for integration")],
        id="missing-payload-version",
    ),
    pytest.param(
        {**LAMBDA, "payloadFormatVersion": "1"},
        [(("payloadFormatVersion",), "PayloadFormatVersion 1 is not supported")],
        id="bad-payload-version",
    ),
    pytest.param(
        {**LAMBDA, "integrationMethod": "GET"},
        [(("integrationMethod",), "HttpMethod must be POST for AWS_PROXY IntegrationType")],
        id="lambda-get",
    ),
    pytest.param(
        {**HTTP, "integrationMethod": None},
        [(("integrationMethod",), "Enumeration value for HttpMethod must be non-empty")],
        id="no-method",
    ),
    pytest.param(
        {**HTTP, "integrationMethod": "FETCH"},
        [
            (
                ("integrationMethod",),
                (
                    "Invalid HttpMethod specified: FETCH. Valid values are ANY, DELETE, GET, "
                    "HEAD, OPTIONS, PATCH, POST, PUT"
                ),
            )
        ],
        id="bad-method",
    ),
    pytest.param(
        {**HTTP, "timeoutInMillis": 49},
        [(("timeoutInMillis",), "Timeout should be between 50 ms and 30000 ms")],
        id="timeout-low",
    ),
    pytest.param(
        {**HTTP, "timeoutInMillis": True},
        [(("timeoutInMillis",), "Timeout should be between 50 ms and 30000 ms")],
        id="timeout-bool",
    ),
    pytest.param(
        {**HTTP, "integrationUri": "example.com/pets"},
        [(("integrationUri",), "Invalid HTTP endpoint specified for URI")],
        id="relative-url",
    ),
    pytest.param(
        {**HTTP, "integrationUri": "http://example.com:http/"},
        [(("integrationUri",), "Invalid HTTP endpoint specified for URI")],
        id="bad-port",
    ),
    pytest.param(
        {**HTTP, "integrationUri": "http://example.com/a b"},
        [(("integrationUri",), "Invalid HTTP endpoint specified for URI")],
        id="space-in-url",
    ),
    pytest.param(
        {**HTTP, "integrationUri": "http://${host}/"},
        [
            (
                ("integrationUri",),
                (
                    "Invalid stage variable reference ${host}: use ${stageVariables.NAME}, "
                    "where NAME contains only letters, digits and underscores"
                ),
            )
        ],
        id="not-a-stage-variable",
    ),
    pytest.param(
        {**HTTP, "integrationUri": None},
        [(("integrationUri",), "IntegrationUri is a required parameter for integration of type HTTP_PROXY")],
        id="no-uri",
    ),
    pytest.param(
        {**LAMBDA, "integrationUri": "hello"},
        [(("integrationUri",), "Invalid integration URI specified")],
        id="lambda-name-is-not-an-arn",
    ),
    pytest.param(
        {**HTTP, "connectionType": "VPC_LINK", "integrationUri": "arn:aws:elasticloadbalancing:x"},
        [],
        id="private-integration",
    ),
    pytest.param(
        {
            **LAMBDA,
            "integrationSubtype": "SQS-SendMessage",
            "payloadFormatVersion": "1.0",
            "integrationUri": None,
            "requestParameters": SQS_PARAMETERS,
        },
        [],
        id="service-integration",
    ),
    pytest.param(
        {**LAMBDA, "integrationSubtype": "SQS-SendMessage", "requestParameters": SQS_PARAMETERS},
        [
            (
                ("payloadFormatVersion",),
                (
                    "PayloadFormatVersion 2.0 is not supported for integration of type "
                    "AWS_PROXY with subtype SQS-SendMessage"
                ),
            )
        ],
        id="service-integration-2.0",
    ),
    pytest.param(
        {**HTTP, "payloadFormatVersion": "2.0", "timeoutInMillis": 0, "integrationUri": "ftp://x"},
        [
            (
                ("payloadFormatVersion",),
                "PayloadFormatVersion 2.0 is not supported for integration of type HTTP_PROXY",
            ),
            (("timeoutInMillis",), "Timeout should be between 50 ms and 30000 ms"),
            (("integrationUri",), "Invalid HTTP endpoint specified for URI"),
        ],
        id="all-problems-at-once",
    ),
]


@pytest.mark.parametrize(("fields", "expected"), INTEGRATION_CASES)
def test_integration_rules(fields: dict[str, Any], expected: list[tuple[tuple[str, ...], str]]) -> None:
    assert [(error.field, error.message) for error in integration_errors(fields)] == expected


def test_validate_integration_raises_the_first_problem_as_a_400() -> None:
    with pytest.raises(ValidationError) as info:
        validate_integration({**HTTP, "payloadFormatVersion": "2.0", "timeoutInMillis": 0})
    assert info.value.status == 400
    assert (
        info.value.message == "PayloadFormatVersion 2.0 is not supported for integration of type HTTP_PROXY"
    )
    validate_integration(HTTP)


def test_timeout_bounds() -> None:
    validate_timeout_in_millis(50)
    validate_timeout_in_millis(30000)
    with pytest.raises(ValidationError):
        validate_timeout_in_millis(30001)


@pytest.mark.parametrize(
    "text",
    ["http://${stageVariables.url}", "x${stageVariables.a_1}y${stageVariables.B}", "no references", "$stage"],
)
def test_good_stage_variable_references(text: str) -> None:
    validate_stage_variable_references(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("${stageVariables.a-b}", "Invalid stage variable reference ${stageVariables.a-b}"),
        ("${stageVariables.}", "Invalid stage variable reference ${stageVariables.}"),
        ("${stagevariables.a}", "Invalid stage variable reference ${stagevariables.a}"),
        ("http://${stageVariables.a", "Unterminated stage variable reference"),
    ],
)
def test_bad_stage_variable_references(text: str, message: str) -> None:
    with pytest.raises(
        ValidationError, match=message.replace("$", r"\$").replace("{", r"\{").replace(".", r"\.")
    ):
        validate_stage_variable_references(text)


def test_route_key_conflicts_are_409s_with_aws_messages() -> None:
    existing = [parse_route_key("ANY /{proxy+}"), parse_route_key("GET /a/{orgId}/s/{stage_id}/q")]
    with pytest.raises(ConflictError) as duplicate:
        check_route_key_conflicts(parse_route_key("ANY /{proxy+}"), existing)
    assert (duplicate.value.status, duplicate.value.message) == (
        409,
        "Route with key ANY /{proxy+} already exists for this API",
    )
    with pytest.raises(ConflictError) as sibling:
        check_route_key_conflicts(parse_route_key("GET /a/{orgId}/s/{stageId}/q"), existing)
    assert sibling.value.message == (
        'The provided route key "GET /a/{orgId}/s/{stageId}/q" has a conflicting variable on the same '
        'hierarchical level as "GET /a/{orgId}/s/{stage_id}/q"'
    )
    check_route_key_conflicts(parse_route_key("POST /a/{orgId}/s/{stage_id}/q"), existing)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"routeKey": "GET /pets"}, []),
        (
            {
                "routeKey": "GET /pets",
                "authorizationType": "JWT",
                "authorizerId": "abc123",
                "authorizationScopes": ["read"],
            },
            [],
        ),
        ({"routeKey": "GET pets"}, ["Unable to parse route key 'GET pets': the path must start with '/'"]),
        (
            {"routeKey": "GET /pets", "authorizationType": "JWT"},
            [
                "Invalid authorizer ID specified. Setting the authorization type to JWT requires a valid JWT authorizer."
            ],
        ),
        (
            {"routeKey": "GET /pets", "authorizationType": "COGNITO"},
            ["Invalid authorization type specified: COGNITO. Valid values are NONE, AWS_IAM, CUSTOM, JWT"],
        ),
        (
            {
                "routeKey": "GET /pets",
                "authorizationType": "JWT",
                "authorizerId": "a",
                "authorizationScopes": [str(n) for n in range(11)],
            },
            ["A route can have at most 10 authorization scopes"],
        ),
    ],
)
def test_route_rules(fields: dict[str, Any], expected: list[str]) -> None:
    assert [error.message for error in route_errors(fields)] == expected


@pytest.mark.parametrize("name", ["$default", "prod", "beta_2", "v-1", "x" * 128])
def test_good_stage_names(name: str) -> None:
    validate_stage_name(name)


@pytest.mark.parametrize("name", ["", "prod.v1", "bad name", "$prod", "x" * 129, None])
def test_bad_stage_names(name: object) -> None:
    with pytest.raises(ValidationError, match="Stage name only allows"):
        validate_stage_name(name)


def test_stage_rules() -> None:
    fields = {
        "stageName": "beta",
        "autoDeploy": True,
        "deploymentId": "abc123",
        "stageVariables": {"url": "example.com:8080/x?y=z", "bad-name": "x", "space": "a b"},
        "defaultRouteSettings": {"throttlingRateLimit": -1, "loggingLevel": "DEBUG"},
        "routeSettings": {"GET pets": {}, "GET /pets": {"detailedMetricsEnabled": "yes"}},
        "accessLogSettings": {"format": "$context.requestId"},
    }
    assert [(error.field, error.message) for error in stage_errors(fields)] == [
        (("deploymentId",), "Deployment id cannot be specified when auto deploy is enabled"),
        (
            ("stageVariables", "bad-name"),
            "Stage variable name 'bad-name' is invalid: names may only contain a-zA-Z0-9_",
        ),
        (
            ("stageVariables", "space"),
            (
                r"Stage variable value 'a b' of 'space' is invalid: values must match [A-Za-z0-9-._~:/?#&=,]+ and be at "
                "most 2048 characters"
            ),
        ),
        (
            ("defaultRouteSettings", "throttlingRateLimit"),
            "throttlingRateLimit must be a number of requests per second (0 or more)",
        ),
        (("defaultRouteSettings", "loggingLevel"), "loggingLevel must be one of ERROR, INFO, OFF"),
        (("routeSettings", "GET pets"), "Unable to parse route key 'GET pets': the path must start with '/'"),
        (
            ("routeSettings", "GET /pets", "detailedMetricsEnabled"),
            "detailedMetricsEnabled must be true or false",
        ),
        (("accessLogSettings", "destinationArn"), "accessLogSettings needs destinationArn (a string)"),
    ]


def test_stage_variable_quota() -> None:
    fields = {"stageName": "beta", "stageVariables": {f"v{n}": "x" for n in range(101)}}
    assert [error.message for error in stage_errors(fields)] == [
        "A stage can have at most 100 stage variables"
    ]


def test_route_settings_must_name_routes_of_the_api() -> None:
    validate_route_settings_keys({"GET /pets": {}}, {"GET /pets", "$default"})
    with pytest.raises(NotFoundError) as info:
        validate_route_settings_keys({"GET /cats": {}}, {"GET /pets"})
    assert (info.value.status, info.value.message) == (
        404,
        "Unable to find Route by key GET /cats within the provided RouteSettings",
    )


@pytest.mark.parametrize(
    ("cors", "expected"),
    [
        ({"allowOrigins": ["https://example.com"], "allowCredentials": True, "maxAge": -1}, []),
        (
            {"allowOrigins": ["*"], "allowCredentials": True},
            ["allow-credentials is not supported if 'allow-origin' is *"],
        ),
        ({"allowOrigins": ["*"], "allowCredentials": False}, []),
        ({"maxAge": 86401}, ["maxAge must be a whole number of seconds from -1 to 86400"]),
        ({"allowHeaders": "x-a"}, ["allowHeaders must be a list of strings"]),
        ({"allowMethods": ["x" * 65]}, ["allowMethods entries must be 1 to 64 characters long"]),
        ({"allowCredentials": "true"}, ["allowCredentials must be true or false"]),
        ("*", ["corsConfiguration must be a map"]),
    ],
)
def test_cors_rules(cors: Any, expected: list[str]) -> None:
    assert [error.message for error in cors_errors(cors)] == expected


def test_api_rules() -> None:
    assert api_errors({"name": "pets", "protocolType": "HTTP"}) == []
    messages = [
        error.message
        for error in api_errors(
            {"name": "", "protocolType": "REST", "tags": {"aws:x": "y"}, "corsConfiguration": []}
        )
    ]
    assert messages == [
        "An API name must be 1 to 128 characters long",
        "Invalid protocol specified. Must be one of [HTTP, WEBSOCKET]",
        "corsConfiguration must be a map",
        "Tag key 'aws:x' is invalid: keys are 1 to 128 characters and may not start with 'aws:'",
    ]


def test_function_rules() -> None:
    validate_function_name("hello-world_2")
    validate_runtime("python3.13")
    validate_handler("pkg.module.handler")
    validate_function_timeout(900)
    validate_memory_size(10240)
    with pytest.raises(ValidationError) as name:
        validate_function_name("x" * 65)
    assert name.value.message == (
        f"Value '{'x' * 65}' at 'functionName' failed to satisfy constraint: Member must have length less than or "
        "equal to 64"
    )
    with pytest.raises(ValidationError) as memory:
        validate_memory_size(10241)
    assert memory.value.message == (
        "Value '10241' at 'memorySize' failed to satisfy constraint: Member must have value less than or equal to "
        "10240"
    )
    with pytest.raises(ValidationError) as timeout:
        validate_function_timeout(0)
    assert timeout.value.field == ("timeout",)
    with pytest.raises(ValidationError, match="Handler 'handler' must be MODULE.FUNCTION"):
        validate_handler("handler")


def test_environment_rules() -> None:
    assert environment_errors({"GREETING": "hi", "TZ": "UTC", "PATH": "/bin"}) == []
    messages = [
        error.message for error in environment_errors({"AWS_SECRET_ACCESS_KEY": "x", "AWS_REGION": "y"})
    ]
    assert messages == [
        (
            "Lambda was unable to configure your environment variables because the environment variables you have "
            "provided contains reserved keys that are currently not supported for modification. Reserved keys used in "
            "this request: AWS_REGION, AWS_SECRET_ACCESS_KEY"
        )
    ]
    assert [error.message for error in environment_errors({"BIG": "x" * 5000})] == [
        (
            "Lambda was unable to configure your environment variables because the environment variables you have "
            "provided exceeded the 4KB limit."
        )
    ]
    assert [error.field for error in environment_errors({"A": "single letter names are too short"})] == [
        ("environment", "A")
    ]
