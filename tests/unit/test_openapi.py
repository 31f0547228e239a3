"""OpenAPI 3.0 import and export for HTTP APIs (spec §12), on documents shaped like AWS's own examples.

The documents below follow the AWS developer guide's examples (archived awsdocs/amazon-api-gateway-
developer-guide `doc_source/http-api-open-api.md`, `api-gateway-extensions-integrations.md`,
`api-gateway-swagger-extensions-authorizer.md`, `api-gateway-swagger-extensions-any-method.md`,
`api-gateway-swagger-extensions-cors-configuration.md`, `api-gateway-import-api-basePath.md`) and the
OpenAPI bodies terraform-provider-aws imports into real AWS in its acceptance tests.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from typing import Any

import pytest

from stageway.core.openapi import (
    ApiResources,
    ImportedApi,
    OpenApiError,
    apply_base_path,
    base_path_of,
    export_document,
    import_document,
    materialize,
    parse_document,
    serialize_document,
)

LAMBDA_ARN = "arn:aws:lambda:us-east-2:123456789012:function:my-function"
INVOKE_URI = f"arn:aws:apigateway:us-east-2:lambda:path/2015-03-31/functions/{LAMBDA_ARN}/invocations"

# http-api-open-api.md: "You can import the following example OpenAPI 3.0 definition to create an HTTP API."
PETSTORE = """{
  "openapi": "3.0.1",
  "info": {"title": "Example Pet Store", "description": "A Pet Store API.", "version": "1.0"},
  "paths": {
    "/pets": {
      "get": {
        "operationId": "GET HTTP",
        "parameters": [
          {"name": "type", "in": "query", "schema": {"type": "string"}},
          {"name": "page", "in": "query", "schema": {"type": "string"}}
        ],
        "responses": {"200": {"description": "200 response",
          "headers": {"Access-Control-Allow-Origin": {"schema": {"type": "string"}}},
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pets"}}}}},
        "x-amazon-apigateway-integration": {
          "type": "HTTP_PROXY", "httpMethod": "GET",
          "uri": "http://petstore.execute-api.us-west-1.amazonaws.com/petstore/pets",
          "payloadFormatVersion": 1.0
        }
      },
      "post": {
        "operationId": "Create Pet",
        "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewPet"}}},
                        "required": true},
        "responses": {"200": {"description": "200 response",
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewPetResponse"}}}}},
        "x-amazon-apigateway-integration": {
          "type": "HTTP_PROXY", "httpMethod": "POST",
          "uri": "http://petstore.execute-api.us-west-1.amazonaws.com/petstore/pets",
          "payloadFormatVersion": 1.0
        }
      }
    },
    "/pets/{petId}": {
      "get": {
        "operationId": "Get Pet",
        "parameters": [{"name": "petId", "in": "path", "required": true, "schema": {"type": "string"}}],
        "responses": {"200": {"description": "200 response",
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}}}},
        "x-amazon-apigateway-integration": {
          "type": "HTTP_PROXY", "httpMethod": "GET",
          "uri": "http://petstore.execute-api.us-west-1.amazonaws.com/petstore/pets/{petId}",
          "payloadFormatVersion": 1.0
        }
      }
    }
  },
  "x-amazon-apigateway-cors": {
    "allowOrigins": ["*"],
    "allowMethods": ["GET", "OPTIONS", "POST"],
    "allowHeaders": ["x-amzm-header", "x-apigateway-header", "x-api-key", "authorization", "x-amz-date",
                     "content-type"]
  },
  "components": {
    "schemas": {
      "Pets": {"type": "array", "items": {"$ref": "#/components/schemas/Pet"}},
      "Empty": {"type": "object"},
      "NewPetResponse": {"type": "object", "properties": {"pet": {"$ref": "#/components/schemas/Pet"},
                                                          "message": {"type": "string"}}},
      "Pet": {"type": "object", "properties": {"id": {"type": "string"}, "type": {"type": "string"},
                                               "price": {"type": "number"}}},
      "NewPet": {"type": "object", "properties": {"type": {"$ref": "#/components/schemas/PetType"},
                                                  "price": {"type": "number"}}},
      "PetType": {"type": "string", "enum": ["dog", "cat", "fish", "bird", "gecko"]}
    }
  }
}"""

# api-gateway-extensions-integrations.md: two Lambda integrations shared through $ref, plus a $default
# route (api-gateway-swagger-extensions-any-method.md) and a greedy path.
LAMBDA_PROXY = f"""{{
  "openapi": "3.0.1",
  "info": {{"title": "Integrations", "description": "An API that reuses integrations", "version": "1.0"}},
  "servers": [{{"url": "https://example.com/{{basePath}}", "description": "The production API server",
               "variables": {{"basePath": {{"default": "example/path"}}}}}}],
  "paths": {{
    "/": {{"get": {{"x-amazon-apigateway-integration": {{
      "$ref": "#/components/x-amazon-apigateway-integrations/integration1"}}}}}},
    "/pets": {{"get": {{"x-amazon-apigateway-integration": {{
      "$ref": "#/components/x-amazon-apigateway-integrations/integration1"}}}}}},
    "/checkout": {{"get": {{"x-amazon-apigateway-integration": {{
      "$ref": "#/components/x-amazon-apigateway-integrations/integration2"}}}}}},
    "/files/{{proxy+}}": {{
      "x-amazon-apigateway-any-method": {{
        "parameters": [{{"name": "proxy+", "in": "path", "required": true, "schema": {{"type": "string"}}}}],
        "x-amazon-apigateway-integration": {{"type": "aws_proxy", "httpMethod": "POST", "uri": "{LAMBDA_ARN}",
                                             "payloadFormatVersion": "2.0", "timeoutInMillis": 6000}}
      }}
    }},
    "/$default": {{
      "x-amazon-apigateway-any-method": {{
        "isDefaultRoute": true,
        "x-amazon-apigateway-integration": {{
          "type": "AWS_PROXY", "httpMethod": "POST",
          "uri": "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:HelloWorld/invocations",
          "timeoutInMillis": 1000, "connectionType": "INTERNET", "payloadFormatVersion": 1.0
        }}
      }}
    }}
  }},
  "components": {{
    "x-amazon-apigateway-integrations": {{
      "integration1": {{"type": "aws_proxy", "httpMethod": "POST", "uri": "{INVOKE_URI}",
                        "passthroughBehavior": "when_no_templates", "payloadFormatVersion": "1.0"}},
      "integration2": {{"type": "aws_proxy", "httpMethod": "POST",
                        "uri": "arn:aws:apigateway:us-east-2:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-2:123456789012:function:example-function/invocations",
                        "passthroughBehavior": "when_no_templates", "payloadFormatVersion": "1.0"}}
    }}
  }}
}}"""

# api-gateway-swagger-extensions-authorizer.md (HTTP API examples): a Cognito JWT authorizer, the same
# with the issuer found from openIdConnectUrl, a Lambda authorizer with simple responses, and IAM.
AUTHORIZED = f"""
openapi: 3.0.1
info:
  title: Authorized pets
  version: "2024-05-01"
