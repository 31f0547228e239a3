"""apigatewayv2 end to end: boto3 against a real `stageway serve` admin listener, resource by resource.

Every operation an HTTP API uses makes a round trip; bad input gets the exception class and message AWS
answers with (spec §1.3 / §1.5), including requests boto3 would refuse to send (raw HTTP).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.control import ACCOUNT_ID, REGION, ControlPlane, start_control_plane
from tests.support.stageway_server import http

LAMBDA_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:greeter"
LAMBDA_URI = f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{LAMBDA_ARN}/invocations"
BAD_PATH_PART = (
    "One or more path parts appear to be invalid. Parts are validated against this regular expression: "
    r"^(\{[\w.:-]+\+?\}|[a-zA-Z0-9.:_-]+)$"
)

FILE_API = """
apis:
  fromfile:
    integrations:
      nowhere:
        integrationType: HTTP_PROXY
        integrationUri: http://127.0.0.1:9/
        integrationMethod: ANY
    routes:
      GET /x: nowhere
"""


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    folder = tmp_path_factory.mktemp("control")
    (folder / "api.yaml").write_text(FILE_API)
    with start_control_plane(folder / "api.yaml") as running:
        yield running


@pytest.fixture(scope="module")
def client(plane: ControlPlane) -> Any:
    return plane.client()


@pytest.fixture(scope="module")
def loose_client(plane: ControlPlane) -> Any:
    """A client that sends what botocore's own parameter validation would refuse (ranges, lengths)."""
    return plane.client(parameter_validation=False)


@pytest.fixture
def api_id(client: Any) -> str:
    api_id: str = client.create_api(Name="test", ProtocolType="HTTP")["ApiId"]
    return api_id


@contextmanager
def aws_error(client: Any, code: str, message: str | None = None) -> Iterator[None]:
    """The call raises boto3's modeled exception `code` (with exactly `message`, when given)."""
    with pytest.raises(ClientError) as caught:
        yield
    error = caught.value
    assert isinstance(error, getattr(client.exceptions, code)), error.response
    assert error.response["Error"]["Code"] == code
    if message is not None:
        assert error.response["Error"]["Message"] == message


def raw(plane: ControlPlane, method: str, path: str, body: object = None) -> tuple[int, str, str]:
    """(status, x-amzn-ErrorType, message) of a request sent as it is, bypassing botocore."""
    data = body if isinstance(body, bytes) else None if body is None else json.dumps(body).encode()
    status, headers, payload, _ = http(method, plane.admin_url + path, body=data,
                                       headers={"content-type": "application/json"})
    message = json.loads(payload).get("message", "") if payload else ""
    return status, headers.get("x-amzn-errortype", ""), message


def integration(client: Any, api_id: str, **fields: Any) -> str:
    fields = {
        "IntegrationType": "HTTP_PROXY",
        "IntegrationUri": "http://127.0.0.1:9/backend",
        "IntegrationMethod": "ANY",
        "PayloadFormatVersion": "1.0",
        **fields,
    }
    integration_id: str = client.create_integration(ApiId=api_id, **fields)["IntegrationId"]
    return integration_id


def jwt_authorizer(client: Any, api_id: str, name: str = "jwt") -> str:
    authorizer_id: str = client.create_authorizer(
        ApiId=api_id,
        Name=name,
        AuthorizerType="JWT",
        IdentitySource=["$request.header.Authorization"],
        JwtConfiguration={"Issuer": "https://issuer.example.com", "Audience": ["app"]},
    )["AuthorizerId"]
    return authorizer_id


# --------------------------------------------------------------------------------------------------
# APIs


def test_api_round_trip(plane: ControlPlane, client: Any) -> None:
    created = client.create_api(
        Name="pets", ProtocolType="HTTP", Description="d", Version="1", Tags={"team": "a"}
    )
    api_id = created["ApiId"]
    assert re.fullmatch(r"[a-z0-9]{10}", api_id)
    assert created["ApiEndpoint"] == f"http://{api_id}.execute-api.localhost:{plane.data_port}"
    assert created["RouteSelectionExpression"] == "$request.method $request.path"
    assert created["ApiKeySelectionExpression"] == "$request.header.x-api-key"
    assert created["ProtocolType"] == "HTTP"
    assert created["DisableExecuteApiEndpoint"] is False
    assert created["Tags"] == {"team": "a"}
    assert created["CreatedDate"].tzinfo is not None

    got = client.get_api(ApiId=api_id)
    assert {k: v for k, v in got.items() if k != "ResponseMetadata"} == {
        k: v for k, v in created.items() if k != "ResponseMetadata"
    }
    assert api_id in [api["ApiId"] for api in client.get_apis()["Items"]]

    updated = client.update_api(ApiId=api_id, Name="pets2", DisableExecuteApiEndpoint=True)
    assert (updated["Name"], updated["Description"], updated["DisableExecuteApiEndpoint"]) == ("pets2", "d", True)
    assert client.get_api(ApiId=api_id)["Name"] == "pets2"

    client.delete_api(ApiId=api_id)
    with aws_error(client, "NotFoundException", f"Invalid API identifier specified {ACCOUNT_ID}:{api_id}"):
        client.get_api(ApiId=api_id)
    with aws_error(client, "NotFoundException", f"Invalid API identifier specified {ACCOUNT_ID}:{api_id}"):
        client.delete_api(ApiId=api_id)


