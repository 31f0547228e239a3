"""The YAML loader: a file in AWS's vocabulary becomes spec dataclasses, or every problem is reported
as file:line: message before anything is served."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from stageway.config.loader import load_config
from stageway.config.spec import (
    ApiSpec,
    AuthorizerSpec,
    ConfigError,
    ConfigSpec,
    FunctionSpec,
    IntegrationSpec,
    RouteSpec,
    SourceLocation,
    StageSpec,
)
from stageway.core.ids import stable_id


def write(directory: Path, text: str, name: str = "api.yaml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def make_function_code(directory: Path, name: str = "hello", module: str = "app") -> Path:
    code = directory / "functions" / name
    code.mkdir(parents=True, exist_ok=True)
    (code / f"{module}.py").write_text("def handler(event, context):\n    return {}\n")
    return code


def line_of(path: Path, snippet: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if snippet in line:
            return number
    raise AssertionError(f"{snippet!r} not in {path}")


def problems(*paths: Path) -> list[tuple[str, int, str]]:
    with pytest.raises(ConfigError) as info:
        load_config(paths)
    return [(Path(problem.file).name, problem.line, problem.message) for problem in info.value.problems]


HELLO_FUNCTION = """
functions:
  hello:
    runtime: python3.12
    handler: app.handler
    code: functions/hello
"""

FULL_FILE = """
region: eu-west-1
accountId: "111122223333"
functions:
  hello:
    runtime: python3.12
    handler: app.handler
    code: functions/hello
    environment: {GREETING: hi, RETRIES: 3, RATIO: 1.10, DEBUG: yes}
    timeout: 10
    memorySize: 256
    reservedConcurrency: 2
    description: Says hello
