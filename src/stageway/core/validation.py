"""AWS's validation rules for HTTP API resources and the Lambda functions behind them.

Pure functions over plain data: apigatewayv2's camelCase field dicts (what CreateIntegration,
CreateRoute, CreateStage and CreateApi receive) and Lambda's function settings. Used by the config
loader and by the apigatewayv2 / Lambda control plane, so a file and an API call are refused for
the same reasons with the same words.

- `validate_*` raise `ValidationError` (400 BadRequestException), `ConflictError` (409) or
  `NotFoundError` (404) on the first problem; the control plane answers one call with one error.
- `*_errors` return every problem; the config loader shows them all at once.
- `ValidationError.field` is the path of the field at fault (`("stageVariables", "color")`), so a
  caller can point at it.

Messages are AWS's where we know them; each such message cites its source ([OBS] seen on AWS,
[DOC] documented). The rest are ours, in AWS's manner. Lambda's own checks use the shape of
Lambda's ValidationException ("Value '0' at 'timeout' failed to satisfy constraint: ..."); the
control plane adds the "1 validation error detected: " prefix.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Mapping
from types import TracebackType
from typing import Any, NamedTuple, Self, TypeGuard
from urllib.parse import urlsplit

from stageway.core.route_keys import (
    HTTP_METHODS,
    RouteKey,
    RouteKeyError,
    conflict_message,
    find_variable_conflict,
    parse_route_key,
)

Field = tuple[str, ...]


class ValidationError(ValueError):
    """A value AWS refuses with 400 BadRequestException; `message` is AWS's where known."""

    status = 400

    def __init__(self, message: str, field: Field = ()) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ConflictError(ValidationError):
    """409 ConflictException: the value clashes with something the API already has."""

    status = 409


class NotFoundError(ValidationError):
    """404 NotFoundException: the value refers to something the API does not have."""

    status = 404


class ErrorCollector:
    """Collects the ValidationErrors raised inside `with collector:` blocks, one block per check."""

    def __init__(self) -> None:
        self.errors: list[ValidationError] = []

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> bool:
        if isinstance(error, ValidationError):
            self.errors.append(error)
            return True
        return False


def _raise_first(errors: list[ValidationError]) -> None:
    if errors:
        raise errors[0]


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# --------------------------------------------------------------------------------------------------
# Stage-variable references and Lambda ARNs

STAGE_VARIABLE_NAME = re.compile(r"^[A-Za-z0-9_]+$")
_REFERENCE = re.compile(r"\$\{([^}]*)\}")
_STAGE_VARIABLE_REFERENCE = re.compile(r"^stageVariables\.[A-Za-z0-9_]+$")


def validate_stage_variable_references(text: str, field: Field = ()) -> None:
    """Every `${...}` in `text` must be `${stageVariables.NAME}` with NAME of `[A-Za-z0-9_]`."""
    start = text.find("${")
    while start != -1:
        match = _REFERENCE.match(text, start)
        if match is None:
            raise ValidationError(f"Unterminated stage variable reference in {text!r}: missing '}}'", field)
        if not _STAGE_VARIABLE_REFERENCE.match(match.group(1)):
            raise ValidationError(
                f"Invalid stage variable reference {match.group(0)}: use ${{stageVariables.NAME}}, "
                "where NAME contains only letters, digits and underscores",
                field,
            )
        start = text.find("${", match.end())


_REGION = r"[a-z]{2}(?:-[a-z]+)+-\d+"
_LAMBDA_NAME_PART = r"(?:[A-Za-z0-9_-]|\$\{stageVariables\.[A-Za-z0-9_]+\})+"
_LAMBDA_ARN = re.compile(
    rf"^arn:aws(?:-cn|-us-gov)?:lambda:(?P<region>{_REGION}):(?P<account>\d{{12}}):function:"
    rf"(?P<name>{_LAMBDA_NAME_PART})(?::(?P<qualifier>\$LATEST|{_LAMBDA_NAME_PART}))?$"
)
# The "invoke ARN" wrapper AWS documents for Lambda integration URIs (spec §4.1).
_LAMBDA_INVOCATION_URI = re.compile(
    rf"^arn:aws(?:-cn|-us-gov)?:apigateway:{_REGION}:lambda:path/2015-03-31/functions/(?P<arn>.+)/invocations$"
)
FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