def test_create_api_refusals(plane: ControlPlane, client: Any) -> None:
    assert raw(plane, "POST", "/v2/apis", {"name": "x", "protocolType": "SOAP"}) == (
        400, "BadRequestException", "Invalid protocol specified. Must be one of [HTTP, WEBSOCKET]"
    )
    with aws_error(client, "BadRequestException"):
        client.create_api(Name="ws", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action")
    assert raw(plane, "POST", "/v2/apis", {"protocolType": "HTTP"}) == (
        400, "BadRequestException", "Name is a required parameter"
    )
    status, kind, message = raw(plane, "POST", "/v2/apis", b'{"name": "x", "protocolType": ')
    assert (status, kind) == (400, "BadRequestException")
    assert message.startswith("Could not parse request body into json")
    status, kind, message = raw(plane, "POST", "/v2/apis", {"name": 5, "protocolType": "HTTP"})
    assert (status, kind) == (400, "BadRequestException") and "'name'" in message
    status, kind, _ = raw(plane, "POST", "/v2/apis", {"name": "x", "protocolType": "HTTP", "tags": ["a"]})
    assert (status, kind) == (400, "BadRequestException")
    with aws_error(client, "BadRequestException"):
        client.create_api(Name="x", ProtocolType="HTTP", RouteSelectionExpression="$request.body.action")


def test_file_applied_api_hides_stageway_keys(plane: ControlPlane, client: Any) -> None:
    api = next(api for api in client.get_apis()["Items"] if api["Name"] == "fromfile")
    status, _, payload, _ = http("GET", f"{plane.admin_url}/v2/apis/{api['ApiId']}")
    assert status == 200 and "stageway" not in json.loads(payload)
    routes = client.get_routes(ApiId=api["ApiId"])["Items"]
    assert [route["RouteKey"] for route in routes] == ["GET /x"]


def test_quick_create_lambda(client: Any) -> None:
    api = client.create_api(Name="quick", ProtocolType="HTTP", Target=LAMBDA_ARN, CredentialsArn="arn:aws:iam::1:role/r")
    [integration_doc] = client.get_integrations(ApiId=api["ApiId"])["Items"]
    assert integration_doc["IntegrationType"] == "AWS_PROXY"
    assert integration_doc["PayloadFormatVersion"] == "2.0"
    assert integration_doc["IntegrationMethod"] == "POST"
    assert integration_doc["IntegrationUri"] == LAMBDA_ARN
    assert integration_doc["CredentialsArn"] == "arn:aws:iam::1:role/r"
    assert integration_doc["ApiGatewayManaged"] is True
    [route] = client.get_routes(ApiId=api["ApiId"])["Items"]
    assert route["RouteKey"] == "$default" and route["Target"] == f"integrations/{integration_doc['IntegrationId']}"
    [stage] = client.get_stages(ApiId=api["ApiId"])["Items"]
    assert stage["StageName"] == "$default" and stage["AutoDeploy"] is True and stage["ApiGatewayManaged"] is True
    assert stage["DeploymentId"] and "Successfully deployed" in stage["LastDeploymentStatusMessage"]
    [deployment] = client.get_deployments(ApiId=api["ApiId"])["Items"]
    assert deployment["AutoDeployed"] is True and deployment["DeploymentStatus"] == "DEPLOYED"

    # The managed resources: the integration can't be deleted, the stage can't be changed.
    with aws_error(client, "BadRequestException"):
        client.delete_integration(ApiId=api["ApiId"], IntegrationId=integration_doc["IntegrationId"])
    with aws_error(client, "BadRequestException"):
        client.update_stage(ApiId=api["ApiId"], StageName="$default", Description="x")

    # UpdateApi's quick-create members retarget the integration and rename the route.
    client.update_api(ApiId=api["ApiId"], Target="https://example.com/", RouteKey="GET /hello")
    [integration_doc] = client.get_integrations(ApiId=api["ApiId"])["Items"]
    assert (integration_doc["IntegrationType"], integration_doc["PayloadFormatVersion"]) == ("HTTP_PROXY", "1.0")
    assert client.get_routes(ApiId=api["ApiId"])["Items"][0]["RouteKey"] == "GET /hello"


def test_quick_create_refusals(client: Any) -> None:
    with aws_error(client, "BadRequestException", "Invalid HTTP endpoint specified for URI"):
        client.create_api(Name="q", ProtocolType="HTTP", Target="not a url")
    with aws_error(client, "BadRequestException", BAD_PATH_PART):
        client.create_api(Name="q", ProtocolType="HTTP", Target="https://example.com", RouteKey="GET /a b")
    with aws_error(client, "BadRequestException"):
        client.create_api(Name="q", ProtocolType="HTTP", RouteKey="GET /a")


def test_cors(plane: ControlPlane, client: Any, loose_client: Any, api_id: str) -> None:
    cors = {"AllowOrigins": ["https://a.example.com"], "AllowMethods": ["GET"], "MaxAge": 60, "AllowCredentials": True}
    updated = client.update_api(ApiId=api_id, CorsConfiguration=cors)
    assert updated["CorsConfiguration"] == cors
    with aws_error(client, "BadRequestException", "allow-credentials is not supported if 'allow-origin' is *"):
        client.update_api(ApiId=api_id, CorsConfiguration={"AllowOrigins": ["*"], "AllowCredentials": True})
    with aws_error(client, "BadRequestException", "allow-credentials is not supported if 'allow-origin' is *"):
        client.create_api(
            Name="c", ProtocolType="HTTP", CorsConfiguration={"AllowOrigins": ["*"], "AllowCredentials": True}
        )
    with aws_error(client, "BadRequestException"):
        client.update_api(ApiId=api_id, CorsConfiguration={"AllowOrigins": ["https://a.example.com/path"]})
    with aws_error(loose_client, "BadRequestException"):
        loose_client.update_api(ApiId=api_id, CorsConfiguration={"MaxAge": 90000})
    assert client.get_api(ApiId=api_id)["CorsConfiguration"] == cors  # refused updates changed nothing
    client.delete_cors_configuration(ApiId=api_id)
    assert "CorsConfiguration" not in client.get_api(ApiId=api_id)
    status, kind, _ = raw(plane, "PATCH", f"/v2/apis/{api_id}", {"corsConfiguration": {"maxAge": "60"}})
    assert (status, kind) == (400, "BadRequestException")


# --------------------------------------------------------------------------------------------------
# Routes


def test_route_round_trip(client: Any, api_id: str) -> None:
    target_id = integration(client, api_id)
    route = client.create_route(ApiId=api_id, RouteKey="GET /pets/{id}", Target=f"integrations/{target_id}",
                                OperationName="getPet")
    route_id = route["RouteId"]
    assert re.fullmatch(r"[a-z0-9]{7}", route_id)
    assert (route["AuthorizationType"], route["ApiKeyRequired"]) == ("NONE", False)
    assert client.get_route(ApiId=api_id, RouteId=route_id)["RouteKey"] == "GET /pets/{id}"
    assert [r["RouteId"] for r in client.get_routes(ApiId=api_id)["Items"]] == [route_id]

    updated = client.update_route(ApiId=api_id, RouteId=route_id, RouteKey="POST /pets/{id}")
    assert (updated["RouteKey"], updated["Target"], updated["OperationName"]) == (
        "POST /pets/{id}", f"integrations/{target_id}", "getPet"
    )
    client.delete_route(ApiId=api_id, RouteId=route_id)
    with aws_error(client, "NotFoundException", f"Invalid Route identifier specified {route_id}"):
        client.get_route(ApiId=api_id, RouteId=route_id)


def test_route_key_refusals(plane: ControlPlane, client: Any, api_id: str) -> None:
    client.create_route(ApiId=api_id, RouteKey="ANY /{proxy+}")
    with aws_error(client, "ConflictException", "Route with key ANY /{proxy+} already exists for this API"):
        client.create_route(ApiId=api_id, RouteKey="ANY /{proxy+}")
    client.create_route(ApiId=api_id, RouteKey="GET /a/{orgId}/s/{stage_id}/q")
    with aws_error(
        client,
        "ConflictException",
        'The provided route key "GET /a/{orgId}/s/{stageId}/q" has a conflicting variable on the same '
        'hierarchical level as "GET /a/{orgId}/s/{stage_id}/q"',
    ):
        client.create_route(ApiId=api_id, RouteKey="GET /a/{orgId}/s/{stageId}/q")
    for bad in ("GET /pets/e{id}", "GET /pets/{id}.json", "GET /a b"):
        with aws_error(client, "BadRequestException", BAD_PATH_PART):
            client.create_route(ApiId=api_id, RouteKey=bad)
    with aws_error(client, "BadRequestException"):
        client.create_route(ApiId=api_id, RouteKey="FETCH /pets")
    assert raw(plane, "POST", f"/v2/apis/{api_id}/routes", {}) == (400, "BadRequestException", "Route key is required")
    with aws_error(client, "NotFoundException", f"Invalid API identifier specified {ACCOUNT_ID}:nosuchapi"):
        client.create_route(ApiId="nosuchapi", RouteKey="GET /x")
    with aws_error(client, "NotFoundException", "Invalid Integration identifier specified nothing"):
        client.create_route(ApiId=api_id, RouteKey="GET /t", Target="integrations/nothing")
    with aws_error(client, "BadRequestException"):
        client.create_route(ApiId=api_id, RouteKey="GET /t", Target="lambda")
    with aws_error(client, "BadRequestException"):
        client.create_route(ApiId=api_id, RouteKey="GET /t", RequestModels={"application/json": "m"})
    status, kind, message = raw(plane, "POST", f"/v2/apis/{api_id}/routes",
                                {"routeKey": "GET /t", "authorizationScopes": "read"})
    assert (status, kind) == (400, "BadRequestException") and "authorizationScopes" in message
    assert [r["RouteKey"] for r in client.get_routes(ApiId=api_id)["Items"]] == [
        "ANY /{proxy+}", "GET /a/{orgId}/s/{stage_id}/q"
    ]


def test_route_authorization(client: Any, api_id: str) -> None:
    jwt_id = jwt_authorizer(client, api_id)
    jwt_message = "Invalid authorizer ID specified. Setting the authorization type to JWT requires a valid JWT authorizer."
    with aws_error(client, "BadRequestException", jwt_message):
        client.create_route(ApiId=api_id, RouteKey="GET /a", AuthorizationType="JWT")
    with aws_error(client, "BadRequestException", jwt_message):
        client.create_route(ApiId=api_id, RouteKey="GET /a", AuthorizationType="JWT", AuthorizerId="nothing")
    with aws_error(client, "BadRequestException"):
        client.create_route(ApiId=api_id, RouteKey="GET /a", AuthorizationType="CUSTOM", AuthorizerId=jwt_id)
    route = client.create_route(
        ApiId=api_id, RouteKey="GET /a", AuthorizationType="JWT", AuthorizerId=jwt_id, AuthorizationScopes=["read"]
    )
    assert (route["AuthorizerId"], route["AuthorizationScopes"]) == (jwt_id, ["read"])
    with aws_error(client, "BadRequestException"):
        client.update_route(ApiId=api_id, RouteId=route["RouteId"], AuthorizationScopes=[f"s{i}" for i in range(11)])
    cleared = client.update_route(ApiId=api_id, RouteId=route["RouteId"], AuthorizationType="NONE")
    assert "AuthorizerId" not in cleared and "AuthorizationScopes" not in cleared


def test_delete_route_request_parameter(client: Any, api_id: str) -> None:
    route = client.create_route(
        ApiId=api_id, RouteKey="GET /p", RequestParameters={"route.request.querystring.q": {"Required": True}}
    )
    client.delete_route_request_parameter(
        ApiId=api_id, RouteId=route["RouteId"], RequestParameterKey="route.request.querystring.q"
    )
    assert "RequestParameters" not in client.get_route(ApiId=api_id, RouteId=route["RouteId"])
    with aws_error(client, "NotFoundException"):
        client.delete_route_request_parameter(
            ApiId=api_id, RouteId=route["RouteId"], RequestParameterKey="route.request.querystring.q"
        )


# --------------------------------------------------------------------------------------------------
# Integrations


def test_integration_round_trip(client: Any, api_id: str) -> None:
    created = client.create_integration(
        ApiId=api_id,
        IntegrationType="HTTP_PROXY",
        IntegrationUri="https://example.com/{proxy}",
        IntegrationMethod="GET",
        PayloadFormatVersion="1.0",
        RequestParameters={"append:header.x-a": "$request.header.x-b", "overwrite:path": "$request.path"},
        ResponseParameters={"500": {"overwrite:statuscode": "403"}},
    )
    integration_id = created["IntegrationId"]
    assert re.fullmatch(r"[a-z0-9]{7}", integration_id)
    assert (created["TimeoutInMillis"], created["ConnectionType"]) == (30000, "INTERNET")
    assert client.get_integration(ApiId=api_id, IntegrationId=integration_id)["IntegrationMethod"] == "GET"
    lambda_integration = client.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=LAMBDA_URI, PayloadFormatVersion="2.0"
    )
    assert lambda_integration["IntegrationMethod"] == "POST"
    assert [i["IntegrationId"] for i in client.get_integrations(ApiId=api_id)["Items"]] == [
        integration_id, lambda_integration["IntegrationId"]
    ]

    # spec §5.4: "" deletes a request mapping, {} all mappings of a status; the rest merges.
    updated = client.update_integration(
        ApiId=api_id,
        IntegrationId=integration_id,
        TimeoutInMillis=5000,
        RequestParameters={"append:header.x-a": "", "overwrite:querystring.q": "1"},
        ResponseParameters={"500": {}, "404": {"append:header.error": "$context.requestId"}},
    )
    assert updated["TimeoutInMillis"] == 5000
    assert updated["RequestParameters"] == {"overwrite:path": "$request.path", "overwrite:querystring.q": "1"}
    assert updated["ResponseParameters"] == {"404": {"append:header.error": "$context.requestId"}}
    assert updated["IntegrationUri"] == "https://example.com/{proxy}"

    client.delete_integration(ApiId=api_id, IntegrationId=integration_id)
    with aws_error(client, "NotFoundException", f"Invalid Integration identifier specified {integration_id}"):
        client.get_integration(ApiId=api_id, IntegrationId=integration_id)