apis:
  petstore:
    id: abcd123456
    description: Pets
    disableExecuteApiEndpoint: true
    corsConfiguration:
      allowOrigins: [https://example.com]
      allowMethods: [GET, POST]
      allowHeaders: [authorization]
      exposeHeaders: [x-request-id]
      maxAge: 300
      allowCredentials: true
    tags: {team: pets}
    integrations:
      backend:
        integrationType: HTTP_PROXY
        integrationUri: http://${stageVariables.host}:8090/pets/{id}
        integrationMethod: GET
        payloadFormatVersion: "1.0"
        timeoutInMillis: 5000
        description: The pet service
        requestParameters: {"overwrite:path": "$request.path"}
        responseParameters: {200: {"append:header.x-from": backend}}
      hello:
        integrationType: AWS_PROXY
        integrationUri: hello
    authorizers:
      cognito:
        authorizerType: JWT
        jwtConfiguration:
          issuer: https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example
          audience: [3n4b5urk1ft4fl3mg5e62d9ado]
      gate:
        authorizerType: REQUEST
        authorizerUri: hello
        authorizerPayloadFormatVersion: "2.0"
        enableSimpleResponses: true
        authorizerResultTtlInSeconds: 300
        identitySource: [$request.header.x-token, $context.routeKey]
    routes:
      GET /pets/{id}: backend
      DELETE /pets/{id}: {integration: backend, authorizer: gate}
      POST /pets:
        integration: hello
        authorizationType: JWT
        authorizer: cognito
        authorizationScopes: [pets/write]
        operationName: createPet
        requestParameters: {route.request.header.x-pet: {required: true}}
      $default:
        integration: {integrationType: HTTP_PROXY, integrationUri: "http://127.0.0.1:8090"}
    stages:
      $default: {autoDeploy: true}
      beta:
        description: Beta
        stageVariables: {host: beta.internal}
        defaultRouteSettings: {throttlingBurstLimit: 10, throttlingRateLimit: 5.0, detailedMetricsEnabled: true}
        routeSettings:
          "GET /pets/{id}": {throttlingRateLimit: 1.0}
        accessLogSettings:
          destinationArn: arn:aws:logs:eu-west-1:111122223333:log-group:beta
          format: $context.requestId $context.status
        tags: {env: beta}
"""


def test_a_file_with_every_field_becomes_exact_spec_dataclasses(tmp_path: Path) -> None:
    code = make_function_code(tmp_path)
    path = write(tmp_path, FULL_FILE)
    file = str(path)

    def at(snippet: str) -> SourceLocation:
        return SourceLocation(file, line_of(path, snippet))

    assert load_config([path]) == ConfigSpec(
        region="eu-west-1",
        account_id="111122223333",
        functions=(
            FunctionSpec(
                name="hello",
                runtime="python3.12",
                handler="app.handler",
                code_dir=code.resolve(),
                # Numbers and booleans keep the text they were written with.
                environment={"GREETING": "hi", "RETRIES": "3", "RATIO": "1.10", "DEBUG": "yes"},
                timeout_s=10,
                memory_mb=256,
                reserved_concurrency=2,
                description="Says hello",
                location=at("  hello:"),
            ),
        ),
        apis=(
            ApiSpec(
                name="petstore",
                api_id="abcd123456",
                fields={
                    "name": "petstore",
                    "protocolType": "HTTP",
                    "description": "Pets",
                    "disableExecuteApiEndpoint": True,
                    "corsConfiguration": {
                        "allowOrigins": ["https://example.com"],
                        "allowMethods": ["GET", "POST"],
                        "allowHeaders": ["authorization"],
                        "exposeHeaders": ["x-request-id"],
                        "maxAge": 300,
                        "allowCredentials": True,
                    },
                    "tags": {"team": "pets"},
                },
                integrations=(
                    IntegrationSpec(
                        name="backend",
                        fields={
                            "integrationType": "HTTP_PROXY",
                            "integrationUri": "http://${stageVariables.host}:8090/pets/{id}",
                            "integrationMethod": "GET",
                            "payloadFormatVersion": "1.0",
                            "timeoutInMillis": 5000,
                            "connectionType": "INTERNET",
                            "description": "The pet service",
                            "requestParameters": {"overwrite:path": "$request.path"},
                            "responseParameters": {"200": {"append:header.x-from": "backend"}},
                        },
                        location=at("backend:"),
                    ),
                    IntegrationSpec(
                        name="hello",
                        fields={
                            "integrationType": "AWS_PROXY",
                            "integrationUri": "arn:aws:lambda:eu-west-1:111122223333:function:hello",
                            "integrationMethod": "POST",
                            "payloadFormatVersion": "2.0",
                            "timeoutInMillis": 30000,
                            "connectionType": "INTERNET",
                        },
                        location=SourceLocation(file, line_of(path, "integrationUri: hello") - 2),
                    ),
                    IntegrationSpec(
                        name="inline:$default",
                        fields={
                            "integrationType": "HTTP_PROXY",
                            "integrationUri": "http://127.0.0.1:8090",
                            "integrationMethod": "ANY",
                            "payloadFormatVersion": "1.0",
                            "timeoutInMillis": 30000,
                            "connectionType": "INTERNET",
                        },
                        location=at("integration: {integrationType: HTTP_PROXY"),
                    ),
                ),
                routes=(
                    RouteSpec(
                        route_key="GET /pets/{id}",
                        integration="backend",
                        fields={"routeKey": "GET /pets/{id}", "authorizationType": "NONE"},
                        location=at("GET /pets/{id}: backend"),
                    ),
                    RouteSpec(
                        route_key="DELETE /pets/{id}",
                        integration="backend",
                        # The authorizer's type gives the route its authorizationType.
                        fields={"routeKey": "DELETE /pets/{id}", "authorizationType": "CUSTOM"},
                        location=at("DELETE /pets/{id}:"),
                        authorizer="gate",
                    ),
                    RouteSpec(
                        route_key="POST /pets",
                        integration="hello",
                        fields={
                            "routeKey": "POST /pets",
                            "authorizationType": "JWT",
                            "operationName": "createPet",
                            "authorizationScopes": ["pets/write"],
                            "requestParameters": {"route.request.header.x-pet": {"required": True}},
                        },
                        location=at("POST /pets:"),
                        authorizer="cognito",
                    ),
                    RouteSpec(
                        route_key="$default",
                        integration="inline:$default",
                        fields={"routeKey": "$default", "authorizationType": "NONE"},
                        location=at("      $default:"),
                    ),
                ),
                stages=(
                    StageSpec(
                        name="$default",
                        fields={"stageName": "$default", "autoDeploy": True},
                        location=at("$default: {autoDeploy: true}"),
                    ),
                    StageSpec(
                        name="beta",
                        fields={
                            "stageName": "beta",
                            "autoDeploy": False,
                            "description": "Beta",
                            "stageVariables": {"host": "beta.internal"},
                            "defaultRouteSettings": {
                                "throttlingBurstLimit": 10,
                                "throttlingRateLimit": 5.0,
                                "detailedMetricsEnabled": True,
                            },
                            "routeSettings": {"GET /pets/{id}": {"throttlingRateLimit": 1.0}},
                            "accessLogSettings": {
                                "destinationArn": "arn:aws:logs:eu-west-1:111122223333:log-group:beta",
                                "format": "$context.requestId $context.status",
                            },
                            "tags": {"env": "beta"},
                        },
                        location=at("beta:"),
                    ),
                ),
                location=at("petstore:"),
                authorizers=(
                    AuthorizerSpec(
                        name="cognito",
                        fields={
                            "name": "cognito",
                            "authorizerType": "JWT",
                            # A JWT authorizer reads the Authorization header unless told otherwise.
                            "identitySource": ["$request.header.Authorization"],
                            "jwtConfiguration": {
                                "issuer": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example",
                                "audience": ["3n4b5urk1ft4fl3mg5e62d9ado"],
                            },
                        },
                        location=at("cognito:"),
                    ),
                    AuthorizerSpec(
                        name="gate",
                        fields={
                            "name": "gate",
                            "authorizerType": "REQUEST",
                            "identitySource": ["$request.header.x-token", "$context.routeKey"],
                            # A function name becomes the invocation URI AWS stores.
                            "authorizerUri": "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/"
                            "arn:aws:lambda:eu-west-1:111122223333:function:hello/invocations",
                            "authorizerPayloadFormatVersion": "2.0",
                            "enableSimpleResponses": True,
                            "authorizerResultTtlInSeconds": 300,
                        },
                        location=at("gate:"),
                    ),
                ),
            ),
        ),
    )


def test_defaults_for_a_minimal_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        apis:
          petstore:
            routes:
              $default: {integration: {integrationType: HTTP_PROXY, integrationUri: "https://example.com"}}
        """,
    )
    config = load_config([path])
    assert (config.region, config.account_id, config.functions) == ("us-east-1", "123456789012", ())
    (api,) = config.apis
    assert api.api_id == stable_id("petstore")
    assert api.fields == {"name": "petstore", "protocolType": "HTTP", "disableExecuteApiEndpoint": False}
    # No stages: one `$default` stage that deploys itself, like AWS's quick create.
    assert api.stages == (StageSpec("$default", {"stageName": "$default", "autoDeploy": True}, api.location),)


def test_an_explicitly_empty_stages_mapping_means_no_stage(tmp_path: Path) -> None:
    path = write(tmp_path, "apis:\n  petstore:\n    stages: {}\n")
    assert load_config([path]).apis[0].stages == ()


def test_api_ids_are_stable_and_can_be_chosen(tmp_path: Path) -> None:
    path = write(tmp_path, "apis:\n  petstore: {}\n  shop: {id: shop000001}\n")
    first, second = load_config([path]), load_config([path])
    assert [api.api_id for api in first.apis] == [stable_id("petstore"), "shop000001"]
    assert first == second
    assert len(stable_id("petstore")) == 10