class LambdaArn(NamedTuple):
    region: str
    account: str
    name: str
    qualifier: str | None

    @property
    def function_arn(self) -> str:
        """The plain function ARN (with its qualifier), without any invocation wrapper."""
        arn = f"arn:{partition_of(self.region)}:lambda:{self.region}:{self.account}:function:{self.name}"
        return f"{arn}:{self.qualifier}" if self.qualifier else arn

    @property
    def uses_stage_variables(self) -> bool:
        return "${" in self.name or "${" in (self.qualifier or "")


def lambda_function_arn(region: str, account: str, name: str) -> str:
    return LambdaArn(region, account, name, None).function_arn


def parse_lambda_arn(uri: str) -> LambdaArn | None:
    """A Lambda function ARN, bare or in the `arn:aws:apigateway:...:lambda:path/.../invocations`
    wrapper, with an optional version/alias qualifier; stage variables may stand for the name or the
    qualifier (spec §2.3). None when `uri` is neither."""
    wrapped = _LAMBDA_INVOCATION_URI.match(uri)
    if wrapped:
        uri = wrapped.group("arn")
    match = _LAMBDA_ARN.match(uri)
    if match is None:
        return None
    name = match.group("name")
    if "${" not in name and len(name) > 64:
        return None
    return LambdaArn(match.group("region"), match.group("account"), name, match.group("qualifier"))


# --------------------------------------------------------------------------------------------------
# Integrations

INTEGRATION_TYPES = ("AWS_PROXY", "HTTP_PROXY")
PAYLOAD_FORMAT_VERSIONS = ("1.0", "2.0")
CONNECTION_TYPES = ("INTERNET", "VPC_LINK")
MIN_TIMEOUT_MS, MAX_TIMEOUT_MS, DEFAULT_TIMEOUT_MS = 50, 30000, 30000
MAX_INTEGRATION_URI_LENGTH = 2048

# [OBS] aws/aws-cli#6363, hashicorp/terraform-provider-aws#25848: CreateIntegration with type AWS.
PROXY_ONLY_MESSAGE = (
    "Currently, an API with a protocol type of HTTP may only be associated with proxy integrations "
    "(AWS_PROXY, HTTP_PROXY)"
)


def validate_integration_type(integration_type: object) -> None:
    # AWS, HTTP and MOCK exist but are WebSocket-only (spec §4); AWS answers them with this message.
    if integration_type not in INTEGRATION_TYPES:
        raise ValidationError(PROXY_ONLY_MESSAGE, ("integrationType",))


def validate_payload_format_version(
    integration_type: str, version: object, integration_subtype: object = None
) -> None:
    field = ("payloadFormatVersion",)
    if version is None or version == "":
        # [EMU] the message LocalStack gives in AWS's words (localstack/localstack#9184); the field is
        # "Required for HTTP APIs" (service model doc string).
        raise ValidationError("PayloadFormatVersion is a required parameter for integration", field)
    if version not in PAYLOAD_FORMAT_VERSIONS:
        raise ValidationError(f"PayloadFormatVersion {version} is not supported", field)
    if version == "2.0" and integration_subtype:
        raise ValidationError(
            f"PayloadFormatVersion 2.0 is not supported for integration of type {integration_type} "
            f"with subtype {integration_subtype}",
            field,
        )
    if version == "2.0" and integration_type != "AWS_PROXY":
        # [OBS] AWS's answer to an HTTP_PROXY integration with 2.0, quoted in a project's live-test log.
        raise ValidationError(
            f"PayloadFormatVersion 2.0 is not supported for integration of type {integration_type}", field
        )


def validate_integration_method(
    integration_type: str, method: object, integration_subtype: object = None
) -> None:
    field = ("integrationMethod",)
    if integration_type == "AWS_PROXY":
        if method is not None and method != "POST" and not integration_subtype:
            # [OBS] hashicorp/terraform-provider-aws#42391 (an HTTP API, method GET on a Lambda).
            raise ValidationError("HttpMethod must be POST for AWS_PROXY IntegrationType", field)
        return
    if method is None or method == "":
        # [OBS for REST's PutIntegration, aws/aws-cli#1605; INF for HTTP APIs, which require the method too]
        raise ValidationError("Enumeration value for HttpMethod must be non-empty", field)
    if method not in HTTP_METHODS:
        raise ValidationError(
            f"Invalid HttpMethod specified: {method}. Valid values are {', '.join(sorted(HTTP_METHODS))}",
            field,
        )


