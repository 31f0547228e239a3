"""ImportApi, ReimportApi and ExportApi through boto3 against `stageway serve` (spec §1.4, §12).

What an import made is read back with apigatewayv2's own Get* calls, stages are made with CreateStage and
CreateDeployment, and one imported API is called through the data plane, so the documents an import writes
are checked against the rest of the control plane and against the gateway.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from stageway.control.openapi_ops import OpenApiOps
from stageway.control.wire import AdminRequest
from stageway.core.openapi import parse_document
from stageway.store.base import MemoryStore
from tests.support.backend import start_backend
from tests.support.stageway_server import StagewayServer, free_port, http

ACCOUNT_ID = "123456789012"  # `stageway serve`'s default account
LAMBDA_ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:pets"

PETSTORE = json.dumps({
    "openapi": "3.0.1",
    "info": {"title": "Example Pet Store", "description": "A Pet Store API.", "version": "1.0"},
    "paths": {
        "/pets": {
            "get": {"operationId": "GET HTTP", "x-amazon-apigateway-integration": {
                "type": "HTTP_PROXY", "httpMethod": "GET",
                "uri": "http://petstore.execute-api.us-west-1.amazonaws.com/petstore/pets",
                "payloadFormatVersion": 1.0}},
            "post": {"operationId": "Create Pet", "requestBody": {"content": {"application/json": {}}},
                     "x-amazon-apigateway-integration": {
                         "type": "HTTP_PROXY", "httpMethod": "POST",
                         "uri": "http://petstore.execute-api.us-west-1.amazonaws.com/petstore/pets",
                         "payloadFormatVersion": 1.0}},
        },
        "/pets/{petId}": {"get": {"operationId": "Get Pet", "x-amazon-apigateway-integration": {
            "type": "HTTP_PROXY", "httpMethod": "GET",
            "uri": "http://petstore.execute-api.us-west-1.amazonaws.com/petstore/pets/{petId}",
            "payloadFormatVersion": 1.0}}},
    },
    "x-amazon-apigateway-cors": {"allowOrigins": ["*"], "allowMethods": ["GET", "OPTIONS", "POST"],
                                 "allowHeaders": ["authorization", "content-type"]},
})

# A Lambda API with a JWT authorizer, a Lambda authorizer, IAM, a shared integration and $default.
LAMBDA_API = f"""
openapi: 3.0.1
info:
  title: lambda pets
  version: "2"
tags:
  - name: team
    x-amazon-apigateway-tag-value: pets
paths:
  /pets:
    get:
      security:
        - cognito: [pets/read]
      x-amazon-apigateway-integration:
        $ref: "#/components/x-amazon-apigateway-integrations/pets"
    post:
      security:
        - tenant-check: []
      x-amazon-apigateway-integration:
        $ref: "#/components/x-amazon-apigateway-integrations/pets"
  /pets/{{id}}:
    delete:
      security:
        - iam: []
      x-amazon-apigateway-integration:
        type: aws_proxy
        uri: {LAMBDA_ARN}
        payloadFormatVersion: "1.0"
        timeoutInMillis: 5000
  /$default:
    x-amazon-apigateway-any-method:
      isDefaultRoute: true
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: ANY
        uri: https://backend.example.com
components:
  x-amazon-apigateway-integrations:
    pets:
      type: aws_proxy
      uri: arn:aws:apigateway:${{AWS::Region}}:lambda:path/2015-03-31/functions/{LAMBDA_ARN}/invocations
      payloadFormatVersion: "2.0"
  securitySchemes:
    cognito:
      type: oauth2
      x-amazon-apigateway-authorizer:
        type: jwt
        jwtConfiguration:
          issuer: https://cognito-idp.us-east-1.amazonaws.com/us-east-1_pool
          audience: [client-1]
        identitySource: $request.header.Authorization
    tenant-check:
      type: apiKey
      name: x-tenant
      in: header
      x-amazon-apigateway-authorizer:
        type: request
        identitySource: $request.header.x-tenant
        authorizerUri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{LAMBDA_ARN}/invocations
        authorizerPayloadFormatVersion: "2.0"
        enableSimpleResponses: true
    iam:
      type: apiKey
      name: Authorization
      in: header
      x-amazon-apigateway-authtype: awsSigv4