servers:
  - url: https://api.example.com/v1
    x-amazon-apigateway-endpoint-configuration:
      disableExecuteApiEndpoint: true
tags:
  - name: Owner
    x-amazon-apigateway-tag-value: Admin
  - name: Prod
paths:
  /pets:
    get:
      security:
        - jwt-authorizer-oauth: [pets/read, pets/admin]
      x-amazon-apigateway-integration:
        type: aws_proxy
        uri: {LAMBDA_ARN}
        payloadFormatVersion: "2.0"
    post:
      security:
        - lambda-authorizer: []
      x-amazon-apigateway-integration:
        type: aws_proxy
        uri: {LAMBDA_ARN}
        payloadFormatVersion: "2.0"
  /pets/{{id}}:
    parameters:
      - name: id
        in: path
        required: true
        schema: {{type: string}}
    get:
      security:
        - jwt-authorizer-autofind: []
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: https://backend.example.com/pets/{{id}}
        payloadFormatVersion: "1.0"
        requestParameters:
          overwrite:header.x-source: $request.header.host
        responseParameters:
          200:
            append:header.x-served-by: stageway
    delete:
      security:
        - sigv4: []
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: DELETE
        uri: https://backend.example.com/pets/{{id}}
        payloadFormatVersion: "1.0"
        connectionType: INTERNET
  /health:
    get:
      security: []
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: https://backend.example.com/health
components:
  securitySchemes:
    jwt-authorizer-oauth:
      type: oauth2
      x-amazon-apigateway-authorizer:
        type: jwt
        jwtConfiguration:
          issuer: https://cognito-idp.us-east-2.amazonaws.com/us-east-2_abc123
          audience: [audience1, audience2]
        identitySource: $request.header.Authorization
    jwt-authorizer-autofind:
      type: openIdConnect
      openIdConnectUrl: https://cognito-idp.us-east-2.amazonaws.com/us-east-2_abc123/.well-known/openid-configuration
      x-amazon-apigateway-authorizer:
        type: jwt
        jwtConfiguration:
          audience: [audience1]
        identitySource: $request.header.Authorization
    lambda-authorizer:
      type: apiKey
      name: Authorization
      in: header
      x-amazon-apigateway-authorizer:
        type: request
        identitySource: $request.header.Authorization, $request.querystring.tenant
        authorizerUri: arn:aws:apigateway:us-west-2:lambda:path/2015-03-31/functions/arn:aws:lambda:us-west-2:123456789012:function:function-name/invocations
        authorizerPayloadFormatVersion: "2.0"
        authorizerResultTtlInSeconds: 300
        enableSimpleResponses: true
    sigv4:
      type: apiKey
      name: Authorization
      in: header
      x-amazon-apigateway-authtype: awsSigv4