def validate_timeout_in_millis(timeout: object) -> None:
    if not (_is_int(timeout) and MIN_TIMEOUT_MS <= timeout <= MAX_TIMEOUT_MS):
        # [OBS] REST answers "Timeout should be between 50 ms and 29000 ms" (aws/aws-cdk#31063); HTTP
        # APIs allow 30000 (spec §4.6), and a CDK project quotes this text with 30000 for an HTTP API.
        raise ValidationError(
            f"Timeout should be between {MIN_TIMEOUT_MS} ms and {MAX_TIMEOUT_MS} ms", ("timeoutInMillis",)
        )


def validate_http_integration_uri(uri: str) -> None:
    """An absolute http(s) URL; `${stageVariables.x}` may stand in the host, path or query (spec §2.3)."""
    field = ("integrationUri",)
    validate_stage_variable_references(uri, field)
    candidate = _REFERENCE.sub("stagevariable", uri)
    try:
        parts = urlsplit(candidate)
        port = parts.port  # ValueError for a port that is not a number up to 65535
        valid = parts.scheme in ("http", "https") and bool(parts.hostname) and port != 0
    except ValueError:
        valid = False
    if not valid or any(char.isspace() or ord(char) < 32 for char in candidate):
        # [OBS for REST APIs, aws/aws-cdk#14984; INF for HTTP APIs]
        raise ValidationError("Invalid HTTP endpoint specified for URI", field)


def validate_integration_uri(
    integration_type: str, uri: object, *, integration_subtype: object = None, connection_type: object = None
) -> None:
    field = ("integrationUri",)
    if integration_subtype:
        return  # AWS service integrations take their target from requestParameters (spec §4.7)
    if uri is None or uri == "":
        raise ValidationError(
            f"IntegrationUri is a required parameter for integration of type {integration_type}", field
        )
    if not isinstance(uri, str) or len(uri) > MAX_INTEGRATION_URI_LENGTH:
        raise ValidationError("Invalid integration URI specified", field)
    if integration_type == "HTTP_PROXY":
        if connection_type == "VPC_LINK":  # a load balancer listener or Cloud Map service ARN
            validate_stage_variable_references(uri, field)
        else:
            validate_http_integration_uri(uri)
        return
    validate_stage_variable_references(uri, field)
    if parse_lambda_arn(uri) is None:
        raise ValidationError("Invalid integration URI specified", field)


def integration_errors(fields: Mapping[str, Any]) -> list[ValidationError]:
    """Every problem AWS's CreateIntegration would find in these (camelCase) fields."""
    errors = ErrorCollector()
    integration_type = fields.get("integrationType")
    subtype = fields.get("integrationSubtype")
    with errors:
        validate_integration_type(integration_type)
    if integration_type not in INTEGRATION_TYPES:
        return errors.errors  # every other rule depends on the type
    assert isinstance(integration_type, str)
    if subtype is not None and integration_type != "AWS_PROXY":
        errors.errors.append(
            ValidationError(
                "IntegrationSubtype is only supported for AWS_PROXY integrations", ("integrationSubtype",)
            )
        )
    with errors:
        validate_payload_format_version(integration_type, fields.get("payloadFormatVersion"), subtype)
    with errors:
        validate_integration_method(integration_type, fields.get("integrationMethod"), subtype)
    if "timeoutInMillis" in fields:
        with errors:
            validate_timeout_in_millis(fields["timeoutInMillis"])
    connection_type = fields.get("connectionType")
    if connection_type is not None and connection_type not in CONNECTION_TYPES:
        errors.errors.append(
            ValidationError(
                f"Invalid connection type specified: {connection_type}. "
                "Valid values are INTERNET and VPC_LINK",
                ("connectionType",),
            )
        )
    with errors:
        validate_integration_uri(
            integration_type,
            fields.get("integrationUri"),
            integration_subtype=subtype,
            connection_type=connection_type,
        )
    # The mapping compilers are the one authority on mappings: what passes here, the gateway runs.
    from stageway.core.mapping import compile_request_parameters, compile_response_parameters

    if subtype and integration_type == "AWS_PROXY":
        # requestParameters name the AWS action's parameters (spec §4.7).
        from stageway.core.aws_service import aws_service_errors

        errors.errors.extend(aws_service_errors(subtype, fields.get("requestParameters")))
    elif fields.get("requestParameters") and not subtype:
        with errors:
            compile_request_parameters(fields["requestParameters"], integration_type=integration_type)
    if fields.get("responseParameters"):
        with errors:
            compile_response_parameters(fields["responseParameters"])
    return errors.errors


