"""OpenAPI 3.0 and HTTP APIs, both ways (spec §12): what ImportApi makes of a document, what ExportApi writes.

Pure module: a parsed document in, a description of the API's resources (plus AWS's warnings and info
lines) out; and the store's documents in, an OpenAPI document out. No ids are made here except through
the `new_id` a caller passes to `materialize`, and nothing is written anywhere.

AWS sorts what it finds into three kinds (archived `http-api-open-api.md`, "Import validation
information"): *info* (valid OpenAPI that HTTP APIs ignore, e.g. `requestBody`), *warnings* (invalid or
unsupported but not blocking, e.g. an integration of type `AWS`; `failOnWarnings=true` turns them into a
400) and *errors* (the document can't be imported at all, e.g. Swagger 2.0 or two security requirements
on one operation). Errors raise `OpenApiError`; the other two are returned.

AWS parses imports with swagger-parser and reports its findings as `Parse issue: attribute <where> ...`
(observed: "Parse issue: attribute paths. Resource $default should start with /", aws/serverless-
application-model#2297; "attribute paths.'/update'(get).responses.200.content.schema.#/components/
schemas/X is missing", the message moto copied from AWS). Warnings of that family use that form; the
others are ours, in the manner of the REST importer's "Unknown integration type 'null' for 'GET /'.
Ignoring." (awsdocs/amazon-api-gateway-developer-guide#65).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson
import yaml

from stageway.core.route_keys import DEFAULT_ROUTE_KEY, RouteKey, parse_route_key
from stageway.core.validation import (
    CORS_FIELDS,
    ValidationError,
    check_route_key_conflicts,
    cors_errors,
    integration_errors,
    partition_of,
    route_errors,
    tag_errors,
    validate_route_key,
)

Document = dict[str, Any]

OPENAPI_VERSION = "3.0.1"
IMPORT_EXPORT_VERSION = "1.0"
BASEPATH_MODES = ("ignore", "prepend", "split")
OUTPUT_TYPES = ("JSON", "YAML")

ANY_METHOD = "x-amazon-apigateway-any-method"
INTEGRATION = "x-amazon-apigateway-integration"
INTEGRATIONS = "x-amazon-apigateway-integrations"
AUTHORIZER = "x-amazon-apigateway-authorizer"
AUTHTYPE = "x-amazon-apigateway-authtype"
CORS = "x-amazon-apigateway-cors"
TAG_VALUE = "x-amazon-apigateway-tag-value"
ENDPOINT_CONFIGURATION = "x-amazon-apigateway-endpoint-configuration"
IMPORT_EXPORT = "x-amazon-apigateway-importexport-version"
INTEGRATION_REF_PREFIX = f"#/components/{INTEGRATIONS}/"

# OpenAPI operation keys and the route method each becomes; TRACE has no HTTP API route method.
_OPERATION_METHODS = {"get": "GET", "put": "PUT", "post": "POST", "delete": "DELETE", "options": "OPTIONS",
                      "head": "HEAD", "patch": "PATCH", ANY_METHOD: "ANY"}
_SUPPORTED_INTEGRATION_TYPES = ("AWS_PROXY", "HTTP_PROXY")
# Fields of x-amazon-apigateway-integration that only REST APIs use (api-gateway-swagger-extensions-integration.md).
_REST_ONLY_INTEGRATION_FIELDS = ("cacheKeyParameters", "cacheNamespace", "contentHandling", "passthroughBehavior",
                                 "requestTemplates", "responses")
# Root extensions of REST APIs that an HTTP API import accepts and ignores ("generates an INFO message when
# importing", awsdocs/amazon-api-gateway-developer-guide#119).
_REST_ONLY_ROOT_EXTENSIONS = ("x-amazon-apigateway-api-key-source", "x-amazon-apigateway-binary-media-types",
                              "x-amazon-apigateway-documentation", "x-amazon-apigateway-gateway-responses",
                              "x-amazon-apigateway-minimum-compression-size", "x-amazon-apigateway-policy",
                              "x-amazon-apigateway-request-validators", "x-amazon-apigateway-endpoint-configuration")
_DEFAULT_TIMEOUT_MS = 30000
_DISCOVERY_SUFFIX = "/.well-known/openid-configuration"
_IAM_SCHEME = "sigv4"


class OpenApiError(ValueError):
    """A document AWS refuses outright (nothing is created); `status` is 400, or 409 for a route conflict."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    @classmethod
    def from_validation(cls, error: ValidationError) -> OpenApiError:
        return cls(error.message, error.status)


@dataclass(frozen=True)
class ImportedIntegration:
    """`key` is how routes name it: the `$ref` for a shared integration, else the route key that owns it."""

    key: str
    fields: Document


@dataclass(frozen=True)
class ImportedAuthorizer:
    """`name` is the security scheme's name, which is also the authorizer's `name`."""

    name: str
    fields: Document