x-amazon-apigateway-cors:
  allowOrigins: [https://app.example.com]
  allowMethods: [GET, POST]
  maxAge: 600
"""

# terraform-provider-aws `testAccAPIConfig_FailOnWarnings`, which AWS refuses under failOnWarnings.
WARNING_API = json.dumps({
    "openapi": "3.0.1",
    "info": {"title": "Title test", "version": "2.0", "description": "Description test"},
    "paths": {"/update": {"get": {
        "x-amazon-apigateway-integration": {"type": "HTTP_PROXY", "httpMethod": "GET",
                                            "payloadFormatVersion": "1.0", "uri": "https://www.google.de"},
        "responses": {"200": {"description": "Response description", "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/ModelThatDoesNotExist"}}}}}}}},
})
MISSING_MODEL_WARNING = ("Parse issue: attribute paths.'/update'(get).responses.200.content.schema."
                         "#/components/schemas/ModelThatDoesNotExist is missing")


class Admin:
    def __init__(self, server: StagewayServer, admin_port: int) -> None:
        self.server = server
        self.url = f"http://127.0.0.1:{admin_port}"

    @property
    def data_plane_port(self) -> int:
        return self.server.port


@pytest.fixture(scope="module")
def admin() -> Iterator[Admin]:
    admin_port = free_port()
    with StagewayServer(args=("--admin-port", str(admin_port))) as server:
        yield Admin(server, admin_port)


@pytest.fixture(scope="module")
def client(admin: Admin) -> Any:
    return boto3.client(
        "apigatewayv2", endpoint_url=admin.url, region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret",
    )


def items(client: Any, operation: str, api_id: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = getattr(client, operation)(ApiId=api_id)["Items"]
    return result


def route_keys(client: Any, api_id: str) -> list[str]:
    return [route["RouteKey"] for route in items(client, "get_routes", api_id)]


def error_of(raised: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    response = raised.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


def export(client: Any, api_id: str, output_type: str = "JSON", **options: Any) -> str:
    body = client.export_api(ApiId=api_id, Specification="OAS30", OutputType=output_type, **options)["body"]
    text: str = body.read().decode()
    return text


def same_api_text(text: str, api_id: str) -> str:
    """An export with what differs between copies of an API (its id, shared integrations' names) made equal."""
    text = text.replace(api_id, "API-ID")
    names: dict[str, str] = {}
    return re.sub(r"integration-[a-z0-9]{7}", lambda m: names.setdefault(m.group(0), f"shared-{len(names)}"), text)


# --------------------------------------------------------------------------------------------------


def test_import_api(admin: Admin, client: Any) -> None:
    response = client.import_api(Body=PETSTORE)

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 201
    api_id = response["ApiId"]
    assert re.fullmatch(r"[a-z0-9]{10}", api_id)
    assert response["Name"] == "Example Pet Store"
    assert response["Description"] == "A Pet Store API."
    assert response["Version"] == "1.0"
    assert response["ProtocolType"] == "HTTP"
    assert response["ApiEndpoint"] == f"http://{api_id}.execute-api.localhost:{admin.data_plane_port}"
    assert response["CorsConfiguration"] == {"AllowOrigins": ["*"], "AllowMethods": ["GET", "OPTIONS", "POST"],
                                             "AllowHeaders": ["authorization", "content-type"]}
    assert "Warnings" not in response
    assert response["ImportInfo"] == ["Ignoring requestBody of 'POST /pets': HTTP APIs do not validate requests"]
    got = client.get_api(ApiId=api_id)
    assert {key: got[key] for key in ("Name", "Description", "Version", "CorsConfiguration", "ApiEndpoint")} == {
        key: response[key] for key in ("Name", "Description", "Version", "CorsConfiguration", "ApiEndpoint")}

    routes = items(client, "get_routes", api_id)
    assert [route["RouteKey"] for route in routes] == ["GET /pets", "POST /pets", "GET /pets/{petId}"]
    assert [route["OperationName"] for route in routes] == ["GET HTTP", "Create Pet", "Get Pet"]
    assert all(re.fullmatch(r"[a-z0-9]{7}", route["RouteId"]) for route in routes)
    integrations = {doc["IntegrationId"]: doc for doc in items(client, "get_integrations", api_id)}
    assert all(re.fullmatch(r"[a-z0-9]{7}", integration_id) for integration_id in integrations)
    by_key = {route["RouteKey"]: integrations[route["Target"].removeprefix("integrations/")] for route in routes}
    assert by_key["GET /pets/{petId}"] | {"IntegrationId": "-"} == {
        "IntegrationId": "-",
        "IntegrationType": "HTTP_PROXY",
        "IntegrationUri": "http://petstore.execute-api.us-west-1.amazonaws.com/petstore/pets/{petId}",
        "IntegrationMethod": "GET",
        "PayloadFormatVersion": "1.0",
        "TimeoutInMillis": 30000,
        "ConnectionType": "INTERNET",
    }
    assert items(client, "get_stages", api_id) == []  # [DOC] an import creates no stage


def test_import_api_yaml_with_authorizers(client: Any) -> None:
    response = client.import_api(Body=LAMBDA_API)
    api_id = response["ApiId"]

    assert response["Tags"] == {"team": "pets"}
    authorizers = {doc["Name"]: doc for doc in items(client, "get_authorizers", api_id)}
    assert {name: doc["AuthorizerType"] for name, doc in authorizers.items()} == {
        "cognito": "JWT", "tenant-check": "REQUEST"}
    assert all(re.fullmatch(r"[a-z0-9]{6}", doc["AuthorizerId"]) for doc in authorizers.values())
    assert authorizers["cognito"]["JwtConfiguration"] == {
        "Audience": ["client-1"], "Issuer": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_pool"}
    assert authorizers["tenant-check"]["EnableSimpleResponses"] is True
    routes = {route["RouteKey"]: route for route in items(client, "get_routes", api_id)}
    assert list(routes) == ["GET /pets", "POST /pets", "DELETE /pets/{id}", "$default"]
    assert (routes["GET /pets"]["AuthorizationType"], routes["GET /pets"]["AuthorizerId"],
            routes["GET /pets"]["AuthorizationScopes"]) == ("JWT", authorizers["cognito"]["AuthorizerId"],
                                                            ["pets/read"])
    assert routes["POST /pets"]["AuthorizationType"] == "CUSTOM"
    assert routes["DELETE /pets/{id}"]["AuthorizationType"] == "AWS_IAM"
    assert routes["GET /pets"]["Target"] == routes["POST /pets"]["Target"]  # one shared integration
    assert len(items(client, "get_integrations", api_id)) == 3
    shared = client.get_integration(ApiId=api_id, IntegrationId=routes["GET /pets"]["Target"].split("/")[1])
    assert shared["IntegrationUri"].startswith("arn:aws:apigateway:us-east-1:lambda:")  # ${AWS::Region}


def test_warnings_and_fail_on_warnings(client: Any) -> None:
    response = client.import_api(Body=WARNING_API)
    assert response["Warnings"] == [MISSING_MODEL_WARNING]
    assert route_keys(client, response["ApiId"]) == ["GET /update"]

    apis_before = len(client.get_apis()["Items"])
    with pytest.raises(ClientError) as raised:
        client.import_api(Body=WARNING_API, FailOnWarnings=True)
    assert error_of(raised) == (400, "BadRequestException", f"Warnings found during import:\n\t{MISSING_MODEL_WARNING}")
    assert len(client.get_apis()["Items"]) == apis_before  # nothing created

    # A refused reimport leaves the API as it was (moto's test_reimport_api_failonwarnings).
    with pytest.raises(ClientError) as raised:
        client.reimport_api(ApiId=response["ApiId"], Body=WARNING_API.replace("Title test", "Renamed"),
                            FailOnWarnings=True)
    assert error_of(raised)[1] == "BadRequestException"
    assert client.get_api(ApiId=response["ApiId"])["Name"] == "Title test"


def test_basepath_prepend(client: Any) -> None:
    document = parse_document(PETSTORE)
    document["servers"] = [{"url": "https://api.example.com/{basePath}",
                            "variables": {"basePath": {"default": "/v1"}}}]
    response = client.import_api(Body=json.dumps(document), Basepath="prepend")
    assert route_keys(client, response["ApiId"]) == ["GET /v1/pets", "POST /v1/pets", "GET /v1/pets/{petId}"]


def test_reimport_replaces_the_definition_and_keeps_stages(client: Any) -> None:
    api_id = client.import_api(Body=PETSTORE)["ApiId"]
    client.create_stage(ApiId=api_id, StageName="live", AutoDeploy=True)
    client.create_stage(ApiId=api_id, StageName="frozen")
    frozen = client.create_deployment(ApiId=api_id, StageName="frozen")["DeploymentId"]
    live = client.get_stage(ApiId=api_id, StageName="live")["DeploymentId"]
    old_integrations = {doc["IntegrationId"] for doc in items(client, "get_integrations", api_id)}

    response = client.reimport_api(ApiId=api_id, Body=LAMBDA_API)

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert (response["ApiId"], response["Name"], response["Version"]) == (api_id, "lambda pets", "2")
    assert "Description" not in response  # the new document has none
    assert response["CorsConfiguration"]["AllowOrigins"] == ["https://app.example.com"]
    assert route_keys(client, api_id) == ["GET /pets", "POST /pets", "DELETE /pets/{id}", "$default"]
    assert not old_integrations & {doc["IntegrationId"] for doc in items(client, "get_integrations", api_id)}
    assert {doc["Name"] for doc in items(client, "get_authorizers", api_id)} == {"cognito", "tenant-check"}

    # Stages stay; the autoDeploy one now serves the new definition, the other still the old one.
    assert client.get_stage(ApiId=api_id, StageName="frozen")["DeploymentId"] == frozen
    assert client.get_stage(ApiId=api_id, StageName="live")["DeploymentId"] != live
    frozen_export = parse_document(export(client, api_id, StageName="frozen"))
    assert list(frozen_export["paths"]) == ["/pets", "/pets/{petId}"]
    assert frozen_export["info"]["title"] == "Example Pet Store"  # the deployed name and CORS
    assert frozen_export["x-amazon-apigateway-cors"]["allowOrigins"] == ["*"]
    assert frozen_export["servers"][0]["variables"] == {"basePath": {"default": "frozen"}}
    live_export = parse_document(export(client, api_id, "YAML", StageName="live"))
    assert list(live_export["paths"]) == ["/pets", "/pets/{id}", "/$default"]


def test_imported_api_serves_requests(client: Any, admin: Admin) -> None:
    with start_backend() as backend:
        document = parse_document(PETSTORE)
        for item in document["paths"].values():
            for operation in item.values():
                integration = operation["x-amazon-apigateway-integration"]
                integration["uri"] = integration["uri"].replace(
                    "http://petstore.execute-api.us-west-1.amazonaws.com/petstore", backend.url)
        api_id = client.import_api(Body=json.dumps(document))["ApiId"]
        client.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)

        host = {"Host": f"{api_id}.execute-api.localhost:{admin.data_plane_port}"}
        deadline = time.monotonic() + 10
        while True:  # the data plane picks up store changes within a second
            status, _, body, _ = http("GET", f"http://127.0.0.1:{admin.data_plane_port}/pets/1", headers=host)
            if status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert status == 200
        assert json.loads(body)["id"] == 1


def test_export_api(admin: Admin, client: Any) -> None:
    api_id = client.import_api(Body=LAMBDA_API)["ApiId"]
    document = json.loads(export(client, api_id, ExportVersion="1.0"))

    assert document["openapi"] == "3.0.1"
    assert document["info"] == {"title": "lambda pets", "version": "2"}
    assert document["servers"] == [{"url": f"http://{api_id}.execute-api.localhost:{admin.data_plane_port}/{{basePath}}",
                                    "variables": {"basePath": {"default": ""}}}]
    assert document["x-amazon-apigateway-importexport-version"] == "1.0"
    assert document["x-amazon-apigateway-cors"] == {"allowOrigins": ["https://app.example.com"],
                                                    "allowMethods": ["GET", "POST"], "maxAge": 600}
    assert document["paths"]["/pets/{id}"]["delete"]["x-amazon-apigateway-integration"] == {
        "type": "aws_proxy", "uri": LAMBDA_ARN, "httpMethod": "POST", "payloadFormatVersion": "1.0",
        "connectionType": "INTERNET", "timeoutInMillis": 5000}
    assert document["paths"]["/$default"]["x-amazon-apigateway-any-method"]["isDefaultRoute"] is True

    text = export(client, api_id, "YAML", IncludeExtensions=False)
    assert "x-amazon-apigateway-integration" not in text and "x-amazon-apigateway-cors" not in text
    assert parse_document(text)["paths"]["/pets"]["get"]["security"] == [{"cognito": ["pets/read"]}]


@pytest.mark.parametrize("output_type", ["JSON", "YAML"])
@pytest.mark.parametrize("body", [PETSTORE, LAMBDA_API], ids=["petstore", "lambda-api"])
def test_export_then_import_gives_the_same_api(client: Any, body: str, output_type: str) -> None:
    original = client.import_api(Body=body)["ApiId"]
    exported = export(client, original, output_type)

    copy = client.import_api(Body=exported)
    assert "Warnings" not in copy
    copied = export(client, copy["ApiId"], output_type)

    assert same_api_text(copied, copy["ApiId"]) == same_api_text(exported, original)
    for operation in ("get_routes", "get_integrations", "get_authorizers"):
        assert len(items(client, operation, copy["ApiId"])) == len(items(client, operation, original))
    original_api, copied_api = client.get_api(ApiId=original), client.get_api(ApiId=copy["ApiId"])
    for field in ("Name", "Version", "CorsConfiguration", "Tags"):
        assert copied_api.get(field) == original_api.get(field)


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda c: c.import_api(Body='{"swagger": "2.0", "info": {"title": "t", "version": "1"}}'),
         (400, "BadRequestException",
          "Unsupported OpenAPI version: swagger 2.0. HTTP APIs can be imported from OpenAPI 3.0 definitions only")),
        (lambda c: c.import_api(Body=json.dumps({"openapi": "3.0.1", "info": {"title": "t", "version": "1"},
                                                 "paths": {"/a/{x}": {"get": {}}, "/a/{y}": {"put": {}}}})),
         (409, "ConflictException",
          ('The provided route key "PUT /a/{y}" has a conflicting variable on the same hierarchical level as '
           '"GET /a/{x}"'))),
        (lambda c: c.import_api(Body="paths: [unclosed"),
         (400, "BadRequestException", "Unable to parse the OpenAPI definition: ")),
        # CreateIntegration's own rules apply to imported integrations (here: a reserved header).
        (lambda c: c.import_api(Body=json.dumps({"openapi": "3.0.1", "info": {"title": "t", "version": "1"},
                                                 "paths": {"/": {"get": {"x-amazon-apigateway-integration": {
                                                     "type": "http_proxy", "httpMethod": "GET",
                                                     "uri": "https://example.com",
                                                     "requestParameters": {"overwrite:header.authorization": "x"}}}}}})),
         (400, "BadRequestException", "Invalid mapping expression specified: Validation Result: warnings : [], errors : [Header authorization is reserved")),
        (lambda c: c.reimport_api(ApiId="nope123456", Body=PETSTORE),
         (404, "NotFoundException", f"Invalid API identifier specified {ACCOUNT_ID}:nope123456")),
        (lambda c: c.export_api(ApiId="nope123456", Specification="OAS30", OutputType="JSON"),
         (404, "NotFoundException", f"Invalid API identifier specified {ACCOUNT_ID}:nope123456")),
    ],
    ids=["swagger-2", "route-conflict", "not-yaml", "reserved-header", "reimport-unknown-api", "export-unknown-api"],
)
def test_errors(client: Any, call: Any, expected: tuple[int, str, str]) -> None:
    with pytest.raises(ClientError) as raised:
        call(client)
    status, code, message = error_of(raised)
    assert (status, code) == expected[:2]
    assert message.startswith(expected[2])