def validate_integration(fields: Mapping[str, Any]) -> None:
    _raise_first(integration_errors(fields))


# --------------------------------------------------------------------------------------------------
# Routes

AUTHORIZATION_TYPES = ("NONE", "AWS_IAM", "CUSTOM", "JWT")
MAX_AUTHORIZATION_SCOPES = 10  # quota "Scopes per route", not adjustable (spec §11.3)


def validate_route_key(route_key: object) -> RouteKey:
    try:
        return parse_route_key(route_key)
    except RouteKeyError as error:
        raise ValidationError(str(error), ("routeKey",)) from None


def check_route_key_conflicts(new: RouteKey, existing: Iterable[RouteKey]) -> None:
    """AWS's two 409s for a new route key: the same key again, or a differently named sibling variable."""
    others = list(existing)
    for other in others:
        if other.key == new.key:
            # [OBS] spec §1.3: "Route with key ANY /{proxy+} already exists for this API".
            raise ConflictError(f"Route with key {new.key} already exists for this API", ("routeKey",))
    other_key = find_variable_conflict(new, others)
    if other_key is not None:
        raise ConflictError(conflict_message(new, other_key), ("routeKey",))  # [OBS] spec §1.3


def route_errors(fields: Mapping[str, Any]) -> list[ValidationError]:
    """Every problem AWS's CreateRoute would find in these fields (authorizer ids are not resolved here)."""
    errors = ErrorCollector()
    with errors:
        validate_route_key(fields.get("routeKey"))
    authorization_type = fields.get("authorizationType", "NONE")
    if authorization_type not in AUTHORIZATION_TYPES:
        errors.errors.append(
            ValidationError(
                f"Invalid authorization type specified: {authorization_type}. Valid values are "
                f"{', '.join(AUTHORIZATION_TYPES)}",
                ("authorizationType",),
            )
        )
    elif authorization_type == "JWT" and not fields.get("authorizerId"):
        # [OBS] spec §1.3.
        errors.errors.append(
            ValidationError(
                "Invalid authorizer ID specified. Setting the authorization type to JWT requires a valid JWT "
                "authorizer.",
                ("authorizerId",),
            )
        )
    elif authorization_type == "CUSTOM" and not fields.get("authorizerId"):
        errors.errors.append(
            ValidationError(
                "Invalid authorizer ID specified. Setting the authorization type to CUSTOM requires a valid "
                "REQUEST authorizer.",
                ("authorizerId",),
            )
        )
    scopes = fields.get("authorizationScopes")
    if scopes is not None:
        if not isinstance(scopes, list) or not all(isinstance(s, str) and 1 <= len(s) <= 64 for s in scopes):
            errors.errors.append(
                ValidationError(
                    "authorizationScopes must be a list of scopes of 1 to 64 characters",
                    ("authorizationScopes",),
                )
            )
        elif len(scopes) > MAX_AUTHORIZATION_SCOPES:
            errors.errors.append(
                ValidationError(
                    f"A route can have at most {MAX_AUTHORIZATION_SCOPES} authorization scopes",
                    ("authorizationScopes",),
                )
            )
    return errors.errors


def validate_route(fields: Mapping[str, Any]) -> None:
    _raise_first(route_errors(fields))


# --------------------------------------------------------------------------------------------------
# Stages

DEFAULT_STAGE_NAME = "$default"
STAGE_NAME = re.compile(r"^(\$default|[A-Za-z0-9_-]{1,128})$")
# Service model doc string of Stage.stageVariables (spec §1.5).
STAGE_VARIABLE_VALUE = re.compile(r"^[A-Za-z0-9\-._~:/?#&=,]+$")
MAX_STAGE_VARIABLES = 100  # quota, not adjustable (spec §11.3)
MAX_STAGE_VARIABLE_VALUE_LENGTH = 2048
ROUTE_SETTINGS_FIELDS = (
    "dataTraceEnabled",
    "detailedMetricsEnabled",
    "loggingLevel",
    "throttlingBurstLimit",
    "throttlingRateLimit",
)
LOGGING_LEVELS = ("ERROR", "INFO", "OFF")
ACCESS_LOG_FIELDS = ("destinationArn", "format")