def test_integration_refusals(plane: ControlPlane, client: Any, loose_client: Any, api_id: str) -> None:
    proxy_only = (
        "Currently, an API with a protocol type of HTTP may only be associated with proxy integrations "
        "(AWS_PROXY, HTTP_PROXY)"
    )
    with aws_error(client, "BadRequestException", proxy_only):
        client.create_integration(ApiId=api_id, IntegrationType="MOCK")
    for timeout in (49, 30001):
        with aws_error(loose_client, "BadRequestException", "Timeout should be between 50 ms and 30000 ms"):
            integration(loose_client, api_id, TimeoutInMillis=timeout)
    with aws_error(client, "BadRequestException", "PayloadFormatVersion 2.0 is not supported for integration of type HTTP_PROXY"):
        integration(client, api_id, PayloadFormatVersion="2.0")
    with aws_error(client, "BadRequestException"):
        integration(client, api_id, PayloadFormatVersion="3.0")
    with aws_error(client, "BadRequestException", "Invalid HTTP endpoint specified for URI"):
        integration(client, api_id, IntegrationUri="ftp://example.com")
    with aws_error(client, "BadRequestException", "Invalid integration URI specified"):
        client.create_integration(
            ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri="greeter", PayloadFormatVersion="2.0"
        )
    with aws_error(client, "BadRequestException"):
        integration(client, api_id, RequestParameters={"overwrite:header.Authorization": "x"})
    with aws_error(client, "BadRequestException"):
        integration(client, api_id, RequestParameters={"rename:header.a": "x"})
    with aws_error(client, "NotFoundException", "Invalid VpcLink identifier specified nolink"):
        integration(client, api_id, ConnectionType="VPC_LINK", ConnectionId="nolink")
    status, kind, message = raw(plane, "POST", f"/v2/apis/{api_id}/integrations", {
        "integrationType": "HTTP_PROXY", "integrationUri": "http://a", "integrationMethod": "ANY",
        "payloadFormatVersion": "1.0", "timeoutInMillis": "5000",
    })
    assert (status, kind) == (400, "BadRequestException") and "timeoutInMillis" in message
    assert client.get_integrations(ApiId=api_id)["Items"] == []

    used = integration(client, api_id)
    route = client.create_route(ApiId=api_id, RouteKey="GET /x", Target=f"integrations/{used}")
    with aws_error(
        client,
        "ConflictException",
        f"Cannot delete Integration because it is referenced by the following Routes with Ids: [{route['RouteId']}]",
    ):
        client.delete_integration(ApiId=api_id, IntegrationId=used)