def test_several_files_merge_and_share_functions(tmp_path: Path) -> None:
    make_function_code(tmp_path)
    functions = write(
        tmp_path, "region: eu-west-1\n" + textwrap.dedent(HELLO_FUNCTION).lstrip("\n"), "functions.yaml"
    )
    pets = write(
        tmp_path,
        """
        apis:
          pets:
            integrations:
              hello: {integrationType: AWS_PROXY, integrationUri: hello}
            routes:
              GET /pets: hello
        """,
        "pets.yaml",
    )
    shop = write(tmp_path, "apis:\n  shop: {}\n", "shop.yaml")
    config = load_config([functions, pets, shop])
    assert config.region == "eu-west-1"
    assert [function.name for function in config.functions] == ["hello"]
    assert [(api.name, api.location.file) for api in config.apis] == [
        ("pets", str(pets)),
        ("shop", str(shop)),
    ]
    uri = config.apis[0].integrations[0].fields["integrationUri"]
    assert uri == "arn:aws:lambda:eu-west-1:123456789012:function:hello"


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        pytest.param("hello", "arn:aws:lambda:us-east-1:123456789012:function:hello", id="name"),
        pytest.param(
            "arn:aws:lambda:us-east-1:123456789012:function:hello",
            "arn:aws:lambda:us-east-1:123456789012:function:hello",
            id="arn-of-a-local-function",
        ),
        pytest.param(
            "arn:aws:lambda:us-east-1:123456789012:function:hello:live",
            "arn:aws:lambda:us-east-1:123456789012:function:hello:live",
            id="qualified-arn",
        ),
        pytest.param(
            "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
            "arn:aws:lambda:us-east-1:123456789012:function:hello/invocations",
            "arn:aws:lambda:us-east-1:123456789012:function:hello",
            id="invocation-wrapper-unwrapped",
        ),
        pytest.param(
            "arn:aws:lambda:eu-west-1:999999999999:function:elsewhere",
            "arn:aws:lambda:eu-west-1:999999999999:function:elsewhere",
            id="remote-function-kept",
        ),
        pytest.param(
            "arn:aws:lambda:us-east-1:123456789012:function:${stageVariables.fn}",
            "arn:aws:lambda:us-east-1:123456789012:function:${stageVariables.fn}",
            id="stage-variable-name",
        ),
    ],
)
def test_lambda_integrations_name_a_function_or_an_arn(tmp_path: Path, written: str, stored: str) -> None:
    make_function_code(tmp_path)
    path = write(
        tmp_path,
        HELLO_FUNCTION
        + textwrap.dedent(
            f"""
            apis:
              pets:
                integrations:
                  fn: {{integrationType: AWS_PROXY, integrationUri: "{written}"}}
            """
        ),
    )
    assert load_config([path]).apis[0].integrations[0].fields["integrationUri"] == stored