@dataclass(frozen=True)
class ImportedRoute:
    route_key: str
    fields: Document
    integration: str | None = None
    authorizer: str | None = None


@dataclass(frozen=True)
class ImportedApi:
    """What a document describes. `api` holds the Api fields the document sets: `name`, `description`,
    `version`, `corsConfiguration`, `tags`, `disableExecuteApiEndpoint` (each only when present)."""

    api: Document
    integrations: tuple[ImportedIntegration, ...]
    authorizers: tuple[ImportedAuthorizer, ...]
    routes: tuple[ImportedRoute, ...]
    warnings: tuple[str, ...] = ()
    import_info: tuple[str, ...] = ()


@dataclass(frozen=True)
class ApiResources:
    """An API as the store keeps it: apigatewayv2 wire-shape documents, with their ids."""

    api: Mapping[str, Any]
    routes: Sequence[Mapping[str, Any]] = ()
    integrations: Sequence[Mapping[str, Any]] = ()
    authorizers: Sequence[Mapping[str, Any]] = ()


# --------------------------------------------------------------------------------------------------
# Reading a document


class _TextLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """YAML 1.1 without timestamps: `version: 2024-01-01` stays a string (it becomes the API's version)."""


_TextLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def parse_document(text: str) -> Document:
    """The document in ImportApi's `body`: JSON or YAML text holding one object."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        try:
            value = yaml.load(text, Loader=_TextLoader)  # a safe loader
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f" (line {mark.line + 1})" if mark is not None else ""
            problem = getattr(error, "problem", None) or "invalid YAML"
            raise OpenApiError(f"Unable to parse the OpenAPI definition: {problem}{where}") from None
    if not isinstance(value, dict):
        raise OpenApiError("Unable to parse the OpenAPI definition: expected a JSON or YAML object")
    return value


def substitute_aws_variables(value: Any, *, region: str, account_id: str) -> Any:
    """`${AWS::AccountId}`, `${AWS::Partition}` and `${AWS::Region}` in every string (import-api-aws-variables.md)."""
    if isinstance(value, str):
        if "${AWS::" not in value:
            return value
        return (
            value.replace("${AWS::AccountId}", account_id)
            .replace("${AWS::Partition}", partition_of(region))
            .replace("${AWS::Region}", region)
        )
    if isinstance(value, dict):
        return {key: substitute_aws_variables(item, region=region, account_id=account_id) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute_aws_variables(item, region=region, account_id=account_id) for item in value]
    return value


def base_path_of(document: Mapping[str, Any]) -> str:
    """The base path of the first server: its `basePath` variable, else the path of its URL; `""` for none."""
    servers = document.get("servers")
    if not isinstance(servers, list) or not servers or not isinstance(servers[0], dict):
        return ""
    server = servers[0]
    variables = server.get("variables") if isinstance(server.get("variables"), dict) else {}
    assert isinstance(variables, dict)

    def default_of(name: str) -> str:
        variable = variables.get(name)
        return str(variable.get("default", "")) if isinstance(variable, dict) else ""

    if "basePath" in variables:
        path = default_of("basePath")
    else:
        url = re.sub(r"\{([^}]*)\}", lambda match: default_of(match.group(1)), str(server.get("url", "")))
        path = urlsplit(url).path if "://" in url else url
    parts = [part for part in path.split("/") if part]
    return "/" + "/".join(parts) if parts else ""


def apply_base_path(path: str, base_path: str, mode: str) -> str:
    """A route path under `basepath` mode: `ignore` drops the base path, `prepend` puts it in front
    (`/a/b/c` + `/e` -> `/a/b/c/e`), `split` puts all of it but its first part (-> `/b/c/e`)
    (api-gateway-import-api-basePath.md)."""
    if mode == "ignore" or not base_path:
        return path
    parts = [part for part in base_path.split("/") if part]
    if mode == "split":
        parts = parts[1:]
    if not parts:
        return path
    prefix = "/" + "/".join(parts)
    return prefix if path == "/" else prefix + path


# --------------------------------------------------------------------------------------------------
# Import


def import_document(
    document: Mapping[str, Any],
    *,
    basepath: str = "ignore",
    region: str = "us-east-1",
    account_id: str = "123456789012",
) -> ImportedApi:
    """The API a document describes; raises OpenApiError for what AWS counts as an error."""
    if basepath not in BASEPATH_MODES:
        raise OpenApiError(f"Invalid basepath specified: {basepath}. Valid values are ignore, prepend and split")
    substituted: Document = substitute_aws_variables(dict(document), region=region, account_id=account_id)
    return _Importer(substituted, basepath).run()


@dataclass
class _Importer:
    document: Document
    basepath: str
    warnings: list[str] = field(default_factory=list)
    info: list[str] = field(default_factory=list)
    integrations: dict[str, ImportedIntegration | None] = field(default_factory=dict)
    authorizers: dict[str, ImportedAuthorizer] = field(default_factory=dict)
    iam_schemes: set[str] = field(default_factory=set)

    def run(self) -> ImportedApi:
        self.check_version()
        api = self.api_fields()
        self.read_security_schemes()
        routes = self.read_paths()
        for key in self.document:
            if key in _REST_ONLY_ROOT_EXTENSIONS:
                self.info.append(f"Ignoring {key}: the extension is not supported for HTTP APIs")
        return ImportedApi(
            api=api,
            integrations=tuple(item for item in self.integrations.values() if item is not None),
            authorizers=tuple(self.authorizers.values()),
            routes=tuple(routes),
            warnings=tuple(self.warnings),
            import_info=tuple(self.info),
        )

    def check_version(self) -> None:
        # [DOC] http-api-open-api.md: a Swagger 2.0 document is an error; HTTP APIs import OpenAPI 3.0 only.
        if "swagger" in self.document:
            raise OpenApiError(
                f"Unsupported OpenAPI version: swagger {self.document['swagger']}. "
                "HTTP APIs can be imported from OpenAPI 3.0 definitions only"
            )
        version = self.document.get("openapi")
        if version is None:
            raise OpenApiError("Parse issue: attribute openapi is missing. HTTP APIs import OpenAPI 3.0 definitions")
        if not str(version).startswith("3.0"):
            raise OpenApiError(
                f"Unsupported OpenAPI version: {version}. HTTP APIs can be imported from OpenAPI 3.0 definitions only"
            )

    # -- the Api ---------------------------------------------------------------------------------

    def api_fields(self) -> Document:
        api: Document = {}
        info = self.document.get("info")
        if not isinstance(info, dict):
            self.warnings.append("Parse issue: attribute info is missing")
            info = {}
        title = info.get("title")
        if title is None:
            self.warnings.append("Parse issue: attribute info.title is missing")
        else:
            api["name"] = str(title)
            if not 1 <= len(api["name"]) <= 128:
                raise OpenApiError("An API name must be 1 to 128 characters long")
        if info.get("description") is not None:
            api["description"] = str(info["description"])
            if len(api["description"]) > 1024:
                raise OpenApiError("An API description must be at most 1024 characters long")
        if info.get("version") is None:
            self.warnings.append("Parse issue: attribute info.version is missing")
        else:
            # YAML reads `version: 1.0` as a number; the API's version is its text.
            api["version"] = str(info["version"])
            if not 1 <= len(api["version"]) <= 64:
                raise OpenApiError("An API version must be 1 to 64 characters long")
        cors = self.cors()
        if cors is not None:
            api["corsConfiguration"] = cors
        tags = self.tags()
        if tags is not None:
            api["tags"] = tags
        servers = self.document.get("servers")
        for server in servers if isinstance(servers, list) else []:
            configuration = server.get(ENDPOINT_CONFIGURATION) if isinstance(server, dict) else None
            if isinstance(configuration, dict) and isinstance(configuration.get("disableExecuteApiEndpoint"), bool):
                api["disableExecuteApiEndpoint"] = configuration["disableExecuteApiEndpoint"]
        return api

    def cors(self) -> Document | None:
        value = self.document.get(CORS)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.warnings.append(f"Parse issue: attribute {CORS} is not of type `object`")
            return None
        cors = {name: value[name] for name in CORS_FIELDS if name in value}
        for name in value:
            if name not in CORS_FIELDS:
                self.warnings.append(f"Parse issue: attribute {CORS}.{name} is unexpected")
        errors = cors_errors(cors)
        if errors:
            raise OpenApiError.from_validation(errors[0])
        return cors or None

    def tags(self) -> dict[str, str] | None:
        # [DOC] api-gateway-openapi-extensions-x-amazon-apigateway-tag-value.md: a tag without the
        # extension gets the empty string as its value.
        value = self.document.get("tags")
        if not isinstance(value, list):
            return None
        tags = {
            str(tag["name"]): str(tag.get(TAG_VALUE) if tag.get(TAG_VALUE) is not None else "")
            for tag in value
            if isinstance(tag, dict) and tag.get("name") is not None
        }
        errors = tag_errors(tags)
        if errors:
            raise OpenApiError.from_validation(errors[0])
        return tags or None

    # -- authorizers -----------------------------------------------------------------------------

    def read_security_schemes(self) -> None:
        components = self.document.get("components")
        schemes = components.get("securitySchemes") if isinstance(components, dict) else None
        if not isinstance(schemes, dict):
            return
        for name, scheme in schemes.items():
            if not isinstance(scheme, dict):
                continue
            authtype = scheme.get(AUTHTYPE)
            if isinstance(authtype, str) and authtype.lower() == "awssigv4":
                self.iam_schemes.add(str(name))  # floci-io/floci#2810: an awsSigv4 scheme means AWS_IAM
                continue
            extension = scheme.get(AUTHORIZER)
            if not isinstance(extension, dict):
                continue
            kind = str(extension.get("type", "")).lower()
            if kind == "jwt":
                fields = self.jwt_authorizer(str(name), scheme, extension)
            elif kind == "request":
                fields = self.lambda_authorizer(str(name), extension)
            else:
                self.warnings.append(
                    f"Unsupported authorizer type '{extension.get('type')}' for security scheme '{name}'. "
                    "HTTP APIs support jwt and request authorizers. Ignoring."
                )
                continue
            self.authorizers[str(name)] = ImportedAuthorizer(str(name), fields)

    def jwt_authorizer(self, name: str, scheme: Mapping[str, Any], extension: Mapping[str, Any]) -> Document:
        configuration = extension.get("jwtConfiguration")
        configuration = dict(configuration) if isinstance(configuration, dict) else {}
        issuer = configuration.get("issuer")
        url = scheme.get("openIdConnectUrl")
        if not issuer and isinstance(url, str) and url:
            # [DOC] api-gateway-swagger-extensions-authorizer.md: an openIdConnect scheme's issuer is
            # detected from its fully formed openIdConnectUrl.
            issuer = url.removesuffix(_DISCOVERY_SUFFIX)
        if not isinstance(issuer, str) or not issuer:
            raise OpenApiError(f"Invalid issuer for JWT authorizer '{name}': jwtConfiguration.issuer is required")
        jwt: Document = {"issuer": issuer}
        audience = configuration.get("audience")
        if audience is not None:
            jwt["audience"] = [str(item) for item in audience] if isinstance(audience, list) else [str(audience)]
        sources = _identity_sources(extension.get("identitySource"))
        return {
            "name": name,
            "authorizerType": "JWT",
            # The console's default identity source, for a scheme that names none.
            "identitySource": sources or ["$request.header.Authorization"],
            "jwtConfiguration": jwt,
        }

    def lambda_authorizer(self, name: str, extension: Mapping[str, Any]) -> Document:
        uri = extension.get("authorizerUri")
        if not isinstance(uri, str) or not uri:
            raise OpenApiError(f"AuthorizerUri is a required parameter for REQUEST authorizer '{name}'")
        version = extension.get("authorizerPayloadFormatVersion")
        if version is None:
            # [EMU: moto] spec §1.3.
            raise OpenApiError("AuthorizerPayloadFormatVersion is a required parameter for REQUEST authorizer")
        fields: Document = {
            "name": name,
            "authorizerType": "REQUEST",
            "authorizerUri": uri,
            "authorizerPayloadFormatVersion": _version_text(version),
            "identitySource": _identity_sources(extension.get("identitySource")),
        }
        if fields["authorizerPayloadFormatVersion"] not in ("1.0", "2.0"):
            raise OpenApiError(f"AuthorizerPayloadFormatVersion {version} is not supported")
        if extension.get("authorizerCredentials") is not None:
            fields["authorizerCredentialsArn"] = str(extension["authorizerCredentials"])
        if extension.get("authorizerResultTtlInSeconds") is not None:
            ttl = _integer(extension["authorizerResultTtlInSeconds"])
            if ttl is None or not 0 <= ttl <= 3600:
                raise OpenApiError("AuthorizerResultTtlInSeconds must be between 0 and 3600")
            fields["authorizerResultTtlInSeconds"] = ttl
        if extension.get("enableSimpleResponses") is not None:
            simple = extension["enableSimpleResponses"]
            if not isinstance(simple, bool):
                raise OpenApiError("enableSimpleResponses must be true or false")
            if simple and fields["authorizerPayloadFormatVersion"] != "2.0":
                # [DOC] "Supported only for authorizers with an authorizerPayloadFormatVersion of 2.0".
                raise OpenApiError("EnableSimpleResponses is only supported for authorizerPayloadFormatVersion 2.0")
            fields["enableSimpleResponses"] = simple
        return fields

    # -- routes ----------------------------------------------------------------------------------

    def read_paths(self) -> list[ImportedRoute]:
        paths = self.document.get("paths")
        if not isinstance(paths, dict):
            self.warnings.append("Parse issue: attribute paths is missing")
            return []
        base_path = base_path_of(self.document)
        root_security = self.document.get("security")
        routes: list[ImportedRoute] = []
        keys: list[RouteKey] = []
        for raw_path, item in paths.items():
            path = str(raw_path)
            if not path.startswith("/"):
                # [OBS] aws/serverless-application-model#2297: AWS warns and imports `$default` as `/$default`.
                self.warnings.append(f"Parse issue: attribute paths. Resource {path} should start with /")
                path = "/" + path
            if not isinstance(item, dict):
                self.warnings.append(f"Parse issue: attribute paths.'{path}' is not of type `object`")
                continue
            for name, operation in item.items():
                if name == "trace":
                    self.warnings.append(f"Unsupported method TRACE for path '{path}'. Ignoring.")
                    continue
                method = _OPERATION_METHODS.get(name)
                if method is None or not isinstance(operation, dict):
                    continue
                where = f"paths.'{path}'({name})"
                if method == "ANY" and (operation.get("isDefaultRoute") is True or path == "/$default"):
                    route_key = DEFAULT_ROUTE_KEY
                else:
                    route_key = f"{method} {apply_base_path(path, base_path, self.basepath)}"
                try:
                    parsed = validate_route_key(route_key)
                    check_route_key_conflicts(parsed, keys)
                except ValidationError as error:
                    raise OpenApiError.from_validation(error) from None
                keys.append(parsed)
                routes.append(self.route(route_key, where, operation, root_security))
        return routes

    def route(self, route_key: str, where: str, operation: Mapping[str, Any], root_security: Any) -> ImportedRoute:
        self.check_references(operation, where)
        if operation.get("requestBody") is not None:
            # [DOC] http-api-open-api.md: HTTP APIs don't validate requests; requestBody is info only.
            self.info.append(f"Ignoring requestBody of '{route_key}': HTTP APIs do not validate requests")
        fields: Document = {"authorizationType": "NONE"}
        operation_id = operation.get("operationId")
        if isinstance(operation_id, str) and 1 <= len(operation_id) <= 64:
            fields["operationName"] = operation_id
        security = operation.get("security", root_security)
        authorizer = self.authorization(route_key, where, security, fields)
        integration = self.integration(route_key, where, operation.get(INTEGRATION))
        errors = route_errors({"routeKey": route_key, **fields, "authorizerId": authorizer})
        if errors:
            raise OpenApiError.from_validation(errors[0])
        return ImportedRoute(route_key, fields, integration, authorizer)

    def authorization(self, route_key: str, where: str, security: Any, fields: Document) -> str | None:
        """Sets the route's authorization fields; returns the name of its authorizer, if it has one."""
        if security is None:
            return None
        if not isinstance(security, list) or not all(isinstance(item, dict) for item in security):
            self.warnings.append(f"Parse issue: attribute {where}.security is not of type `array`")
            return None
        requirements = [item for item in security if item]
        if len(security) > 1 or any(len(item) > 1 for item in requirements):
            # [DOC] http-api-open-api.md: "Attempting to model multiple security requirements results in an error."
            raise OpenApiError(
                f"Multiple security requirements are not supported for HTTP APIs ('{route_key}'): an operation "
                "can use only one of IAM authorization, a Lambda authorizer or a JWT authorizer"
            )
        if not requirements:
            return None
        [(name, scopes)] = requirements[0].items()
        if name in self.iam_schemes:
            fields["authorizationType"] = "AWS_IAM"
            return None
        authorizer = self.authorizers.get(name)
        if authorizer is None:
            self.warnings.append(
                f"Security scheme '{name}' of '{route_key}' is not an API Gateway authorizer "
                f"(no {AUTHORIZER} or {AUTHTYPE}: awsSigv4). Ignoring."
            )
            return None
        if authorizer.fields["authorizerType"] == "JWT":
            fields["authorizationType"] = "JWT"
            if isinstance(scopes, list) and scopes:
                fields["authorizationScopes"] = [str(scope) for scope in scopes]
        else:
            fields["authorizationType"] = "CUSTOM"
        return name

    def integration(self, route_key: str, where: str, value: Any) -> str | None:
        """The key of the route's integration (made on first sight), or None when it has none."""
        if value is None:
            return None
        if not isinstance(value, dict):
            self.warnings.append(f"Parse issue: attribute {where}.{INTEGRATION} is not of type `object`")
            return None
        if "$ref" not in value:
            key = route_key
            self.integrations[key] = self.integration_fields(key, route_key, value)
            return key if self.integrations[key] is not None else None
        key = str(value["$ref"])
        if key not in self.integrations:
            components = self.document.get("components")
            shared = components.get(INTEGRATIONS) if isinstance(components, dict) else None
            name = key.removeprefix(INTEGRATION_REF_PREFIX) if key.startswith(INTEGRATION_REF_PREFIX) else None
            definition = shared.get(name) if isinstance(shared, dict) and name is not None else None
            if not isinstance(definition, dict):
                self.warnings.append(f"Parse issue: attribute {where}.{INTEGRATION}.{key} is missing")
                return None
            self.integrations[key] = self.integration_fields(key, route_key, definition)
        return key if self.integrations[key] is not None else None

    def integration_fields(self, key: str, route_key: str, value: Mapping[str, Any]) -> ImportedIntegration | None:
        raw_type = value.get("type")
        integration_type = str(raw_type).upper() if raw_type is not None else None
        if integration_type not in _SUPPORTED_INTEGRATION_TYPES:
            # [DOC] http-api-open-api.md: type AWS (HTTP, MOCK) is a warning; HTTP APIs support only Lambda
            # proxy and HTTP proxy integrations. The route is kept, without a target.
            self.warnings.append(
                f"Unsupported integration type '{raw_type}' for '{route_key}'. HTTP APIs support only "
                "AWS_PROXY and HTTP_PROXY integrations. Ignoring."
            )
            return None
        fields: Document = {"integrationType": integration_type}
        if value.get("integrationSubtype") is not None:
            fields["integrationSubtype"] = str(value["integrationSubtype"])
        if value.get("uri") is not None:
            fields["integrationUri"] = str(value["uri"])
        method = value.get("httpMethod")
        if method is not None:
            fields["integrationMethod"] = str(method).upper()
        elif integration_type == "AWS_PROXY":
            fields["integrationMethod"] = "POST"  # [DOC] "For Lambda function invocations, the value must be POST"
        # REST definitions carry no payloadFormatVersion; they import as the REST-compatible 1.0 [INF].
        version = value.get("payloadFormatVersion")
        fields["payloadFormatVersion"] = _version_text(version) if version is not None else "1.0"
        timeout = value.get("timeoutInMillis", _DEFAULT_TIMEOUT_MS)
        fields["timeoutInMillis"] = _integer(timeout) if _integer(timeout) is not None else timeout
        fields["connectionType"] = str(value.get("connectionType") or "INTERNET").upper()
        if value.get("connectionId") is not None:
            fields["connectionId"] = str(value["connectionId"])
        if value.get("credentials") is not None:
            fields["credentialsArn"] = str(value["credentials"])
        if isinstance(value.get("requestParameters"), dict):
            fields["requestParameters"] = {str(k): str(v) for k, v in value["requestParameters"].items()}
        if isinstance(value.get("responseParameters"), dict):
            fields["responseParameters"] = {
                str(status): {str(k): str(v) for k, v in mapping.items()}
                for status, mapping in value["responseParameters"].items()
                if isinstance(mapping, dict)
            }
        tls = value.get("tlsConfig")
        if isinstance(tls, dict) and tls.get("serverNameToVerify") is not None:
            fields["tlsConfig"] = {"serverNameToVerify": str(tls["serverNameToVerify"])}
        for name in _REST_ONLY_INTEGRATION_FIELDS:
            if name in value:
                self.info.append(f"Ignoring {name} of the integration of '{route_key}': not supported for HTTP APIs")
        errors = integration_errors(fields)
        if errors:
            raise OpenApiError.from_validation(errors[0])
        return ImportedIntegration(key, fields)

    def check_references(self, operation: Mapping[str, Any], where: str) -> None:
        """Warn of `$ref`s in an operation's parameters, request body and responses that lead nowhere."""
        for location, ref in _references(operation, where):
            if ref.startswith("#/") and _resolve_pointer(self.document, ref) is None:
                # [EMU: moto, copying AWS] "Parse issue: attribute paths.'/update'(get).responses.200.
                # content.schema.#/components/schemas/ModelThatDoesNotExist is missing".
                self.warnings.append(f"Parse issue: attribute {location}.{ref} is missing")