# --------------------------------------------------------------------------------------------------
# Authorizers


def test_authorizer_round_trip(client: Any, api_id: str) -> None:
    jwt_id = jwt_authorizer(client, api_id)
    assert re.fullmatch(r"[a-z0-9]{6}", jwt_id)
    request = client.create_authorizer(
        ApiId=api_id,
        Name="lambda",
        AuthorizerType="REQUEST",
        AuthorizerUri=LAMBDA_URI,
        AuthorizerPayloadFormatVersion="2.0",
        EnableSimpleResponses=True,
        AuthorizerResultTtlInSeconds=300,
        IdentitySource=["$request.header.Authorization", "$context.routeKey"],
    )
    got = client.get_authorizer(ApiId=api_id, AuthorizerId=jwt_id)
    assert got["JwtConfiguration"] == {"Issuer": "https://issuer.example.com", "Audience": ["app"]}
    assert got["IdentitySource"] == ["$request.header.Authorization"]
    assert [a["Name"] for a in client.get_authorizers(ApiId=api_id)["Items"]] == ["jwt", "lambda"]
    updated = client.update_authorizer(ApiId=api_id, AuthorizerId=jwt_id, JwtConfiguration={"Audience": ["a", "b"]})
    assert updated["JwtConfiguration"] == {"Issuer": "https://issuer.example.com", "Audience": ["a", "b"]}
    updated = client.update_authorizer(ApiId=api_id, AuthorizerId=request["AuthorizerId"], AuthorizerResultTtlInSeconds=0)
    assert updated["AuthorizerResultTtlInSeconds"] == 0

    route = client.create_route(ApiId=api_id, RouteKey="GET /c", AuthorizationType="CUSTOM",
                                AuthorizerId=request["AuthorizerId"])
    with aws_error(client, "ConflictException"):
        client.delete_authorizer(ApiId=api_id, AuthorizerId=request["AuthorizerId"])
    client.delete_route(ApiId=api_id, RouteId=route["RouteId"])
    client.delete_authorizer(ApiId=api_id, AuthorizerId=request["AuthorizerId"])
    with aws_error(client, "NotFoundException", f"Invalid Authorizer identifier specified {request['AuthorizerId']}"):
        client.get_authorizer(ApiId=api_id, AuthorizerId=request["AuthorizerId"])