def test_anchors_and_merge_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        apis:
          pets:
            integrations:
              base: &backend {integrationType: HTTP_PROXY, integrationUri: "http://a", timeoutInMillis: 500}
              slow:
                <<: *backend
                timeoutInMillis: 9000
        """,
    )
    base, slow = load_config([path]).apis[0].integrations
    assert base.fields["timeoutInMillis"] == 500
    assert slow.fields["timeoutInMillis"] == 9000
    assert slow.fields["integrationUri"] == "http://a"


def test_handler_in_a_package_module(tmp_path: Path) -> None:
    code = tmp_path / "functions" / "hello" / "pkg"
    code.mkdir(parents=True)
    (code / "__init__.py").write_text("")
    (code / "api.py").write_text("def handler(event, context):\n    return {}\n")
    path = write(tmp_path, HELLO_FUNCTION.replace("app.handler", "pkg.api.handler"))
    assert load_config([path]).functions[0].handler == "pkg.api.handler"


# --------------------------------------------------------------------------------------------------
# Problems: each reported with its file, its line and what is wrong.

# (yaml, [(line, message)])
PROBLEM_CASES = [
    pytest.param(
        "apis:\n  pets:\n    description: a\n    description: b\n",
        [(4, "duplicate key 'description' in apis > pets (first given on line 3)")],
        id="duplicate-key",
    ),
    pytest.param(
        """
        apis:
          pets:
            routes:
              GET /pets: {}
              GET /pets: {}
        """,
        [(5, "API 'pets': Route with key GET /pets already exists for this API (first given on line 4)")],
        id="duplicate-route-key",
    ),
    pytest.param(
        "api:\n  pets: {}\n",
        [(1, "top level: unknown key 'api' (did you mean 'apis'?)")],
        id="unknown-top-level-key",
    ),
    pytest.param(
        """
        apis:
          pets:
            integrations:
              backend:
                IntegrationType: HTTP_PROXY
                integrationUri: http://a
        """,
        [
            (4, "API 'pets', integration 'backend': integrationType is required (HTTP_PROXY or AWS_PROXY)"),
            (
                5,
                "API 'pets', integration 'backend': unknown key 'IntegrationType' (did you mean 'integrationType'?)",
            ),
        ],
        id="unknown-key-with-suggestion",
    ),
    pytest.param(
        "apis:\n  pets:\n    stages:\n      beta: {colour: blue}\n",
        [
            (
                4,
                (
                    "API 'pets', stage 'beta': unknown key 'colour'; expected one of: autoDeploy, description, "
                    "stageVariables, defaultRouteSettings, routeSettings, accessLogSettings, tags"
                ),
            )
        ],
        id="unknown-key-without-suggestion",
    ),
    pytest.param(
        "apis:\n  pets:\n    corsConfiguration: {allowOrigin: ['*']}\n",
        [(3, "API 'pets', corsConfiguration: unknown key 'allowOrigin' (did you mean 'allowOrigins'?)")],
        id="unknown-cors-key",
    ),
    pytest.param(
        "apis:\n  pets:\n    disableExecuteApiEndpoint: 1\n",
        [(3, "API 'pets': disableExecuteApiEndpoint must be true or false, got '1'")],
        id="wrong-type-boolean",
    ),
    pytest.param(
        """
        apis:
          pets:
            integrations:
              backend: {integrationType: HTTP_PROXY, integrationUri: "http://a", timeoutInMillis: "5000"}
        """,
        [
            (
                4,
                "API 'pets', integration 'backend': timeoutInMillis must be an integer number of milliseconds, got '5000'",
            )
        ],
        id="wrong-type-integer",
    ),
    pytest.param(
        "apis:\n  pets:\n    integrations: [backend]\n",
        [(3, "API 'pets': integrations must be a mapping, got a list")],
        id="wrong-type-mapping",
    ),
    pytest.param(
        "apis:\n  pets:\n    routes:\n      GET /pets:\n",
        [
            (
                4,
                (
                    "API 'pets', route 'GET /pets': give the name of an integration, or a mapping with integration:, "
                    "got nothing (null)"
                ),
            )
        ],
        id="route-without-value",
    ),
    pytest.param(
        "apis:\n  pets:\n    routes:\n      GET /pets/: {}\n      get /pets: {}\n",
        [
            (
                4,
                (
                    "API 'pets', route 'GET /pets/': One or more path parts appear to be invalid. Parts are validated "
                    r"against this regular expression: ^(\{[\w.:-]+\+?\}|[a-zA-Z0-9.:_-]+)$"
                ),
            ),
            (
                5,
                (
                    "API 'pets', route 'get /pets': Unable to parse route key 'get /pets': expected '$default' or "
                    "'METHOD /path' with METHOD one of ANY, DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"
                ),
            ),
        ],
        id="bad-route-keys",
    ),
    pytest.param(
        "apis:\n  pets:\n    routes:\n      GET /pets/{id}: {}\n      DELETE /pets/{petId}: {}\n",
        [
            (
                5,
                (
                    "API 'pets', route 'DELETE /pets/{petId}': The provided route key \"DELETE /pets/{petId}\" has a "
                    'conflicting variable on the same hierarchical level as "GET /pets/{id}"'
                ),
            )
        ],
        id="sibling-variable-conflict",
    ),
    pytest.param(
        "apis:\n  pets:\n    integrations:\n      backend: {integrationType: HTTP, integrationUri: 'http://a'}\n",
        [
            (
                4,
                (
                    "API 'pets', integration 'backend': Currently, an API with a protocol type of HTTP may only be "
                    "associated with proxy integrations (AWS_PROXY, HTTP_PROXY) (got 'HTTP')"
                ),
            )
        ],
        id="websocket-only-integration-type",
    ),
    pytest.param(
        """
        apis:
          pets:
            integrations:
              backend:
                integrationType: HTTP_PROXY
                integrationUri: http://a
                payloadFormatVersion: 2.0
        """,
        [
            (
                7,
                (
                    "API 'pets', integration 'backend': PayloadFormatVersion 2.0 is not supported for integration of type "
                    "HTTP_PROXY"
                ),
            )
        ],
        id="payload-2.0-on-http-proxy",
    ),
    pytest.param(
        """
        apis:
          pets:
            integrations:
              fn: {integrationType: AWS_PROXY, integrationUri: "arn:aws:lambda:us-east-1:123456789012:function:f",
                   payloadFormatVersion: "3.0", integrationMethod: GET}
        """,
        [
            (5, "API 'pets', integration 'fn': PayloadFormatVersion 3.0 is not supported"),
            (5, "API 'pets', integration 'fn': HttpMethod must be POST for AWS_PROXY IntegrationType"),
        ],
        id="payload-version-and-lambda-method",
    ),
    pytest.param(
        """
        apis:
          pets:
            integrations:
              backend:
                integrationType: HTTP_PROXY
                integrationUri: http://a
                timeoutInMillis: 30001
        """,
        [(7, "API 'pets', integration 'backend': Timeout should be between 50 ms and 30000 ms (got 30001)")],
        id="integration-timeout-range",
    ),
    pytest.param(
        """
        apis:
          pets:
            integrations:
              backend:
                integrationType: HTTP_PROXY
                integrationUri: ftp://example.com/pets
        """,
        [
            (
                6,
                (
                    "API 'pets', integration 'backend': Invalid HTTP endpoint specified for URI (expected an absolute "
                    "http:// or https:// URL)"
                ),
            )
        ],
        id="http-uri",
    ),
    pytest.param(
        """
        apis:
          pets:
            integrations:
              backend:
                integrationType: HTTP_PROXY
                integrationUri: http://${stageVariables.back-end}/pets
        """,
        [
            (
                6,
                (
                    "API 'pets', integration 'backend': Invalid stage variable reference ${stageVariables.back-end}: use "
                    "${stageVariables.NAME}, where NAME contains only letters, digits and underscores (expected an "
                    "absolute http:// or https:// URL)"
                ),
            )
        ],
        id="stage-variable-syntax",
    ),
    pytest.param(
        """
        apis:
          pets:
            integrations:
              backend:
                integrationType: HTTP_PROXY
        """,
        [
            (
                4,
                (
                    "API 'pets', integration 'backend': IntegrationUri is a required parameter for integration of type "
                    "HTTP_PROXY (expected an absolute http:// or https:// URL)"
                ),
            )
        ],
        id="missing-uri",
    ),
    pytest.param(
        """
        apis:
          pets:
            integrations:
              fn: {integrationType: AWS_PROXY, integrationUri: "arn:aws:lambda:us-east-1:1234:function:f"}
        """,
        [
            (
                4,
                (
                    "API 'pets', integration 'fn': Invalid integration URI specified (expected a function name from "
                    "functions:, arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER], or "
                    "arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/ARN/invocations)"
                ),
            )
        ],
        id="lambda-uri",
    ),
    pytest.param(
        """
        apis:
          pets:
            integrations:
              fn: {integrationType: AWS_PROXY, integrationUri: hello}
        """,
        [
            (
                4,
                (
                    "API 'pets', integration 'fn': no function named 'hello' in functions: of any loaded file; give a "
                    "function name or a Lambda function ARN"
                ),
            )
        ],
        id="unknown-function",
    ),
    pytest.param(
        """
        apis:
          pets:
            integrations:
              backend: {integrationType: HTTP_PROXY, integrationUri: "http://a"}
            routes:
              GET /pets: backnd
              POST /pets: {integration: nothing}
        """,
        [
            (
                6,
                (
                    "API 'pets', route 'GET /pets': no integration named 'backnd' in integrations: (did you mean "
                    "'backend'?)"
                ),
            ),
            (
                7,
                (
                    "API 'pets', route 'POST /pets': no integration named 'nothing' in integrations:; expected one "
                    "of: backend"
                ),
            ),
        ],
        id="unknown-integration",
    ),
    pytest.param(
        """
        apis:
          pets:
            routes:
              GET /pets:
                integration:
                  integrationType: HTTP_PROXY
                  integrationUri: http://a
                  timeoutInMillis: 10
              POST /pets:
                integration:
        """,
        [
            (
                8,
                (
                    "API 'pets', route 'GET /pets', inline integration: Timeout should be between 50 ms and 30000 ms "
                    "(got 10)"
                ),
            ),
            (
                10,
                (
                    "API 'pets', route 'POST /pets': integration must be the name of an integration or a mapping, got "
                    "nothing (null)"
                ),
            ),
        ],
        id="inline-integration",
    ),
    pytest.param(
        "apis:\n  pets:\n    routes:\n      GET /pets: {authorizationType: JWT}\n",
        [
            (
                4,
                (
                    "API 'pets', route 'GET /pets': Invalid authorizer ID specified. Setting the authorization type to JWT "
                    "requires a valid JWT authorizer."
                ),
            )
        ],
        id="jwt-route-without-authorizer",
    ),
    pytest.param(
        "apis:\n  pets:\n    stages:\n      prod.v1: {}\n",
        [
            (
                4,
                "API 'pets', stage 'prod.v1': Stage name only allows a-zA-Z0-9_- (at most 128 characters) or $default",
            )
        ],
        id="stage-name",
    ),
    pytest.param(
        """
        apis:
          pets:
            stages:
              beta:
                stageVariables:
                  back-end: x
                  color: light blue
        """,
        [
            (
                6,
                (
                    "API 'pets', stage 'beta': Stage variable name 'back-end' is invalid: names may only contain "
                    "a-zA-Z0-9_"
                ),
            ),
            (
                7,
                (
                    "API 'pets', stage 'beta': Stage variable value 'light blue' of 'color' is invalid: values must "
                    r"match [A-Za-z0-9-._~:/?#&=,]+ and be at most 2048 characters"
                ),
            ),
        ],
        id="stage-variables",
    ),
    pytest.param(
        """
        apis:
          pets:
            routes:
              GET /pets: {}
            stages:
              beta:
                defaultRouteSettings: {throttlingBurstLimit: 1.5, throttlingRateLimt: 2}
                routeSettings:
                  GET /cats: {throttlingRateLimit: 1}
        """,
        [
            (
                7,
                (
                    "API 'pets', stage 'beta', defaultRouteSettings: unknown key 'throttlingRateLimt' (did you mean "
                    "'throttlingRateLimit'?)"
                ),
            ),
            (
                7,
                "API 'pets', stage 'beta': throttlingBurstLimit must be a whole number of requests (0 or more)",
            ),
            (
                9,
                (
                    "API 'pets', stage 'beta': Unable to find Route by key GET /cats within the provided "
                    "RouteSettings"
                ),
            ),
        ],
        id="route-settings",
    ),
    pytest.param(
        """
        apis:
          pets:
            stages:
              beta:
                accessLogSettings:
                  destinationArn: arn:aws:logs:us-east-1:123456789012:log-group:pets
                  format: $context.status
        """,
        [
            (
                7,
                (
                    "API 'pets', stage 'beta': Access log format must contain $context.requestId or "
                    "$context.extendedRequestId"
                ),
            )
        ],
        id="access-log-format",
    ),
    pytest.param(
        "apis:\n  pets:\n    corsConfiguration:\n      allowOrigins: ['*']\n      allowCredentials: true\n",
        [(5, "API 'pets': allow-credentials is not supported if 'allow-origin' is *")],
        id="cors-credentials-with-any-origin",
    ),
    pytest.param(
        "apis:\n  pets:\n    corsConfiguration:\n      maxAge: 86401\n      allowMethods: GET\n",
        [
            (4, "API 'pets': maxAge must be a whole number of seconds from -1 to 86400"),
            (5, "API 'pets': allowMethods must be a list of strings"),
        ],
        id="cors-types",
    ),
    pytest.param(
        "apis:\n  pets:\n    id: Pets-API-1\n",
        [(3, "API 'pets': id must be 10 lowercase letters or digits, got 'Pets-API-1'")],
        id="api-id",
    ),
    pytest.param(
        "apis:\n  pets:\n    id: abcd123456\n  shop:\n    id: abcd123456\n",
        [(5, "API 'shop': API id 'abcd123456' is already used by API 'pets' at api.yaml:2")],
        id="duplicate-api-id",
    ),
    pytest.param(
        "apis:\n  pets:\n    tags: {aws:owner: me}\n",
        [
            (
                3,
                (
                    "API 'pets': Tag key 'aws:owner' is invalid: keys are 1 to 128 characters and may not start with "
                    "'aws:'"
                ),
            )
        ],
        id="tags",
    ),
    pytest.param(
        "region: Europe\naccountId: 1234\n",
        [
            (1, "region must be like us-east-1, got 'Europe'"),
            (2, "accountId must be of 12 digits, like \"123456789012\", got '1234'"),
        ],
        id="region-and-account",
    ),
    pytest.param(
        "apis:\n  pets:\n    description: !Sub 'pets'\n",
        [(3, "the YAML tag !Sub is not supported here")],
        id="unsupported-tag",
    ),
    pytest.param(
        "- pets\n",
        [(1, "the file must be a mapping with apis: and functions:, got a list")],
        id="not-a-mapping",
    ),
]


@pytest.mark.parametrize(("text", "expected"), PROBLEM_CASES)
def test_problems_are_reported_with_file_line_and_message(
    tmp_path: Path, text: str, expected: list[tuple[int, str]]
) -> None:
    path = write(tmp_path, text)
    if "api.yaml:" in str(expected):
        expected = [(line, message.replace("api.yaml:", f"{path}:")) for line, message in expected]
    assert problems(path) == [("api.yaml", line, message) for line, message in expected]


def test_yaml_syntax_errors_have_a_line(tmp_path: Path) -> None:
    path = write(tmp_path, "apis:\n  pets:\n    routes: {GET /pets/{id}: backend}\n")
    ((file, line, message),) = problems(path)
    # libyaml and PyYAML's pure-Python parser word it differently.
    assert (file, line) == ("api.yaml", 3)
    assert message.startswith("YAML syntax error: ")
    assert message.endswith('; inside { } a route key with {variables} must be quoted, like "GET /pets/{id}"')


# (function body under `functions: hello:`, [(line, message)])
FUNCTION_PROBLEM_CASES = [
    pytest.param(
        "runtime: python3.8\nhandler: app.handler\ncode: functions/hello\n",
        [
            (
                3,
                (
                    "function 'hello': Value 'python3.8' at 'runtime' failed to satisfy constraint: Member must satisfy "
                    "enum value set: [python3.9, python3.10, python3.11, python3.12, python3.13]"
                ),
            )
        ],
        id="runtime",
    ),
    pytest.param(
        "runtime: python3.12\nhandler: app\ncode: functions/hello\n",
        [
            (
                4,
                (
                    "function 'hello': Handler 'app' must be MODULE.FUNCTION, like app.handler or "
                    "package.module.handler"
                ),
            )
        ],
        id="handler-shape",
    ),
    pytest.param(
        "runtime: python3.12\nhandler: main.handler\ncode: functions/hello\n",
        [
            (
                4,
                (
                    "function 'hello': handler module 'main' not found in 'functions/hello' (expected main.py or a "
                    "package of that name)"
                ),
            )
        ],
        id="handler-module-missing",
    ),
    pytest.param(
        "runtime: python3.12\nhandler: app.handler\ncode: functions/nope\n",
        [(5, "function 'hello': code directory 'functions/nope' does not exist (resolved to {code})")],
        id="code-missing",
    ),
    pytest.param(
        "handler: app.handler\n",
        [
            (
                2,
                (
                    "function 'hello': runtime is required (one of python3.9, python3.10, python3.11, python3.12, "
                    "python3.13)"
                ),
            ),
            (
                2,
                (
                    "function 'hello': code is required (the directory of the function's code, relative to this "
                    "file)"
                ),
            ),
        ],
        id="required-keys",
    ),
    pytest.param(
        "runtime: python3.12\nhandler: app.handler\ncode: functions/hello\ntimeout: ten\n",
        [(6, "function 'hello': timeout must be an integer number of seconds, got 'ten'")],
        id="timeout-type",
    ),
    pytest.param(
        "runtime: python3.12\nhandler: app.handler\ncode: functions/hello\ntimeout: 901\nmemorySize: 64\n"
        "reservedConcurrency: 0\n",
        [
            (
                6,
                (
                    "function 'hello': Value '901' at 'timeout' failed to satisfy constraint: Member must have value "
                    "less than or equal to 900"
                ),
            ),
            (
                7,
                (
                    "function 'hello': Value '64' at 'memorySize' failed to satisfy constraint: Member must have value "
                    "greater than or equal to 128"
                ),
            ),
            (
                8,
                (
                    "function 'hello': Value '0' at 'reservedConcurrentExecutions' failed to satisfy constraint: "
                    "Member must have value greater than or equal to 1"
                ),
            ),
        ],
        id="ranges",
    ),
    pytest.param(
        "runtime: python3.12\nhandler: app.handler\ncode: functions/hello\nenvironment:\n  AWS_REGION: x\n"
        "  my-var: y\n  EMPTY:\n",
        [
            (
                7,
                (
                    "function 'hello': Lambda was unable to configure your environment variables because the "
                    "environment variables you have provided contains reserved keys that are currently not supported "
                    "for modification. Reserved keys used in this request: AWS_REGION"
                ),
            ),
            (
                8,
                (
                    "function 'hello': Environment variable name 'my-var' is invalid: Member must satisfy regular "
                    "expression pattern: [a-zA-Z]([a-zA-Z0-9_])+"
                ),
            ),
            (9, "function 'hello': environment 'EMPTY' must be a string, got nothing (null)"),
        ],
        id="environment",
    ),
    pytest.param(
        "runtime: python3.12\nhandler: app.handler\ncode: functions/hello\ntimout: 3\n",
        [(6, "function 'hello': unknown key 'timout' (did you mean 'timeout'?)")],
        id="unknown-key",
    ),
]


@pytest.mark.parametrize(("body", "expected"), FUNCTION_PROBLEM_CASES)
def test_function_problems(tmp_path: Path, body: str, expected: list[tuple[int, str]]) -> None:
    code = make_function_code(tmp_path)
    path = write(tmp_path, "functions:\n  hello:\n" + textwrap.indent(body, "    "))
    expected = [(line, message.format(code=code.parent / "nope")) for line, message in expected]
    assert problems(path) == [("api.yaml", line, message) for line, message in expected]


def test_a_bad_function_name(tmp_path: Path) -> None:
    path = write(tmp_path, "functions:\n  hello world: {}\n")
    assert problems(path)[0] == (
        "api.yaml",
        2,
        (
            "function 'hello world': Value 'hello world' at 'functionName' failed to satisfy constraint: Member must "
            "satisfy regular expression pattern: [a-zA-Z0-9-_]+"
        ),
    )


def test_duplicates_across_files(tmp_path: Path) -> None:
    make_function_code(tmp_path)
    first = write(
        tmp_path,
        "region: us-east-1\n" + textwrap.dedent(HELLO_FUNCTION).lstrip("\n") + "apis:\n  pets: {}\n",
        "a.yaml",
    )
    second = write(
        tmp_path,
        "region: eu-west-1\n" + textwrap.dedent(HELLO_FUNCTION).lstrip("\n") + "apis:\n  pets: {}\n",
        "b.yaml",
    )
    assert problems(first, second) == [
        (
            "b.yaml",
            1,
            f"region 'eu-west-1' differs from 'us-east-1' given at {first}:1; all files must agree",
        ),
        ("b.yaml", 3, f"function 'hello' is already defined at {first}:3"),
        ("b.yaml", 8, f"API 'pets' is already defined at {first}:8"),
    ]


def test_every_problem_is_collected_in_one_pass_in_line_order(tmp_path: Path) -> None:
    good = write(tmp_path, "apis:\n  ok: {}\n", "good.yaml")
    bad = write(
        tmp_path,
        """
        apis:
          pets:
            routes:
              GET /pets: nowhere
            stages:
              bad name: {}
            descripton: x
        """,
        "bad.yaml",
    )
    missing = tmp_path / "missing.yaml"
    with pytest.raises(ConfigError) as info:
        load_config([missing, good, bad])
    assert [(Path(p.file).name, p.line) for p in info.value.problems] == [
        ("missing.yaml", 1),
        ("bad.yaml", 4),
        ("bad.yaml", 6),
        ("bad.yaml", 7),
    ]
    assert info.value.problems[0].message == "cannot read the file: No such file or directory"
    assert str(info.value).splitlines()[1] == (
        f"{bad}:4: API 'pets', route 'GET /pets': no integration named 'nowhere' in integrations:"
    )


GATE_ARN = "arn:aws:lambda:us-east-1:123456789012:function:gate"
AUTHORIZER_PROBLEM_CASES = [
    pytest.param(
        """
        apis:
          pets:
            authorizers:
              cognito:
                authorizerType: JWT
                jwtConfiguration: {issuer: cognito-idp.example, audence: [x]}
        """,
        [
            (6, "API 'pets', authorizer 'cognito', jwtConfiguration: unknown key 'audence' (did you mean 'audience'?)"),
            (6, "API 'pets', authorizer 'cognito': Invalid issuer specified: cognito-idp.example. The issuer must be an http(s) URL"),
        ],
        id="jwt-issuer",
    ),
    pytest.param(
        """
        apis:
          pets:
            authorizers:
              cognito:
                authorizerType: JWT
                identitySource: [$request.header.a, $context.routeKey]
              nothing: {identitySource: $request.header.x}
              bad/name: {authorizerType: JWT}
        """,
        [
            (4, "API 'pets', authorizer 'cognito': JwtConfiguration with an issuer is required for JWT authorizers"),
            (
                6,
                ("API 'pets', authorizer 'cognito': A JWT authorizer needs exactly one identity source: "
                "$request.header.{name} or $request.querystring.{name}"),
            ),
            (7, "API 'pets', authorizer 'nothing': authorizerType is required (JWT or REQUEST)"),
            (8, "API 'pets', authorizer 'bad/name': an authorizer name may only contain letters, digits, '_', '-' and '.'"),
        ],
        id="jwt-required",
    ),
    pytest.param(
        f"""
        apis:
          pets:
            authorizers:
              gate:
                authorizerType: REQUEST
                authorizerUri: {GATE_ARN}
                authorizerResultTtlInSeconds: 7200
                enableSimpleResponses: "true"
              other:
                authorizerType: REQUEST
                authorizerUri: gaet
                authorizerPayloadFormatVersion: 1.0
                identitySource: [$request.body.token]
        """,
        [
            (
                4,
                ("API 'pets', authorizer 'gate': AuthorizerPayloadFormatVersion is a required parameter for REQUEST "
                "authorizer"),
            ),
            (7, "API 'pets', authorizer 'gate': AuthorizerResultTtlInSeconds must be between 0 and 3600 seconds"),
            (8, "API 'pets', authorizer 'gate': enableSimpleResponses must be true or false, got 'true'"),
            (
                11,
                ("API 'pets', authorizer 'other': no function named 'gaet' in functions: of any loaded file; give a "
                "function name or a Lambda function ARN"),
            ),
            (
                13,
                ("API 'pets', authorizer 'other': Invalid identity source specified: $request.body.token. Use "
                "$request.header.{name}, $request.querystring.{name}, $context.{name} or $stageVariables.{name}"),
            ),
        ],
        id="request",
    ),
    pytest.param(
        f"""
        apis:
          pets:
            authorizers:
              cognito: {{authorizerType: JWT, jwtConfiguration: {{issuer: "https://issuer.example"}}}}
              gate: {{authorizerType: REQUEST, authorizerUri: "{GATE_ARN}", authorizerPayloadFormatVersion: "2.0"}}
            routes:
              GET /a: {{authorizer: cognto}}
              GET /b: {{authorizer: gate, authorizationType: JWT}}
              GET /c: {{authorizer: cognito, authorizationType: NONE}}
              GET /d: {{authorizationType: CUSTOM}}
              GET /e: {{authorizerId: abc123, authorizationType: JWT}}
        """,
        [
            (7, "API 'pets', route 'GET /a': no authorizer named 'cognto' in authorizers: (did you mean 'cognito'?)"),
            (
                8,
                ("API 'pets', route 'GET /b': Invalid authorizer ID specified. Setting the authorization type to JWT "
                "requires a valid JWT authorizer."),
            ),
            (9, "API 'pets', route 'GET /c': authorizer 'cognito' is only used with authorizationType JWT or CUSTOM, not NONE"),
            (
                10,
                ("API 'pets', route 'GET /d': Invalid authorizer ID specified. Setting the authorization type to CUSTOM "
                "requires a valid REQUEST authorizer."),
            ),
            (11, "API 'pets', route 'GET /e': unknown key 'authorizerId' (did you mean 'authorizer'?)"),
            (
                11,
                ("API 'pets', route 'GET /e': Invalid authorizer ID specified. Setting the authorization type to JWT "
                "requires a valid JWT authorizer."),
            ),
        ],
        id="route-references",
    ),
]


@pytest.mark.parametrize(("text", "expected"), AUTHORIZER_PROBLEM_CASES)
def test_authorizer_problems(tmp_path: Path, text: str, expected: list[tuple[int, str]]) -> None:
    assert problems(write(tmp_path, text)) == [("api.yaml", line, message) for line, message in expected]


def test_authorizers_accept_one_identity_source_as_a_string_and_function_arns(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
        apis:
          pets:
            authorizers:
              gate:
                authorizerType: REQUEST
                authorizerUri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{GATE_ARN}/invocations
                authorizerPayloadFormatVersion: 1.0
                identitySource: $request.querystring.token
            routes:
              GET /pets: {{authorizer: gate}}
        """,
    )
    (api,) = load_config([path]).apis
    (authorizer,) = api.authorizers
    assert authorizer.fields == {
        "name": "gate",
        "authorizerType": "REQUEST",
        "identitySource": ["$request.querystring.token"],
        "authorizerUri": f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{GATE_ARN}/invocations",
        "authorizerPayloadFormatVersion": "1.0",
        "authorizerResultTtlInSeconds": 0,
    }
    (route,) = api.routes
    assert (route.authorizer, route.fields["authorizationType"]) == ("gate", "CUSTOM")