def _references(value: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            key = str(key)
            if key == "$ref" and isinstance(item, str):
                yield where, item
            elif key in (INTEGRATION, "security") or key.startswith("x-"):
                continue
            elif key == "content" and isinstance(item, dict):
                for media_type in item.values():  # swagger-parser leaves the media type out of the location
                    yield from _references(media_type, f"{where}.content")
            else:
                yield from _references(item, f"{where}.{key}")
    elif isinstance(value, list):
        for item in value:
            yield from _references(item, where)


def _resolve_pointer(document: Any, ref: str) -> Any:
    node = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _identity_sources(value: Any) -> list[str]:
    """`identitySource` is a comma-separated string in the extension, a list in apigatewayv2."""
    if isinstance(value, list):
        return [str(item).strip() for item in value if str(item).strip()]
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return []


def _version_text(value: Any) -> str:
    # `payloadFormatVersion: 1.0` is a number in JSON and YAML; AWS's examples use both forms.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{float(value):.1f}"
    return str(value)


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def materialize(imported: ImportedApi, new_id: Callable[[str], str]) -> ApiResources:
    """The store documents for an import: ids from `new_id(kind)` ("integration", "authorizer", "route"),
    routes' `target` and `authorizerId` pointing at them. Route documents have apply.py's shape."""
    integration_ids = {item.key: new_id("integration") for item in imported.integrations}
    authorizer_ids = {item.name: new_id("authorizer") for item in imported.authorizers}
    integrations = [{"integrationId": integration_ids[item.key], **item.fields} for item in imported.integrations]
    authorizers = [{"authorizerId": authorizer_ids[item.name], **item.fields} for item in imported.authorizers]
    routes = []
    for route in imported.routes:
        doc: Document = {
            "routeId": new_id("route"),
            "routeKey": route.route_key,
            "apiKeyRequired": False,
            **route.fields,
        }
        if route.authorizer is not None:
            doc["authorizerId"] = authorizer_ids[route.authorizer]
        if route.integration is not None:
            doc["target"] = f"integrations/{integration_ids[route.integration]}"
        routes.append(doc)
    return ApiResources(dict(imported.api), routes, integrations, authorizers)


# --------------------------------------------------------------------------------------------------
# Export


def export_document(
    resources: ApiResources,
    *,
    server_url: str,
    base_path: str = "",
    include_extensions: bool = True,
    timestamp: str = "",
) -> Document:
    """The OpenAPI 3.0 document ExportApi answers with.

    `server_url` is the API's endpoint; `base_path` the default of its `basePath` variable (the stage
    name for a named stage). `timestamp` (`2020-04-08T19:05:45Z`) stands in `info.version` when the API has
    no version. Without `include_extensions` every `x-amazon-apigateway-*` key goes, except
    `x-amazon-apigateway-any-method`, without which an ANY route could not be written at all.
    """
    api = resources.api
    info: Document = {"title": api.get("name", "")}
    if api.get("description"):
        info["description"] = api["description"]
    info["version"] = api.get("version") or _export_version(timestamp)
    server: Document = {
        "url": server_url.rstrip("/") + "/{basePath}",
        "variables": {"basePath": {"default": base_path}},
    }
    if include_extensions and api.get("disableExecuteApiEndpoint"):
        server[ENDPOINT_CONFIGURATION] = {"disableExecuteApiEndpoint": True}
    document: Document = {"openapi": OPENAPI_VERSION, "info": info, "servers": [server]}
    if include_extensions and api.get("tags"):
        document["tags"] = [{"name": key, TAG_VALUE: value} for key, value in api["tags"].items()]

    schemes, scheme_names, iam_scheme = _security_schemes(resources, include_extensions)
    integrations = {doc["integrationId"]: doc for doc in resources.integrations}
    use_count: dict[str, int] = {}
    for route in resources.routes:
        integration_id = _target_id(route)
        if integration_id is not None and integration_id in integrations:
            use_count[integration_id] = use_count.get(integration_id, 0) + 1
    shared = {integration_id for integration_id, count in use_count.items() if count > 1}

    paths: Document = {}
    for route in resources.routes:
        key = parse_route_key(route["routeKey"])
        path = "/$default" if key.is_default else key.path
        item = paths.setdefault(path, {})
        operation: Document = {}
        if route.get("operationName"):
            operation["operationId"] = route["operationName"]
        operation["responses"] = {"default": {"description": f"Default response for {route['routeKey']}"}}
        security = _route_security(route, scheme_names, iam_scheme)
        if security is not None:
            operation["security"] = security
        if key.is_default:
            operation["isDefaultRoute"] = True
        integration_id = _target_id(route)
        if include_extensions and integration_id is not None and integration_id in integrations:
            if integration_id in shared:
                operation[INTEGRATION] = {"$ref": INTEGRATION_REF_PREFIX + _shared_name(integration_id)}
            else:
                operation[INTEGRATION] = integration_extension(integrations[integration_id])
        item[ANY_METHOD if key.method in ("ANY", "") else key.method.lower()] = operation
        parameters = [
            {"name": segment.name + ("+" if segment.is_greedy else ""), "in": "path", "required": True,
             "schema": {"type": "string"}}
            for segment in key.segments
            if segment.is_variable
        ]
        if parameters:
            item["parameters"] = parameters
    document["paths"] = paths

    components: Document = {}
    if schemes:
        components["securitySchemes"] = schemes
    if include_extensions and shared:
        components[INTEGRATIONS] = {
            _shared_name(integration_id): integration_extension(integrations[integration_id])
            for integration_id in sorted(shared)
        }
    if components:
        document["components"] = components
    if include_extensions:
        if api.get("corsConfiguration"):
            document[CORS] = dict(api["corsConfiguration"])
        document[IMPORT_EXPORT] = IMPORT_EXPORT_VERSION
    return document


def integration_extension(integration: Mapping[str, Any]) -> Document:
    """An integration document as `x-amazon-apigateway-integration` (the inverse of the import's mapping)."""
    extension: Document = {"type": str(integration.get("integrationType", "")).lower()}
    for name, target in (
        ("integrationSubtype", "integrationSubtype"),
        ("integrationUri", "uri"),
        ("integrationMethod", "httpMethod"),
        ("payloadFormatVersion", "payloadFormatVersion"),
        ("connectionType", "connectionType"),
        ("connectionId", "connectionId"),
        ("credentialsArn", "credentials"),
        ("requestParameters", "requestParameters"),
        ("responseParameters", "responseParameters"),
        ("tlsConfig", "tlsConfig"),
        ("timeoutInMillis", "timeoutInMillis"),
    ):
        if integration.get(name) is not None:
            extension[target] = integration[name]
    return extension


def _security_schemes(
    resources: ApiResources, include_extensions: bool
) -> tuple[Document, dict[str, str], str | None]:
    """The securitySchemes, the scheme name of each authorizer id, and the scheme IAM routes use."""
    schemes: Document = {}
    names: dict[str, str] = {}
    for authorizer in resources.authorizers:
        name = str(authorizer.get("name") or authorizer["authorizerId"])
        if name in schemes:
            name = f"{name}-{authorizer['authorizerId']}"
        names[authorizer["authorizerId"]] = name
        sources = list(authorizer.get("identitySource") or [])
        if authorizer.get("authorizerType") == "JWT":
            scheme: Document = {"type": "oauth2", "flows": {}}
            extension: Document = {"type": "jwt", "identitySource": ",".join(sources)}
            if authorizer.get("jwtConfiguration"):
                extension["jwtConfiguration"] = dict(authorizer["jwtConfiguration"])
        else:
            scheme = _api_key_scheme(sources)
            extension = {"type": "request", "identitySource": ",".join(sources)}
            for name_in_doc, target in (
                ("authorizerUri", "authorizerUri"),
                ("authorizerCredentialsArn", "authorizerCredentials"),
                ("authorizerPayloadFormatVersion", "authorizerPayloadFormatVersion"),
                ("authorizerResultTtlInSeconds", "authorizerResultTtlInSeconds"),
                ("enableSimpleResponses", "enableSimpleResponses"),
            ):
                if authorizer.get(name_in_doc) is not None:
                    extension[target] = authorizer[name_in_doc]
        if include_extensions:
            scheme[AUTHORIZER] = extension
        schemes[name] = scheme
    iam_scheme = None
    if any(route.get("authorizationType") == "AWS_IAM" for route in resources.routes):
        iam_scheme = _IAM_SCHEME
        while iam_scheme in schemes:
            iam_scheme += "-iam"
        schemes[iam_scheme] = {"type": "apiKey", "name": "Authorization", "in": "header"}
        if include_extensions:
            schemes[iam_scheme][AUTHTYPE] = "awsSigv4"
    return schemes, names, iam_scheme


def _api_key_scheme(sources: list[str]) -> Document:
    # REST's convention (api-gateway-swagger-extensions-authorizer.md): a single header or query
    # parameter is named; anything else is "Unused" in the header.
    if len(sources) == 1:
        for prefix, location in (("$request.header.", "header"), ("$request.querystring.", "query")):
            if sources[0].startswith(prefix):
                return {"type": "apiKey", "name": sources[0].removeprefix(prefix), "in": location}
    return {"type": "apiKey", "name": "Unused", "in": "header"}


def _route_security(
    route: Mapping[str, Any], scheme_names: Mapping[str, str], iam_scheme: str | None
) -> list[dict[str, list[str]]] | None:
    authorization = route.get("authorizationType", "NONE")
    if authorization == "AWS_IAM" and iam_scheme is not None:
        return [{iam_scheme: []}]
    if authorization in ("JWT", "CUSTOM") and route.get("authorizerId") in scheme_names:
        scopes = list(route.get("authorizationScopes") or []) if authorization == "JWT" else []
        return [{scheme_names[route["authorizerId"]]: scopes}]
    return None


def _target_id(route: Mapping[str, Any]) -> str | None:
    target = route.get("target")
    if isinstance(target, str) and target.startswith("integrations/"):
        return target.removeprefix("integrations/")
    return None


def _shared_name(integration_id: str) -> str:
    return f"integration-{integration_id}"


def _export_version(timestamp: str) -> str:
    # AWS's exports carry a time stamp as the version of an API that has none: "2020-04-08 19:05:45UTC".
    match = re.fullmatch(r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.\d+)?Z?", timestamp)
    return f"{match.group(1)} {match.group(2)}UTC" if match else (timestamp or "1.0")


def serialize_document(document: Mapping[str, Any], output_type: str) -> bytes:
    """ExportApi's body: the document as indented JSON, or as block-style YAML."""
    if output_type == "YAML":
        dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
        text = yaml.dump(dict(document), Dumper=dumper, sort_keys=False, default_flow_style=False, allow_unicode=True)
        return text.encode()
    return orjson.dumps(document, option=orjson.OPT_INDENT_2)