def test_authorizer_refusals(client: Any, loose_client: Any, api_id: str) -> None:
    request = {"ApiId": api_id, "Name": "l", "AuthorizerType": "REQUEST", "AuthorizerUri": LAMBDA_URI,
               "IdentitySource": ["$request.header.Authorization"]}
    with aws_error(client, "BadRequestException",
                   "AuthorizerPayloadFormatVersion is a required parameter for REQUEST authorizer"):
        client.create_authorizer(**request)
    with aws_error(client, "BadRequestException"):
        client.create_authorizer(**request, AuthorizerPayloadFormatVersion="1.0", EnableSimpleResponses=True)
    with aws_error(loose_client, "BadRequestException"):
        loose_client.create_authorizer(**request, AuthorizerPayloadFormatVersion="2.0", AuthorizerResultTtlInSeconds=3601)
    with aws_error(client, "BadRequestException"):
        client.create_authorizer(**{**request, "AuthorizerUri": "not-a-lambda"}, AuthorizerPayloadFormatVersion="2.0")
    jwt = {"ApiId": api_id, "Name": "j", "AuthorizerType": "JWT", "IdentitySource": ["$request.header.Authorization"]}
    with aws_error(client, "BadRequestException"):
        client.create_authorizer(**jwt)  # no issuer
    with aws_error(client, "BadRequestException"):
        client.create_authorizer(**{**jwt, "IdentitySource": ["$context.a", "$request.header.b"]},
                                 JwtConfiguration={"Issuer": "https://i.example.com"})
    assert client.get_authorizers(ApiId=api_id)["Items"] == []


# --------------------------------------------------------------------------------------------------
# Stages and deployments


def test_stage_round_trip(client: Any, api_id: str) -> None:
    client.create_route(ApiId=api_id, RouteKey="GET /pets")
    deployment = client.create_deployment(ApiId=api_id, Description="first")
    assert re.fullmatch(r"[a-z0-9]{6}", deployment["DeploymentId"])
    assert (deployment["DeploymentStatus"], deployment["AutoDeployed"]) == ("DEPLOYED", False)
    stage = client.create_stage(
        ApiId=api_id,
        StageName="prod",
        DeploymentId=deployment["DeploymentId"],
        StageVariables={"color": "blue"},
        DefaultRouteSettings={"ThrottlingBurstLimit": 10, "ThrottlingRateLimit": 5.0},
        RouteSettings={"GET /pets": {"ThrottlingRateLimit": 1.0}},
        AccessLogSettings={"DestinationArn": "arn:aws:logs:us-east-1:1:log-group:g", "Format": "$context.requestId"},
        Tags={"env": "prod"},
    )
    assert (stage["DeploymentId"], stage["AutoDeploy"], stage["Tags"]) == (deployment["DeploymentId"], False, {"env": "prod"})
    assert client.get_stage(ApiId=api_id, StageName="prod")["StageVariables"] == {"color": "blue"}
    updated = client.update_stage(ApiId=api_id, StageName="prod", StageVariables={"color": "green"},
                                  DefaultRouteSettings={"DetailedMetricsEnabled": True})
    assert updated["StageVariables"] == {"color": "green"}
    assert updated["DefaultRouteSettings"] == {
        "DetailedMetricsEnabled": True, "ThrottlingBurstLimit": 10, "ThrottlingRateLimit": 5.0
    }
    assert updated["LastUpdatedDate"] >= stage["LastUpdatedDate"]

    client.delete_route_settings(ApiId=api_id, StageName="prod", RouteKey="GET /pets")
    assert client.get_stage(ApiId=api_id, StageName="prod")["RouteSettings"] == {}
    with aws_error(client, "NotFoundException"):
        client.delete_route_settings(ApiId=api_id, StageName="prod", RouteKey="GET /pets")
    client.delete_access_log_settings(ApiId=api_id, StageName="prod")
    assert "AccessLogSettings" not in client.get_stage(ApiId=api_id, StageName="prod")
    client.reset_authorizers_cache(ApiId=api_id, StageName="prod")

    default = client.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    assert default["DeploymentId"] != deployment["DeploymentId"]  # auto-deployed at once
    assert client.get_stage(ApiId=api_id, StageName="$default")["AutoDeploy"] is True
    assert [s["StageName"] for s in client.get_stages(ApiId=api_id)["Items"]] == ["prod", "$default"]

    with aws_error(client, "BadRequestException", "Active stages pointing to this deployment must be moved or deleted"):
        client.delete_deployment(ApiId=api_id, DeploymentId=deployment["DeploymentId"])
    client.delete_stage(ApiId=api_id, StageName="prod")
    with aws_error(client, "NotFoundException", "Invalid stage identifier specified"):
        client.get_stage(ApiId=api_id, StageName="prod")
    client.update_deployment(ApiId=api_id, DeploymentId=deployment["DeploymentId"], Description="second")
    assert client.get_deployment(ApiId=api_id, DeploymentId=deployment["DeploymentId"])["Description"] == "second"
    client.delete_deployment(ApiId=api_id, DeploymentId=deployment["DeploymentId"])
    with aws_error(client, "NotFoundException", f"Invalid Deployment identifier specified {deployment['DeploymentId']}"):
        client.get_deployment(ApiId=api_id, DeploymentId=deployment["DeploymentId"])