def test_mappings_cors_and_log_formats_are_checked_when_the_file_is_loaded(tmp_path: Path) -> None:
    """Bad configuration is refused when it is set, never discovered at request time (issue 4)."""
    path = write(
        tmp_path,
        """
        apis:
          shop:
            corsConfiguration:
              allowOrigins: ["https://app.example.com/path"]
            integrations:
              backend:
                integrationType: HTTP_PROXY
                integrationUri: http://127.0.0.1:8090
                requestParameters:
                  overwrite:header.x-ok: $context.noSuchVariable
                responseParameters:
                  "200":
                    append:header.authorization: static
            routes:
              GET /a: backend
            stages:
              $default:
                accessLogSettings:
                  destinationArn: stdout
                  format: "$context.status only"
        """,
    )
    found = problems(path)
    messages = "\n".join(message for _, _, message in found)
    assert "noSuchVariable" in messages
    assert "authorization" in messages
    assert "https://app.example.com/path" in messages
    assert "$context.requestId" in messages
    assert all(line > 0 for _, line, _ in found)


def test_aws_service_integrations_take_a_subtype_credentials_and_the_actions_parameters(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        apis:
          shop:
            integrations:
              queue:
                integrationType: AWS_PROXY
                integrationSubtype: SQS-SendMessage
                credentialsArn: arn:aws:iam::123456789012:role/apigw-sqs
                requestParameters:
                  QueueUrl: $request.header.queueUrl
                  MessageBody: $request.body
                  DelaySeconds: 5
            routes:
              POST /orders: queue
        """,
    )
    (api,) = load_config([path]).apis
    (integration,) = api.integrations
    assert integration.fields == {
        "integrationType": "AWS_PROXY",
        "integrationSubtype": "SQS-SendMessage",
        "credentialsArn": "arn:aws:iam::123456789012:role/apigw-sqs",
        "payloadFormatVersion": "1.0",
        "timeoutInMillis": 30000,
        "connectionType": "INTERNET",
        # An action's parameters are text: `5` is "5".
        "requestParameters": {"QueueUrl": "$request.header.queueUrl", "MessageBody": "$request.body", "DelaySeconds": "5"},
    }


SUPPORTED_SUBTYPES = (
    "EventBridge-PutEvents, SQS-SendMessage, SQS-ReceiveMessage, SQS-DeleteMessage, SQS-PurgeQueue, "
    "AppConfig-GetConfiguration, Kinesis-PutRecord, StepFunctions-StartExecution, "
    "StepFunctions-StartSyncExecution, StepFunctions-StopExecution"
)


def test_aws_service_integration_problems_are_reported_at_their_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        apis:
          shop:
            integrations:
              queue:
                integrationType: AWS_PROXY
                integrationSubtype: SQS-SendMessage
                requestParameters:
                  QueueUrl: $request.header.queueUrl
                  messageBody: $request.body
              events:
                integrationType: AWS_PROXY
                integrationSubtype: EventBridge-PutEvent
              flow:
                integrationType: AWS_PROXY
                integrationSubtype: StepFunctions-StartExecution
                payloadFormatVersion: "2.0"
                requestParameters: {StateMachineArn: "arn:aws:states:us-east-1:123456789012:stateMachine:m"}
        """,
    )
    where = "API 'shop', integration"
    assert problems(path) == [
        ("api.yaml", line_of(path, "requestParameters:"),
         f"{where} 'queue': Parameter: MessageBody is required for Operation: SQS-SendMessage."),
        ("api.yaml", line_of(path, "messageBody:"),
         f"{where} 'queue': Parameter: messageBody does not fit schema for Operation: SQS-SendMessage."),
        ("api.yaml", line_of(path, "EventBridge-PutEvent"),
         f"{where} 'events': Integration subtype EventBridge-PutEvent is not supported. Supported subtypes: "
         + SUPPORTED_SUBTYPES),
        ("api.yaml", line_of(path, '"2.0"'),
         f"{where} 'flow': PayloadFormatVersion 2.0 is not supported for integration of type AWS_PROXY with "
         + "subtype StepFunctions-StartExecution"),
    ]