def validate_stage_name(name: object) -> None:
    if not isinstance(name, str) or not STAGE_NAME.match(name):
        # REST answers "Stage name only allows a-zA-Z0-9_"; HTTP APIs also allow '-' and $default.
        raise ValidationError(
            "Stage name only allows a-zA-Z0-9_- (at most 128 characters) or $default", ("stageName",)
        )


def stage_variable_errors(variables: object) -> list[ValidationError]:
    field: Field = ("stageVariables",)
    if not isinstance(variables, Mapping):
        return [ValidationError("stageVariables must be a map of names to values", field)]
    errors = []
    if len(variables) > MAX_STAGE_VARIABLES:
        errors.append(
            ValidationError(f"A stage can have at most {MAX_STAGE_VARIABLES} stage variables", field)
        )
    for name, value in variables.items():
        if not isinstance(name, str) or not STAGE_VARIABLE_NAME.match(name):
            errors.append(
                ValidationError(
                    f"Stage variable name {name!r} is invalid: names may only contain a-zA-Z0-9_",
                    (*field, name),
                )
            )
        elif (
            not isinstance(value, str)
            or len(value) > MAX_STAGE_VARIABLE_VALUE_LENGTH
            or not STAGE_VARIABLE_VALUE.match(value)
        ):
            errors.append(
                ValidationError(
                    f"Stage variable value {value!r} of {name!r} is invalid: values must match "
                    r"[A-Za-z0-9-._~:/?#&=,]+ and be at most 2048 characters",
                    (*field, name),
                )
            )
    return errors


def route_settings_errors(settings: object, field: Field) -> list[ValidationError]:
    """Types of one RouteSettings object (throttling, metrics, logging)."""
    if not isinstance(settings, Mapping):
        return [ValidationError("route settings must be a map", field)]
    errors = []
    expectations: dict[str, tuple[Any, str]] = {
        "throttlingBurstLimit": (lambda v: _is_int(v) and v >= 0, "a whole number of requests (0 or more)"),
        "throttlingRateLimit": (
            lambda v: _is_number(v) and v >= 0,
            "a number of requests per second (0 or more)",
        ),
        "detailedMetricsEnabled": (lambda v: isinstance(v, bool), "true or false"),
        "dataTraceEnabled": (lambda v: isinstance(v, bool), "true or false"),
        "loggingLevel": (lambda v: v in LOGGING_LEVELS, "one of " + ", ".join(LOGGING_LEVELS)),
    }
    for name, value in settings.items():
        check = expectations.get(name)
        if check is not None and not check[0](value):
            errors.append(ValidationError(f"{name} must be {check[1]}", (*field, name)))
    return errors


def validate_route_settings_keys(route_settings: Mapping[str, Any], route_keys: Collection[str]) -> None:
    """Each key of a stage's routeSettings must be a route key of the API."""
    for key in route_settings:
        if key not in route_keys:
            # [OBS] seen by many CloudFormation users whose stage was updated before its routes (404).
            raise NotFoundError(
                f"Unable to find Route by key {key} within the provided RouteSettings", ("routeSettings", key)
            )


def access_log_settings_errors(settings: object) -> list[ValidationError]:
    field: Field = ("accessLogSettings",)
    if not isinstance(settings, Mapping):
        return [ValidationError("accessLogSettings must be a map with destinationArn and format", field)]
    errors = []
    for name in ACCESS_LOG_FIELDS:
        if not isinstance(settings.get(name), str) or not settings[name]:
            errors.append(ValidationError(f"accessLogSettings needs {name} (a string)", (*field, name)))
    log_format = settings.get("format")
    if isinstance(log_format, str) and log_format:
        # The access-log compiler is the one authority on formats (it also catches
        # `$context.requestIdentity` posing as `$context.requestId`); imported here to avoid a cycle.
        from stageway.core.context_vars import compile_log_format

        try:
            compile_log_format(log_format)
        except ValidationError as error:
            errors.append(error)
    return errors