x-amazon-apigateway-cors:
  allowOrigins: [https://www.example.com]
  allowCredentials: true
  exposeHeaders: [x-apigateway-header, x-amz-date, content-type]
  maxAge: 3600
  allowMethods: [GET, OPTIONS, POST]
  allowHeaders: [x-apigateway-header, x-amz-date, content-type]
"""

# terraform-provider-aws `testAccAPIConfig_OpenAPIYAML`: numbers where AWS expects strings.
TERRAFORM_YAML = """---
openapi: 3.0.1
info:
  title: tf-acc-test_DIFFERENT
  version: 1.0
paths:
  "/test":
    get:
      x-amazon-apigateway-integration:
        type: HTTP_PROXY
        httpMethod: GET
        payloadFormatVersion: 1.0
        uri: https://www.google.de
"""


def imported(text: str, **options: Any) -> ImportedApi:
    return import_document(parse_document(text), **options)


def stored(api: ImportedApi) -> ApiResources:
    counter = itertools.count()
    return materialize(api, lambda kind: f"{kind[:4]}{next(counter):03d}")


def routes_by_key(resources: ApiResources) -> dict[str, Mapping[str, Any]]:
    return {route["routeKey"]: route for route in resources.routes}


def integration_of(resources: ApiResources, route_key: str) -> Mapping[str, Any] | None:
    target = routes_by_key(resources)[route_key].get("target")
    if target is None:
        return None
    return next(doc for doc in resources.integrations if f"integrations/{doc['integrationId']}" == target)


# --------------------------------------------------------------------------------------------------
# Import


def test_petstore_with_http_proxy_integrations() -> None:
    api = imported(PETSTORE)
    resources = stored(api)

    assert api.api == {
        "name": "Example Pet Store",
        "description": "A Pet Store API.",
        "version": "1.0",
        "corsConfiguration": {
            "allowOrigins": ["*"],
            "allowMethods": ["GET", "OPTIONS", "POST"],
            "allowHeaders": ["x-amzm-header", "x-apigateway-header", "x-api-key", "authorization", "x-amz-date",
                             "content-type"],
        },
    }
    assert [route["routeKey"] for route in resources.routes] == ["GET /pets", "POST /pets", "GET /pets/{petId}"]
    assert [route["operationName"] for route in resources.routes] == ["GET HTTP", "Create Pet", "Get Pet"]
    assert all(route["authorizationType"] == "NONE" for route in resources.routes)
    assert integration_of(resources, "GET /pets/{petId}") == {
        "integrationId": routes_by_key(resources)["GET /pets/{petId}"]["target"].removeprefix("integrations/"),
        "integrationType": "HTTP_PROXY",
        "integrationUri": "http://petstore.execute-api.us-west-1.amazonaws.com/petstore/pets/{petId}",
        "integrationMethod": "GET",
        "payloadFormatVersion": "1.0",  # the example writes the number 1.0
        "timeoutInMillis": 30000,
        "connectionType": "INTERNET",
    }
    assert len(resources.integrations) == 3  # one per operation: none is shared through $ref
    assert api.warnings == ()  # every schema $ref resolves
    # [DOC] requestBody is valid OpenAPI that HTTP APIs ignore: info, not a warning.
    assert api.import_info == ("Ignoring requestBody of 'POST /pets': HTTP APIs do not validate requests",)


def test_shared_integrations_default_route_and_greedy_path() -> None:
    api = imported(LAMBDA_PROXY)
    resources = stored(api)

    assert list(routes_by_key(resources)) == ["GET /", "GET /pets", "GET /checkout", "ANY /files/{proxy+}",
                                              "$default"]
    assert len(resources.integrations) == 4
    assert integration_of(resources, "GET /") is integration_of(resources, "GET /pets")
    assert integration_of(resources, "GET /") != integration_of(resources, "GET /checkout")
    shared = integration_of(resources, "GET /pets")
    assert shared is not None
    assert (shared["integrationType"], shared["integrationUri"], shared["integrationMethod"]) == (
        "AWS_PROXY", INVOKE_URI, "POST")
    greedy = integration_of(resources, "ANY /files/{proxy+}")
    assert greedy is not None and greedy["timeoutInMillis"] == 6000 and greedy["payloadFormatVersion"] == "2.0"
    default = integration_of(resources, "$default")
    assert default is not None and default["timeoutInMillis"] == 1000 and default["payloadFormatVersion"] == "1.0"
    # passthroughBehavior is REST-only: noted once per integration, as info.
    assert api.import_info == (
        "Ignoring passthroughBehavior of the integration of 'GET /': not supported for HTTP APIs",
        "Ignoring passthroughBehavior of the integration of 'GET /checkout': not supported for HTTP APIs",
    )
    assert api.warnings == ()


def test_authorizers_scopes_iam_tags_and_endpoint_configuration() -> None:
    api = imported(AUTHORIZED)
    resources = stored(api)
    authorizers = {doc["name"]: doc for doc in resources.authorizers}

    assert {**authorizers["jwt-authorizer-oauth"], "authorizerId": "-"} == {
        "authorizerId": "-",
        "name": "jwt-authorizer-oauth",
        "authorizerType": "JWT",
        "identitySource": ["$request.header.Authorization"],
        "jwtConfiguration": {"issuer": "https://cognito-idp.us-east-2.amazonaws.com/us-east-2_abc123",
                             "audience": ["audience1", "audience2"]},
    }
    # [DOC] "this example uses the OpenAPI openIdConnectUrl property to automatically detect the issuer"
    assert authorizers["jwt-authorizer-autofind"]["jwtConfiguration"] == {
        "issuer": "https://cognito-idp.us-east-2.amazonaws.com/us-east-2_abc123", "audience": ["audience1"]}
    assert {**authorizers["lambda-authorizer"], "authorizerId": "-"} == {
        "authorizerId": "-",
        "name": "lambda-authorizer",
        "authorizerType": "REQUEST",
        "authorizerUri": "arn:aws:apigateway:us-west-2:lambda:path/2015-03-31/functions/arn:aws:lambda:us-west-2:"
                         "123456789012:function:function-name/invocations",
        "authorizerPayloadFormatVersion": "2.0",
        "identitySource": ["$request.header.Authorization", "$request.querystring.tenant"],
        "authorizerResultTtlInSeconds": 300,
        "enableSimpleResponses": True,
    }
    assert "sigv4" not in authorizers  # an awsSigv4 scheme is IAM authorization, not an authorizer

    routes = routes_by_key(resources)
    assert routes["GET /pets"]["authorizationType"] == "JWT"
    assert routes["GET /pets"]["authorizerId"] == authorizers["jwt-authorizer-oauth"]["authorizerId"]
    assert routes["GET /pets"]["authorizationScopes"] == ["pets/read", "pets/admin"]
    assert routes["POST /pets"]["authorizationType"] == "CUSTOM"
    assert routes["POST /pets"]["authorizerId"] == authorizers["lambda-authorizer"]["authorizerId"]
    assert routes["GET /pets/{id}"]["authorizerId"] == authorizers["jwt-authorizer-autofind"]["authorizerId"]
    assert "authorizationScopes" not in routes["GET /pets/{id}"]
    assert routes["DELETE /pets/{id}"]["authorizationType"] == "AWS_IAM"
    assert "authorizerId" not in routes["DELETE /pets/{id}"]
    assert routes["GET /health"]["authorizationType"] == "NONE"

    mapped = integration_of(resources, "GET /pets/{id}")
    assert mapped is not None
    assert mapped["requestParameters"] == {"overwrite:header.x-source": "$request.header.host"}
    assert mapped["responseParameters"] == {"200": {"append:header.x-served-by": "stageway"}}  # YAML's 200 is a number
    assert api.api["tags"] == {"Owner": "Admin", "Prod": ""}  # [DOC] no tag value: the empty string
    assert api.api["disableExecuteApiEndpoint"] is True
    assert api.api["version"] == "2024-05-01"  # a YAML date stays the version's text
    assert api.api["corsConfiguration"]["allowCredentials"] is True
    assert api.warnings == ()


def test_root_security_applies_to_operations_without_their_own() -> None:
    document = parse_document(AUTHORIZED)
    document["security"] = [{"sigv4": []}]
    del document["paths"]["/pets"]["get"]["security"]
    routes = routes_by_key(stored(import_document(document)))
    assert routes["GET /pets"]["authorizationType"] == "AWS_IAM"
    assert routes["GET /health"]["authorizationType"] == "NONE"  # `security: []` opts out


def test_yaml_numbers_where_aws_expects_text() -> None:
    api = imported(TERRAFORM_YAML)
    assert api.api == {"name": "tf-acc-test_DIFFERENT", "version": "1.0"}
    [integration] = api.integrations
    assert integration.fields["payloadFormatVersion"] == "1.0"
    assert [route.route_key for route in api.routes] == ["GET /test"]


@pytest.mark.parametrize("integration_type", ["AWS", "aws", "HTTP", "MOCK"])
def test_unsupported_integration_types_are_warnings(integration_type: str) -> None:
    # [DOC] http-api-open-api.md: an integration of type AWS "produces warnings on import because HTTP APIs
    # support only Lambda proxy and HTTP proxy integrations". The route is kept, without a target.
    api = imported(json.dumps({
        "openapi": "3.0.1",
        "info": {"title": "My API", "version": "1.0"},
        "paths": {"/": {"get": {"x-amazon-apigateway-integration": {
            "type": integration_type, "httpMethod": "POST",
            "uri": "arn:aws:lambda:us-east-2:123456789012:function:HelloWorld", "payloadFormatVersion": "1.0"}}}},
    }))
    assert api.warnings == (
        (f"Unsupported integration type '{integration_type}' for 'GET /'. HTTP APIs support only AWS_PROXY and "
        "HTTP_PROXY integrations. Ignoring."),
    )
    assert api.integrations == ()
    assert [(route.route_key, route.integration) for route in api.routes] == [("GET /", None)]


def test_missing_schema_reference_is_a_warning_in_aws_words() -> None:
    # terraform-provider-aws `testAccAPIConfig_FailOnWarnings` (run against AWS: failOnWarnings refuses it);
    # the message is the one moto reproduces.
    api = imported("""{
      "openapi": "3.0.1",
      "info": {"title": "Title test", "version": "2.0", "description": "Description test"},
      "paths": {"/update": {"get": {
        "x-amazon-apigateway-integration": {"type": "HTTP_PROXY", "httpMethod": "GET",
                                            "payloadFormatVersion": "1.0", "uri": "https://www.google.de"},
        "responses": {"200": {"description": "Response description", "content": {"application/json": {
          "schema": {"$ref": "#/components/schemas/ModelThatDoesNotExist"}}}}}}}}
    }""")
    assert api.warnings == (
        ("Parse issue: attribute paths.'/update'(get).responses.200.content.schema."
        "#/components/schemas/ModelThatDoesNotExist is missing"),
    )
    assert [route.route_key for route in api.routes] == ["GET /update"]  # warnings don't block


def test_default_path_without_slash_is_a_warning() -> None:
    # [OBS] aws/serverless-application-model#2297: "Parse issue: attribute paths. Resource $default should
    # start with /" -- and the route is created as for `/$default`.
    api = imported(json.dumps({
        "openapi": "3.0.1",
        "info": {"title": "sam-app", "version": "1.0"},
        "paths": {"$default": {"x-amazon-apigateway-any-method": {"isDefaultRoute": True,
            "x-amazon-apigateway-integration": {"type": "aws_proxy", "uri": LAMBDA_ARN,
                                                "payloadFormatVersion": "2.0"}}}},
    }))
    assert api.warnings == ("Parse issue: attribute paths. Resource $default should start with /",)
    assert [route.route_key for route in api.routes] == ["$default"]


def test_missing_title_and_version_are_warnings() -> None:
    api = imported('{"openapi": "3.0.1", "info": {}, "paths": {}}')
    assert api.warnings == ("Parse issue: attribute info.title is missing",
                            "Parse issue: attribute info.version is missing")
    assert api.api == {}


def test_aws_variables_are_substituted() -> None:
    # import-api-aws-variables.md: ${AWS::AccountId}, ${AWS::Partition}, ${AWS::Region}.
    api = imported(json.dumps({
        "openapi": "3.0.1",
        "info": {"title": "vars", "version": "1"},
        "paths": {"/": {"get": {"x-amazon-apigateway-integration": {
            "type": "aws_proxy", "payloadFormatVersion": "2.0",
            "uri": "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"
                   "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:hello/invocations"}}}},
    }), region="eu-west-1", account_id="111122223333")
    assert api.integrations[0].fields["integrationUri"] == (
        "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/"
        "arn:aws:lambda:eu-west-1:111122223333:function:hello/invocations")


def test_unknown_security_scheme_and_cors_member_are_warnings() -> None:
    api = imported(json.dumps({
        "openapi": "3.0.1",
        "info": {"title": "t", "version": "1"},
        "paths": {"/": {"get": {"security": [{"bearer": []}]}}},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "x-amazon-apigateway-cors": {"allowOrigins": ["*"], "allow_methods": ["GET"]},
    }))
    assert api.warnings == (
        "Parse issue: attribute x-amazon-apigateway-cors.allow_methods is unexpected",
        ("Security scheme 'bearer' of 'GET /' is not an API Gateway authorizer (no x-amazon-apigateway-authorizer "
        "or x-amazon-apigateway-authtype: awsSigv4). Ignoring."),
    )
    assert api.api["corsConfiguration"] == {"allowOrigins": ["*"]}
    assert api.routes[0].fields == {"authorizationType": "NONE"}


# -- errors: nothing is created ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "message", "status"),
    [
        # [DOC] Swagger 2.0 is an error for HTTP APIs.
        ({"swagger": "2.0.0", "info": {"title": "My API", "version": "1.0"}},
         "Unsupported OpenAPI version: swagger 2.0.0. HTTP APIs can be imported from OpenAPI 3.0 definitions only",
         400),
        ({"openapi": "3.1.0", "info": {"title": "t", "version": "1"}},
         "Unsupported OpenAPI version: 3.1.0. HTTP APIs can be imported from OpenAPI 3.0 definitions only", 400),
        # [DOC] "Attempting to model multiple security requirements results in an error."
        ({"openapi": "3.0.1", "info": {"title": "t", "version": "1"},
          "paths": {"/": {"get": {"security": [{"a": []}, {"b": []}]}}}},
         ("Multiple security requirements are not supported for HTTP APIs ('GET /'): an operation can use only one "
         "of IAM authorization, a Lambda authorizer or a JWT authorizer"), 400),
        ({"openapi": "3.0.1", "info": {"title": "t", "version": "1"},
          "paths": {"/": {"get": {"security": [{"a": [], "b": []}]}}}},
         ("Multiple security requirements are not supported for HTTP APIs ('GET /'): an operation can use only one "
         "of IAM authorization, a Lambda authorizer or a JWT authorizer"), 400),
        # Route keys obey CreateRoute's rules and AWS's messages (spec §1.3).
        ({"openapi": "3.0.1", "info": {"title": "t", "version": "1"}, "paths": {"/pets/{id}.json": {"get": {}}}},
         ("One or more path parts appear to be invalid. Parts are validated against this regular expression: "
         r"^(\{[\w.:-]+\+?\}|[a-zA-Z0-9.:_-]+)$"), 400),
        ({"openapi": "3.0.1", "info": {"title": "t", "version": "1"},
          "paths": {"/a/{orgId}/q": {"get": {}}, "/a/{org}/q": {"post": {}}}},
         ('The provided route key "POST /a/{org}/q" has a conflicting variable on the same hierarchical level as '
         '"GET /a/{orgId}/q"'), 409),
        ({"openapi": "3.0.1", "info": {"title": "t", "version": "1"},
          "x-amazon-apigateway-cors": {"allowOrigins": ["*"], "allowCredentials": True}},
         "allow-credentials is not supported if 'allow-origin' is *", 400),
        ({"openapi": "3.0.1", "info": {"title": "t", "version": "1"},
          "components": {"securitySchemes": {"auth": {"type": "apiKey", "x-amazon-apigateway-authorizer": {
              "type": "request", "authorizerUri": INVOKE_URI}}}}},
         "AuthorizerPayloadFormatVersion is a required parameter for REQUEST authorizer", 400),
        ({"openapi": "3.0.1", "info": {"title": "t", "version": "1"},
          "paths": {"/": {"get": {"x-amazon-apigateway-integration": {
              "type": "http_proxy", "uri": "https://example.com", "payloadFormatVersion": "2.0",
              "httpMethod": "GET"}}}}},
         "PayloadFormatVersion 2.0 is not supported for integration of type HTTP_PROXY", 400),
    ],
)
def test_errors(document: dict[str, Any], message: str, status: int) -> None:
    with pytest.raises(OpenApiError) as raised:
        import_document(document)
    assert (raised.value.message, raised.value.status) == (message, status)


def test_unparsable_body() -> None:
    with pytest.raises(OpenApiError, match="Unable to parse the OpenAPI definition"):
        parse_document("openapi: [3.0.1\n")
    with pytest.raises(OpenApiError, match="expected a JSON or YAML object"):
        parse_document("- just\n- a list\n")


# -- basepath ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        # [DOC] api-gateway-import-api-basePath.md: basePath /a/b/c, paths /e and /f.
        ("ignore", ["GET /e", "GET /f", "GET /"]),
        ("prepend", ["GET /a/b/c/e", "GET /a/b/c/f", "GET /a/b/c"]),
        ("split", ["GET /b/c/e", "GET /b/c/f", "GET /b/c"]),
    ],
)
def test_basepath_modes(mode: str, expected: list[str]) -> None:
    document = {
        "openapi": "3.0.1",
        "info": {"title": "base", "version": "1"},
        "servers": [{"url": "https://{host}/{basePath}",
                     "variables": {"host": {"default": "api.example.com"}, "basePath": {"default": "/a/b/c"}}}],
        "paths": {"/e": {"get": {}}, "/f": {"get": {}}, "/": {"get": {}}},
    }
    assert [route.route_key for route in import_document(document, basepath=mode).routes] == expected


@pytest.mark.parametrize(
    ("servers", "base_path"),
    [
        ([], ""),
        ([{"url": "https://api.example.com"}], ""),
        ([{"url": "https://api.example.com/v1/"}], "/v1"),
        ([{"url": "/v2/beta"}], "/v2/beta"),
        ([{"url": "https://{stage}.example.com/{version}", "variables": {"stage": {"default": "x"},
                                                                          "version": {"default": "v3"}}}], "/v3"),
        ([{"url": "https://a.example.com/p", "variables": {"basePath": {"default": "prod"}}}], "/prod"),
        ([{"url": "https://a.example.com/first"}, {"url": "https://a.example.com/second"}], "/first"),
    ],
)
def test_base_path_of_servers(servers: list[dict[str, Any]], base_path: str) -> None:
    assert base_path_of({"servers": servers}) == base_path


def test_split_of_a_single_part_base_path_leaves_paths_alone() -> None:
    assert apply_base_path("/pets", "/prod", "split") == "/pets"
    assert apply_base_path("/pets", "/prod", "prepend") == "/prod/pets"


def test_default_route_ignores_the_base_path() -> None:
    api = imported(LAMBDA_PROXY, basepath="prepend")
    assert [route.route_key for route in api.routes] == [
        "GET /example/path", "GET /example/path/pets", "GET /example/path/checkout",
        "ANY /example/path/files/{proxy+}", "$default"]


def test_invalid_basepath_mode() -> None:
    with pytest.raises(OpenApiError, match="Invalid basepath specified: merge"):
        imported(PETSTORE, basepath="merge")


# --------------------------------------------------------------------------------------------------
# Export


def exported(text: str, **options: Any) -> dict[str, Any]:
    options.setdefault("server_url", "http://k3xq9zw1ab.execute-api.localhost:8080")
    return export_document(stored(imported(text)), **options)


def test_export_shape() -> None:
    document = exported(AUTHORIZED, base_path="prod")

    assert document["openapi"] == "3.0.1"
    assert document["info"] == {"title": "Authorized pets", "version": "2024-05-01"}
    assert document["servers"] == [{
        "url": "http://k3xq9zw1ab.execute-api.localhost:8080/{basePath}",
        "variables": {"basePath": {"default": "prod"}},
        "x-amazon-apigateway-endpoint-configuration": {"disableExecuteApiEndpoint": True},
    }]
    assert document["tags"] == [{"name": "Owner", "x-amazon-apigateway-tag-value": "Admin"},
                                {"name": "Prod", "x-amazon-apigateway-tag-value": ""}]
    pet = document["paths"]["/pets/{id}"]
    assert pet["parameters"] == [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]
    assert pet["get"] == {
        "responses": {"default": {"description": "Default response for GET /pets/{id}"}},
        "security": [{"jwt-authorizer-autofind": []}],
        "x-amazon-apigateway-integration": {
            "type": "http_proxy",
            "uri": "https://backend.example.com/pets/{id}",
            "httpMethod": "GET",
            "payloadFormatVersion": "1.0",
            "connectionType": "INTERNET",
            "requestParameters": {"overwrite:header.x-source": "$request.header.host"},
            "responseParameters": {"200": {"append:header.x-served-by": "stageway"}},
            "timeoutInMillis": 30000,
        },
    }
    assert document["paths"]["/pets"]["get"]["security"] == [{"jwt-authorizer-oauth": ["pets/read", "pets/admin"]}]
    assert document["paths"]["/pets/{id}"]["delete"]["security"] == [{"sigv4": []}]
    assert "security" not in document["paths"]["/health"]["get"]
    schemes = document["components"]["securitySchemes"]
    assert schemes["jwt-authorizer-oauth"] == {
        "type": "oauth2",
        "flows": {},
        "x-amazon-apigateway-authorizer": {
            "type": "jwt",
            "identitySource": "$request.header.Authorization",
            "jwtConfiguration": {"issuer": "https://cognito-idp.us-east-2.amazonaws.com/us-east-2_abc123",
                                 "audience": ["audience1", "audience2"]},
        },
    }
    assert schemes["lambda-authorizer"]["x-amazon-apigateway-authorizer"]["identitySource"] == (
        "$request.header.Authorization,$request.querystring.tenant")
    assert schemes["sigv4"] == {"type": "apiKey", "name": "Authorization", "in": "header",
                                "x-amazon-apigateway-authtype": "awsSigv4"}
    assert document["x-amazon-apigateway-cors"]["allowOrigins"] == ["https://www.example.com"]
    assert document["x-amazon-apigateway-importexport-version"] == "1.0"


def test_export_of_default_greedy_and_shared_integrations() -> None:
    document = exported(LAMBDA_PROXY)
    paths = document["paths"]

    default = paths["/$default"]["x-amazon-apigateway-any-method"]
    assert default["isDefaultRoute"] is True
    assert default["x-amazon-apigateway-integration"]["timeoutInMillis"] == 1000
    assert paths["/files/{proxy+}"]["parameters"][0]["name"] == "proxy+"  # spec §12.2
    shared = paths["/"]["get"]["x-amazon-apigateway-integration"]
    assert shared == paths["/pets"]["get"]["x-amazon-apigateway-integration"]
    assert shared["$ref"].startswith("#/components/x-amazon-apigateway-integrations/")
    name = shared["$ref"].rsplit("/", 1)[1]
    assert document["components"]["x-amazon-apigateway-integrations"][name]["uri"] == INVOKE_URI
    assert "$ref" not in paths["/checkout"]["get"]["x-amazon-apigateway-integration"]  # used once: inline


def test_export_without_extensions() -> None:
    document = exported(AUTHORIZED, include_extensions=False)
    text = json.dumps(document)
    assert "x-amazon-apigateway" not in text
    assert document["components"]["securitySchemes"]["jwt-authorizer-oauth"] == {"type": "oauth2", "flows": {}}
    assert document["paths"]["/pets"]["get"]["security"] == [{"jwt-authorizer-oauth": ["pets/read", "pets/admin"]}]
    # ANY routes keep their method key: there is no other way to write them.
    assert list(exported(LAMBDA_PROXY, include_extensions=False)["paths"]["/$default"]) == [
        "x-amazon-apigateway-any-method"]


def test_export_version_falls_back_to_a_timestamp() -> None:
    resources = ApiResources({"name": "no version"})
    document = export_document(resources, server_url="http://h", timestamp="2020-04-08T19:05:45Z")
    assert document["info"] == {"title": "no version", "version": "2020-04-08 19:05:45UTC"}


@pytest.mark.parametrize("output_type", ["JSON", "YAML"])
def test_serialized_documents_parse_back(output_type: str) -> None:
    document = exported(AUTHORIZED)
    text = serialize_document(document, output_type).decode()
    assert parse_document(text) == document
    assert text.lstrip().startswith("{") == (output_type == "JSON")


# --------------------------------------------------------------------------------------------------
# Import -> export -> import gives the same API


def described(resources: ApiResources) -> dict[str, Any]:
    """An API without its ids: what must survive a round trip."""
    integrations = {doc["integrationId"]: {k: v for k, v in doc.items() if k != "integrationId"}
                    for doc in resources.integrations}
    authorizers = {doc["authorizerId"]: {k: v for k, v in doc.items() if k != "authorizerId"}
                   for doc in resources.authorizers}
    routes = {}
    sharing: dict[str, list[str]] = {}
    for route in resources.routes:
        target = str(route.get("target", "")).removeprefix("integrations/")
        described_route = {k: v for k, v in route.items() if k not in ("routeId", "target", "authorizerId")}
        described_route["integration"] = integrations.get(target)
        described_route["authorizer"] = authorizers[route["authorizerId"]]["name"] if "authorizerId" in route else None
        routes[route["routeKey"]] = described_route
        if target:
            sharing.setdefault(target, []).append(route["routeKey"])
    return {
        "api": dict(resources.api),
        "routes": routes,
        "authorizers": sorted(authorizers.values(), key=lambda doc: doc["name"]),
        "integrations sharing": sorted(sorted(keys) for keys in sharing.values()),
        "integration count": len(integrations),
    }


@pytest.mark.parametrize("output_type", ["JSON", "YAML"])
@pytest.mark.parametrize("text", [PETSTORE, LAMBDA_PROXY, AUTHORIZED, TERRAFORM_YAML],
                         ids=["petstore", "lambda-proxy", "authorized", "terraform-yaml"])
def test_round_trip(text: str, output_type: str) -> None:
    first = stored(imported(text))
    body = serialize_document(export_document(first, server_url="http://x.execute-api.localhost:8080",
                                              base_path="prod"), output_type)
    second_import = imported(body.decode())
    second = stored(second_import)

    assert described(second) == described(first)
    assert second_import.warnings == ()
    # And the second export is the first one again (same ids from the same counter).
    again = serialize_document(export_document(second, server_url="http://x.execute-api.localhost:8080",
                                               base_path="prod"), output_type)
    assert again == body