def test_stage_refusals(plane: ControlPlane, client: Any, api_id: str) -> None:
    client.create_stage(ApiId=api_id, StageName="dev")
    with aws_error(client, "ConflictException", "Stage already exists"):
        client.create_stage(ApiId=api_id, StageName="dev")
    with aws_error(client, "BadRequestException"):
        client.create_stage(ApiId=api_id, StageName="bad name")
    with aws_error(client, "BadRequestException", "Execution logs are not supported on protocolType HTTP"):
        client.create_stage(ApiId=api_id, StageName="logs", DefaultRouteSettings={"LoggingLevel": "INFO"})
    with aws_error(client, "NotFoundException", "Invalid Deployment identifier specified nothing"):
        client.create_stage(ApiId=api_id, StageName="x", DeploymentId="nothing")
    with aws_error(client, "NotFoundException"):
        client.create_stage(ApiId=api_id, StageName="x", RouteSettings={"GET /none": {"ThrottlingRateLimit": 1.0}})
    deployment_id = client.create_deployment(ApiId=api_id)["DeploymentId"]
    with aws_error(client, "BadRequestException"):
        client.create_stage(ApiId=api_id, StageName="x", AutoDeploy=True, DeploymentId=deployment_id)
    with aws_error(client, "BadRequestException"):
        client.create_stage(ApiId=api_id, StageName="x", StageVariables={"bad-name": "v"})
    with aws_error(client, "BadRequestException"):
        client.create_stage(ApiId=api_id, StageName="x", AccessLogSettings={"DestinationArn": "a", "Format": "no id"})
    with aws_error(client, "NotFoundException", "Invalid stage identifier specified"):
        client.create_deployment(ApiId=api_id, StageName="nothing")
    client.update_stage(ApiId=api_id, StageName="dev", AutoDeploy=True)
    with aws_error(client, "BadRequestException"):
        client.update_stage(ApiId=api_id, StageName="dev", DeploymentId=deployment_id)
    with aws_error(client, "BadRequestException"):
        client.create_deployment(ApiId=api_id, StageName="dev")
    status, kind, _ = raw(plane, "PATCH", f"/v2/apis/{api_id}/stages/dev", {"autoDeploy": "yes"})
    assert (status, kind) == (400, "BadRequestException")
    # `$default` arrives percent-encoded from boto3 and as it is from others: both name the stage.
    client.create_stage(ApiId=api_id, StageName="$default")
    assert http("GET", f"{plane.admin_url}/v2/apis/{api_id}/stages/$default")[0] == 200
    assert [s["StageName"] for s in client.get_stages(ApiId=api_id)["Items"]] == ["dev", "$default"]


def test_create_deployment_points_stage(client: Any, api_id: str) -> None:
    client.create_stage(ApiId=api_id, StageName="beta")
    deployment = client.create_deployment(ApiId=api_id, StageName="beta", Description="to beta")
    assert client.get_stage(ApiId=api_id, StageName="beta")["DeploymentId"] == deployment["DeploymentId"]
    assert client.get_deployment(ApiId=api_id, DeploymentId=deployment["DeploymentId"])["Description"] == "to beta"


def test_auto_deploy_follows_changes(client: Any, api_id: str) -> None:
    client.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    first = client.get_stage(ApiId=api_id, StageName="$default")["DeploymentId"]
    client.create_route(ApiId=api_id, RouteKey="GET /new")
    second = client.get_stage(ApiId=api_id, StageName="$default")["DeploymentId"]
    assert second != first
    client.update_api(ApiId=api_id, CorsConfiguration={"AllowOrigins": ["https://x.example.com"]})
    assert client.get_stage(ApiId=api_id, StageName="$default")["DeploymentId"] != second
    assert all(d["AutoDeployed"] for d in client.get_deployments(ApiId=api_id)["Items"])


# --------------------------------------------------------------------------------------------------
# Domain names and API mappings