def stage_errors(fields: Mapping[str, Any]) -> list[ValidationError]:
    """Every problem AWS's CreateStage would find (route-settings keys are checked by
    `validate_route_settings_keys`, which needs the API's routes)."""
    errors = ErrorCollector()
    with errors:
        validate_stage_name(fields.get("stageName"))
    if "autoDeploy" in fields and not isinstance(fields["autoDeploy"], bool):
        errors.errors.append(ValidationError("autoDeploy must be true or false", ("autoDeploy",)))
    if fields.get("autoDeploy") is True and fields.get("deploymentId"):
        # spec §1.5 [OBS via aws-controllers-k8s]: a deployment can't be chosen for an autoDeploy stage.
        errors.errors.append(
            ValidationError(
                "Deployment id cannot be specified when auto deploy is enabled", ("deploymentId",)
            )
        )
    if "stageVariables" in fields:
        errors.errors.extend(stage_variable_errors(fields["stageVariables"]))
    if "defaultRouteSettings" in fields:
        errors.errors.extend(route_settings_errors(fields["defaultRouteSettings"], ("defaultRouteSettings",)))
    route_settings = fields.get("routeSettings")
    if route_settings is not None:
        if not isinstance(route_settings, Mapping):
            errors.errors.append(
                ValidationError("routeSettings must be a map of route keys", ("routeSettings",))
            )
        else:
            for key, settings in route_settings.items():
                try:
                    parse_route_key(key)
                except RouteKeyError as error:
                    errors.errors.append(ValidationError(str(error), ("routeSettings", key)))
                    continue
                errors.errors.extend(route_settings_errors(settings, ("routeSettings", key)))
    if "accessLogSettings" in fields:
        errors.errors.extend(access_log_settings_errors(fields["accessLogSettings"]))
    if "tags" in fields:
        errors.errors.extend(tag_errors(fields["tags"]))
    return errors.errors


def validate_stage(fields: Mapping[str, Any]) -> None:
    _raise_first(stage_errors(fields))


# --------------------------------------------------------------------------------------------------
# APIs: name, CORS, tags

CORS_FIELDS = ("allowCredentials", "allowHeaders", "allowMethods", "allowOrigins", "exposeHeaders", "maxAge")
MIN_CORS_MAX_AGE, MAX_CORS_MAX_AGE = -1, 86400
# [OBS] spec §1.3 / §6.1.
CORS_CREDENTIALS_MESSAGE = "allow-credentials is not supported if 'allow-origin' is *"


def cors_errors(cors: object) -> list[ValidationError]:
    field: Field = ("corsConfiguration",)
    if not isinstance(cors, Mapping):
        return [ValidationError("corsConfiguration must be a map", field)]
    errors = []
    for name in ("allowHeaders", "allowMethods", "allowOrigins", "exposeHeaders"):
        value = cors.get(name)
        if value is not None and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
            errors.append(ValidationError(f"{name} must be a list of strings", (*field, name)))
        elif name == "allowMethods" and value is not None and not all(1 <= len(v) <= 64 for v in value):
            errors.append(
                ValidationError("allowMethods entries must be 1 to 64 characters long", (*field, name))
            )
    max_age = cors.get("maxAge")
    if max_age is not None and (not _is_int(max_age) or not MIN_CORS_MAX_AGE <= max_age <= MAX_CORS_MAX_AGE):
        errors.append(
            ValidationError(
                f"maxAge must be a whole number of seconds from {MIN_CORS_MAX_AGE} to {MAX_CORS_MAX_AGE}",
                (*field, "maxAge"),
            )
        )
    credentials = cors.get("allowCredentials")
    if credentials is not None and not isinstance(credentials, bool):
        errors.append(ValidationError("allowCredentials must be true or false", (*field, "allowCredentials")))
    origins = cors.get("allowOrigins")
    if credentials is True and isinstance(origins, list) and "*" in origins:
        errors.append(ValidationError(CORS_CREDENTIALS_MESSAGE, (*field, "allowCredentials")))
    if isinstance(origins, list):
        from stageway.core.cors import origin_error

        errors.extend(error for origin in origins if isinstance(origin, str) and (error := origin_error(origin)))
    return errors


def validate_cors_configuration(cors: object) -> None:
    _raise_first(cors_errors(cors))


MAX_TAG_KEY_LENGTH, MAX_TAG_VALUE_LENGTH = 128, 1600