def test_export_errors(client: Any) -> None:
    api_id = client.import_api(Body=PETSTORE)["ApiId"]
    with pytest.raises(ClientError) as raised:
        export(client, api_id, StageName="nope")
    assert error_of(raised) == (404, "NotFoundException", "Invalid stage identifier specified")
    with pytest.raises(ClientError) as raised:
        export(client, api_id, "XML")
    assert error_of(raised) == (400, "BadRequestException", "Invalid output type: XML. Valid values are JSON and YAML")
    with pytest.raises(ClientError) as raised:
        client.export_api(ApiId=api_id, Specification="OAS20", OutputType="JSON")
    assert error_of(raised)[:2] == (400, "BadRequestException")
    with pytest.raises(ClientError) as raised:
        export(client, api_id, ExportVersion="2.0")
    assert error_of(raised)[:2] == (400, "BadRequestException")


def test_other_admin_paths_are_left_alone() -> None:
    import asyncio

    ops = OpenApiOps(MemoryStore(), region="us-east-1", account_id=ACCOUNT_ID, data_plane_port=1)
    for method, path in (("GET", "/v2/apis"), ("POST", "/v2/apis"), ("PATCH", "/v2/apis/abc"),
                         ("GET", "/v2/apis/abc/routes"), ("PUT", "/v2/apis/abc/routes/x")):
        request = AdminRequest(method=method, path=path, query={}, headers={}, body=b"")
        assert asyncio.run(ops.handle(request)) is None