def test_domain_names_and_mappings(client: Any, api_id: str) -> None:
    client.create_stage(ApiId=api_id, StageName="prod")
    domain = client.create_domain_name(DomainName="api.example.com", Tags={"a": "1"})
    assert domain["DomainNameArn"] == f"arn:aws:apigateway:{REGION}::/domainnames/api.example.com"
    assert domain["ApiMappingSelectionExpression"] == "$request.basepath"
    [config] = domain["DomainNameConfigurations"]
    assert (config["EndpointType"], config["SecurityPolicy"], config["DomainNameStatus"]) == (
        "REGIONAL", "TLS_1_2", "AVAILABLE"
    )
    with aws_error(client, "ConflictException", "The domain name resource already exists."):
        client.create_domain_name(DomainName="api.example.com")
    assert "api.example.com" in [d["DomainName"] for d in client.get_domain_names()["Items"]]
    assert client.get_domain_name(DomainName="api.example.com")["Tags"] == {"a": "1"}

    mapping = client.create_api_mapping(DomainName="api.example.com", ApiId=api_id, Stage="prod", ApiMappingKey="v1/orders")
    assert re.fullmatch(r"[a-z0-9]{6}", mapping["ApiMappingId"])
    none_key = client.create_api_mapping(DomainName="api.example.com", ApiId=api_id, Stage="prod")
    assert none_key["ApiMappingKey"] == ""
    with aws_error(client, "ConflictException"):
        client.create_api_mapping(DomainName="api.example.com", ApiId=api_id, Stage="prod", ApiMappingKey="v1/orders")
    for key, message in (
        ("/v1", "API mapping key should not start with a '/' or have consecutive '/'s."),
        ("v1//x", "API mapping key should not start with a '/' or have consecutive '/'s."),
        ("v1/", "API mapping key should not end with a '/'."),
    ):
        with aws_error(client, "BadRequestException", message):
            client.create_api_mapping(DomainName="api.example.com", ApiId=api_id, Stage="prod", ApiMappingKey=key)
    with aws_error(client, "BadRequestException", "Invalid stage identifier specified"):
        client.create_api_mapping(DomainName="api.example.com", ApiId=api_id, Stage="nothing")
    with aws_error(client, "NotFoundException", f"Invalid API identifier specified {ACCOUNT_ID}:nothing"):
        client.create_api_mapping(DomainName="api.example.com", ApiId="nothing", Stage="prod")
    with aws_error(client, "NotFoundException", "The domain name resource specified in the request was not found."):
        client.create_api_mapping(DomainName="other.example.com", ApiId=api_id, Stage="prod")

    updated = client.update_api_mapping(
        DomainName="api.example.com", ApiMappingId=mapping["ApiMappingId"], ApiId=api_id, ApiMappingKey="v2"
    )
    assert (updated["ApiMappingKey"], updated["Stage"]) == ("v2", "prod")
    got = client.get_api_mapping(DomainName="api.example.com", ApiMappingId=mapping["ApiMappingId"])
    assert got["ApiMappingKey"] == "v2"
    assert len(client.get_api_mappings(DomainName="api.example.com")["Items"]) == 2
    client.delete_api_mapping(DomainName="api.example.com", ApiMappingId=mapping["ApiMappingId"])
    with aws_error(client, "NotFoundException"):
        client.get_api_mapping(DomainName="api.example.com", ApiMappingId=mapping["ApiMappingId"])

    domain = client.update_domain_name(
        DomainName="api.example.com",
        DomainNameConfigurations=[{"CertificateArn": "arn:aws:acm:us-east-1:1:certificate/c", "EndpointType": "REGIONAL"}],
    )
    assert domain["DomainNameConfigurations"][0]["CertificateArn"].endswith("certificate/c")
    client.delete_domain_name(DomainName="api.example.com")
    with aws_error(client, "NotFoundException", "The domain name resource specified in the request was not found."):
        client.get_domain_name(DomainName="api.example.com")
    with aws_error(client, "BadRequestException"):
        client.create_domain_name(DomainName="not a domain")


# --------------------------------------------------------------------------------------------------
# Tags, VPC links, WebSocket-only and unknown operations


def test_tags(client: Any, api_id: str) -> None:
    api_arn = f"arn:aws:apigateway:{REGION}::/apis/{api_id}"
    client.tag_resource(ResourceArn=api_arn, Tags={"a": "1", "b": "2"})
    assert client.get_tags(ResourceArn=api_arn)["Tags"] == {"a": "1", "b": "2"}
    assert client.get_api(ApiId=api_id)["Tags"] == {"a": "1", "b": "2"}
    client.untag_resource(ResourceArn=api_arn, TagKeys=["a", "nothing"])
    assert client.get_tags(ResourceArn=api_arn)["Tags"] == {"b": "2"}

    client.create_stage(ApiId=api_id, StageName="prod", Tags={"s": "1"})
    stage_arn = f"{api_arn}/stages/prod"
    client.tag_resource(ResourceArn=stage_arn, Tags={"t": "2"})
    assert client.get_tags(ResourceArn=stage_arn)["Tags"] == {"s": "1", "t": "2"}

    with aws_error(client, "NotFoundException", f"Invalid API identifier specified {ACCOUNT_ID}:nothing"):
        client.get_tags(ResourceArn=f"arn:aws:apigateway:{REGION}::/apis/nothing")
    with aws_error(client, "BadRequestException"):
        client.tag_resource(ResourceArn="arn:aws:s3:::bucket", Tags={"a": "1"})
    with aws_error(client, "BadRequestException"):
        client.tag_resource(ResourceArn=api_arn, Tags={"aws:reserved": "1"})


def test_vpc_links(client: Any) -> None:
    link = client.create_vpc_link(Name="link", SubnetIds=["subnet-1"], Tags={"a": "1"})
    assert (link["VpcLinkStatus"], link["VpcLinkVersion"], link["SecurityGroupIds"]) == ("AVAILABLE", "V2", [])
    link_id = link["VpcLinkId"]
    assert client.get_vpc_link(VpcLinkId=link_id)["SubnetIds"] == ["subnet-1"]
    assert link_id in [item["VpcLinkId"] for item in client.get_vpc_links()["Items"]]
    assert client.update_vpc_link(VpcLinkId=link_id, Name="renamed")["Name"] == "renamed"
    arn = f"arn:aws:apigateway:{REGION}::/vpclinks/{link_id}"
    client.tag_resource(ResourceArn=arn, Tags={"b": "2"})
    assert client.get_tags(ResourceArn=arn)["Tags"] == {"a": "1", "b": "2"}
    assert client.delete_vpc_link(VpcLinkId=link_id)["ResponseMetadata"]["HTTPStatusCode"] == 202
    with aws_error(client, "NotFoundException", f"Invalid VpcLink identifier specified {link_id}"):
        client.get_vpc_link(VpcLinkId=link_id)


def test_private_integration_names_a_vpc_link(client: Any, api_id: str) -> None:
    link_id = client.create_vpc_link(Name="link", SubnetIds=["subnet-1"])["VpcLinkId"]
    created = integration(
        client, api_id, ConnectionType="VPC_LINK", ConnectionId=link_id,
        IntegrationUri="arn:aws:elasticloadbalancing:us-east-1:1:listener/app/a/b/c",
        TlsConfig={"ServerNameToVerify": "backend.internal"},
    )
    got = client.get_integration(ApiId=api_id, IntegrationId=created)
    assert (got["ConnectionId"], got["TlsConfig"]) == (link_id, {"ServerNameToVerify": "backend.internal"})