def tag_errors(tags: object) -> list[ValidationError]:
    field: Field = ("tags",)
    if not isinstance(tags, Mapping):
        return [ValidationError("tags must be a map of keys to values", field)]
    errors = []
    for key, value in tags.items():
        if (
            not isinstance(key, str)
            or not 1 <= len(key) <= MAX_TAG_KEY_LENGTH
            or key.lower().startswith("aws:")
        ):
            errors.append(
                ValidationError(
                    f"Tag key {key!r} is invalid: keys are 1 to 128 characters and may not start with 'aws:'",
                    (*field, str(key)),
                )
            )
        elif not isinstance(value, str) or len(value) > MAX_TAG_VALUE_LENGTH:
            errors.append(
                ValidationError(
                    f"Tag value of {key!r} must be a string of at most 1600 characters", (*field, key)
                )
            )
    return errors


def api_errors(fields: Mapping[str, Any]) -> list[ValidationError]:
    """Every problem AWS's CreateApi would find in these fields."""
    errors = []
    name = fields.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= 128:
        errors.append(ValidationError("An API name must be 1 to 128 characters long", ("name",)))
    protocol = fields.get("protocolType", "HTTP")
    if protocol not in ("HTTP", "WEBSOCKET"):
        # [EMU: moto] spec §1.3.
        errors.append(
            ValidationError("Invalid protocol specified. Must be one of [HTTP, WEBSOCKET]", ("protocolType",))
        )
    elif protocol != "HTTP":
        errors.append(ValidationError("stageway serves HTTP APIs only", ("protocolType",)))
    if "disableExecuteApiEndpoint" in fields and not isinstance(fields["disableExecuteApiEndpoint"], bool):
        errors.append(
            ValidationError("disableExecuteApiEndpoint must be true or false", ("disableExecuteApiEndpoint",))
        )
    if "corsConfiguration" in fields:
        errors.extend(cors_errors(fields["corsConfiguration"]))
    if "tags" in fields:
        errors.extend(tag_errors(fields["tags"]))
    return errors


def validate_api(fields: Mapping[str, Any]) -> None:
    _raise_first(api_errors(fields))


# --------------------------------------------------------------------------------------------------
# Lambda functions

PYTHON_RUNTIMES = ("python3.9", "python3.10", "python3.11", "python3.12", "python3.13")
MIN_FUNCTION_TIMEOUT_S, MAX_FUNCTION_TIMEOUT_S, DEFAULT_FUNCTION_TIMEOUT_S = 1, 900, 3
MIN_MEMORY_MB, MAX_MEMORY_MB, DEFAULT_MEMORY_MB = 128, 10240, 128
HANDLER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
ENVIRONMENT_KEY = re.compile(r"^[a-zA-Z]([a-zA-Z0-9_])+$")  # Lambda API, Environment.Variables key pattern
MAX_ENVIRONMENT_BYTES = 4 * 1024
# Set by the Lambda runtime; Lambda refuses them in a function's configuration (Lambda developer guide,
# "Defined runtime environment variables"; AWS_DEFAULT_REGION observed refused as well).
RESERVED_ENVIRONMENT_KEYS = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_DEFAULT_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_LAMBDA_RUNTIME_API",
        "AWS_REGION",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "LAMBDA_RUNTIME_DIR",
        "LAMBDA_TASK_ROOT",
    }
)


def _constraint(value: object, field: str, constraint: str) -> ValidationError:
    """Lambda's ValidationException wording for one failed constraint."""
    return ValidationError(
        f"Value '{value}' at '{field}' failed to satisfy constraint: Member must {constraint}", (field,)
    )


def _check_range(value: object, field: str, low: int, high: int | None) -> None:
    if not _is_int(value):
        raise ValidationError(f"{field} must be a whole number", (field,))
    if value < low:
        raise _constraint(value, field, f"have value greater than or equal to {low}")
    if high is not None and value > high:
        raise _constraint(value, field, f"have value less than or equal to {high}")


def validate_function_name(name: object) -> None:
    if not isinstance(name, str) or not name:
        raise _constraint(name, "functionName", "have length greater than or equal to 1")
    if len(name) > 64:
        raise _constraint(name, "functionName", "have length less than or equal to 64")
    if not FUNCTION_NAME.match(name):
        raise _constraint(name, "functionName", "satisfy regular expression pattern: [a-zA-Z0-9-_]+")