def test_domain_names_and_api_mappings(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        apis:
          shop:
            routes:
              $default: {integration: {integrationType: HTTP_PROXY, integrationUri: "http://127.0.0.1:1"}}
            stages:
              $default: {autoDeploy: true}
              prod: {}
        domainNames:
          api.example.com:
            mappings:
              "": {api: shop}
              orders/v1: {api: shop, stage: prod}
        """,
    )
    config = load_config([path])
    (domain,) = config.domains
    assert domain.name == "api.example.com"
    assert [(m.key, m.api_name, m.stage) for m in domain.mappings] == [("", "shop", "$default"), ("orders/v1", "shop", "prod")]


def test_domain_name_problems_have_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        apis:
          shop:
            routes:
              $default: {integration: {integrationType: HTTP_PROXY, integrationUri: "http://127.0.0.1:1"}}
        domainNames:
          "bad domain":
            mappings: {}
          api.example.com:
            mappings:
              /orders: {api: shop}
              v2: {api: shoop}
              v3: {api: shop, stage: nope}
        """,
    )
    found = problems(path)
    assert ("api.yaml", line_of(path, "bad domain"), "domain name 'bad domain': Invalid domain name specified: bad domain") in found
    messages = {line: message for _, line, message in found}
    assert "should not start with a '/'" in messages[line_of(path, "/orders")]
    assert "no API named 'shoop'" in messages[line_of(path, "shoop")]
    assert "Invalid stage identifier specified" in messages[line_of(path, "nope")]