def test_websocket_only_operations_refused(client: Any, api_id: str) -> None:
    with aws_error(client, "BadRequestException"):
        client.create_model(ApiId=api_id, Name="m", Schema="{}")
    route_id = client.create_route(ApiId=api_id, RouteKey="GET /r")["RouteId"]
    with aws_error(client, "BadRequestException"):
        client.get_route_responses(ApiId=api_id, RouteId=route_id)
    with aws_error(client, "NotFoundException"):
        client.get_integration_responses(ApiId=api_id, IntegrationId="nothing")


def test_unknown_and_unserved_operations(plane: ControlPlane, client: Any) -> None:
    status, kind, _ = raw(plane, "GET", "/v2/nothing/here")
    assert (status, kind) == (404, "UnknownOperationException")
    status, kind, _ = raw(plane, "PUT", "/v2/apis/abc/routes")
    assert (status, kind) == (404, "UnknownOperationException")
    with aws_error(client, "BadRequestException"):
        client.get_portals() if hasattr(client, "get_portals") else client.list_portals()


# --------------------------------------------------------------------------------------------------
# Pagination


def test_pagination(plane: ControlPlane, client: Any, api_id: str) -> None:
    keys = [f"GET /p{i}" for i in range(7)]
    for key in keys:
        client.create_route(ApiId=api_id, RouteKey=key)
    first = client.get_routes(ApiId=api_id, MaxResults="3")
    assert [r["RouteKey"] for r in first["Items"]] == keys[:3]
    second = client.get_routes(ApiId=api_id, MaxResults="3", NextToken=first["NextToken"])
    assert [r["RouteKey"] for r in second["Items"]] == keys[3:6]
    third = client.get_routes(ApiId=api_id, MaxResults="3", NextToken=second["NextToken"])
    assert [r["RouteKey"] for r in third["Items"]] == keys[6:] and "NextToken" not in third
    pages = client.get_paginator("get_routes").paginate(ApiId=api_id, PaginationConfig={"PageSize": 2})
    assert [[r["RouteKey"] for r in page["Items"]] for page in pages] == [keys[0:2], keys[2:4], keys[4:6], keys[6:]]
    assert "NextToken" not in client.get_routes(ApiId=api_id)
    with aws_error(client, "BadRequestException"):
        client.get_routes(ApiId=api_id, MaxResults="many")
    with aws_error(client, "BadRequestException"):
        client.get_routes(ApiId=api_id, NextToken="not-a-token")
    for operation in ("get_apis", "get_domain_names", "get_vpc_links"):
        assert "Items" in getattr(client, operation)(MaxResults="1")
    for operation in ("get_integrations", "get_stages", "get_deployments", "get_authorizers"):
        assert getattr(client, operation)(ApiId=api_id, MaxResults="1")["Items"] == []


def test_vendored_model_matches_botocore() -> None:
    from stageway.control.apigatewayv2 import model

    path = Path(model.__file__).with_name("_model_data.py")
    botocore_model, _ = model.load_botocore_model()
    expected_operations, expected_shapes = model.build_model_data(botocore_model)
    from stageway.control.apigatewayv2 import _model_data

    assert _model_data.OPERATIONS == expected_operations, f"regenerate {path}"
    assert _model_data.SHAPES == expected_shapes, f"regenerate {path}"


# --------------------------------------------------------------------------------------------------
# The admin app's own contract (in process): authentication first, extra handlers before apigatewayv2,
# and a bug answered with a 500 in AWS's error format.


def _admin_call(app: Any, method: str, path: str, body: bytes = b"") -> Any:
    import asyncio

    from stageway.control.wire import AdminRequest

    request = AdminRequest(method=method, path=path, query={}, headers={}, body=body, raw_path=path)
    return asyncio.run(app.respond(request))


def test_admin_app_order_and_failures(caplog: pytest.LogCaptureFixture) -> None:
    from stageway.control.app import AdminApp
    from stageway.control.wire import AdminRequest, AdminResponse, MissingAuthenticationTokenException
    from stageway.store.base import open_store

    seen: list[str] = []

    async def imports(request: AdminRequest) -> AdminResponse | None:
        seen.append(f"{request.method} {request.path}")
        if request.method == "PUT" and request.path == "/v2/apis":
            return AdminResponse.json(201, {"apiId": "imported00"})
        if request.path == "/boom":
            raise RuntimeError("a bug")
        return None

    app = AdminApp(open_store("memory://"), region=REGION, account_id=ACCOUNT_ID, data_plane_port=1,
                   extra_handlers=[imports])
    assert _admin_call(app, "PUT", "/v2/apis", b'{"body": "openapi: 3.0.1"}').status == 201
    assert _admin_call(app, "GET", "/v2/apis").status == 200
    assert seen == ["PUT /v2/apis", "GET /v2/apis"]
    with caplog.at_level("ERROR", logger="stageway.control"):
        failed = _admin_call(app, "GET", "/boom")
    assert failed.status == 500 and dict(failed.headers)["x-amzn-errortype"] == "InternalFailure"
    assert b"Traceback" not in failed.body and json.loads(failed.body)["message"]
    assert "a bug" in caplog.text

    def refuse(request: AdminRequest) -> None:
        raise MissingAuthenticationTokenException("Missing Authentication Token")

    locked = AdminApp(open_store("memory://"), region=REGION, account_id=ACCOUNT_ID, data_plane_port=1,
                      authenticate=refuse)
    denied = _admin_call(locked, "GET", "/v2/apis")
    assert denied.status == 403 and dict(denied.headers)["x-amzn-errortype"] == "MissingAuthenticationTokenException"