def validate_runtime(runtime: object) -> None:
    if runtime not in PYTHON_RUNTIMES:
        raise _constraint(runtime, "runtime", f"satisfy enum value set: [{', '.join(PYTHON_RUNTIMES)}]")


def validate_handler(handler: object) -> None:
    # Lambda itself only asks for no whitespace; a Python runtime needs MODULE.FUNCTION to import it.
    if not isinstance(handler, str) or not HANDLER.match(handler):
        raise ValidationError(
            f"Handler {handler!r} must be MODULE.FUNCTION, like app.handler or package.module.handler",
            ("handler",),
        )


def validate_function_timeout(timeout: object) -> None:
    _check_range(timeout, "timeout", MIN_FUNCTION_TIMEOUT_S, MAX_FUNCTION_TIMEOUT_S)


def validate_memory_size(memory: object) -> None:
    _check_range(memory, "memorySize", MIN_MEMORY_MB, MAX_MEMORY_MB)


def validate_reserved_concurrency(reserved: object) -> None:
    # Lambda also accepts 0 (a function that never runs); stageway asks for at least one worker.
    _check_range(reserved, "reservedConcurrentExecutions", 1, None)


def environment_errors(variables: Mapping[str, str]) -> list[ValidationError]:
    field: Field = ("environment",)
    errors = []
    for key, value in variables.items():
        if not ENVIRONMENT_KEY.match(key):
            errors.append(
                ValidationError(
                    f"Environment variable name {key!r} is invalid: Member must satisfy regular expression "
                    "pattern: [a-zA-Z]([a-zA-Z0-9_])+",
                    (*field, key),
                )
            )
        elif not isinstance(value, str):
            errors.append(ValidationError(f"Environment variable {key} must be a string", (*field, key)))
    reserved = sorted(key for key in variables if key in RESERVED_ENVIRONMENT_KEYS)
    if reserved:
        # [OBS] Lambda's InvalidParameterValueException, quoted in many deploy logs.
        errors.append(
            ValidationError(
                "Lambda was unable to configure your environment variables because the environment variables "
                "you have provided contains reserved keys that are currently not supported for modification. "
                f"Reserved keys used in this request: {', '.join(reserved)}",
                (*field, reserved[0]),
            )
        )
    if len(json.dumps(dict(variables), separators=(",", ":")).encode()) > MAX_ENVIRONMENT_BYTES:
        # [OBS] Lambda's InvalidParameterValueException for oversized environments.
        errors.append(
            ValidationError(
                "Lambda was unable to configure your environment variables because the environment variables "
                "you have provided exceeded the 4KB limit.",
                field,
            )
        )
    return errors


def validate_environment(variables: Mapping[str, str]) -> None:
    _raise_first(environment_errors(variables))


# ---------------------------------------------------------------------------------------------------------
# Custom domain names and API mappings (spec §9)

MAX_MAPPING_KEY_LENGTH = 300
# A hostname, or a wildcard on the first label only (spec §9).
_DOMAIN_NAME = re.compile(
    r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", re.IGNORECASE
)
_MAPPING_KEY = re.compile(r"^[A-Za-z0-9$\-_.+!*'()/]*$")  # [DOC] letters, digits and $-_.+!*'()/


def validate_domain_name(name: object) -> None:
    if not isinstance(name, str) or not 1 <= len(name) <= 512 or not _DOMAIN_NAME.match(name):
        raise ValidationError(f"Invalid domain name specified: {name}", ("domainName",))  # [INF] wording


def validate_api_mapping_key(key: object) -> None:
    field: Field = ("apiMappingKey",)
    if not isinstance(key, str):
        raise ValidationError("apiMappingKey must be a string", field)
    if key.startswith("/") or "//" in key:
        # [EMU: moto] spec §1.3
        raise ValidationError("API mapping key should not start with a '/' or have consecutive '/'s.", field)
    if key.endswith("/"):
        raise ValidationError("API mapping key should not end with a '/'.", field)  # [EMU: moto] spec §1.3
    if len(key) > MAX_MAPPING_KEY_LENGTH or not _MAPPING_KEY.match(key):
        # [DOC] allowed characters and length (spec §9); wording [INF].
        raise ValidationError(
            f"Invalid API mapping key specified: {key}. Keys are at most 300 of a-zA-Z0-9$-_.+!*'()/", field
        )
