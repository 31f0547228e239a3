"""AWS service integrations: `AWS_PROXY` with an `integrationSubtype` (spec §4.7).

Pure module. The catalogue (`SUBTYPES`) lists every subtype of AWS's "Integration subtype reference"
(http-api-develop-integrations-aws-services-reference) with its required and optional parameters and the
service action it calls. At configuration time `aws_service_errors` checks an integration's
`requestParameters` (keys are the action's parameter names, values are mapping expressions, spec §5.2)
and `compile_service_call` turns them into a `ServiceCall`. Per request `ServiceCall.render` evaluates
the values and `build_service_request` turns them into the service's own HTTP request (not yet signed):

| service | protocol | request |
|---|---|---|
| SQS | query | `POST /`, form body `Action=SendMessage&Version=2012-11-05&...` |
| EventBridge | JSON 1.1 | `POST /`, `X-Amz-Target: AWSEvents.PutEvents`, `{"Entries": [{...}]}` |
| Kinesis | JSON 1.1 | `POST /`, `X-Amz-Target: Kinesis_20131202.PutRecord` |
| Step Functions | JSON 1.0 | `POST /`, `X-Amz-Target: AWSStepFunctions.StartExecution` (camelCase members) |
| AppConfig | REST-JSON | `GET /applications/{a}/environments/{e}/configurations/{c}?client_id=...` |

Why the query protocol for SQS: an HTTP API's SQS-SendMessage answers the client with SQS's XML
`<SendMessageResponse>` (aws-samples/serverless-patterns `apigw-sqs-lambda-ddb-cdk/README.md`, 2023, an
HTTP API route with SQS-SendMessage: "a successful response with an XML message") [OBS], which is what
SQS's query protocol returns; its JSON protocol would answer JSON.

What AWS leaves open, and what we chose [INF]:
- List-valued parameters (`Resources`, `AttributeNames`, `MessageAttributeNames`) take a JSON array or
  comma-separated text; map-valued ones (`MessageAttributes`, `MessageSystemAttributes`) take a JSON
  object in the action's own shape (`{"name": {"DataType": "String", "StringValue": "v"}}`).
- `Kinesis-PutRecord`'s `Data` is the value's UTF-8 bytes (base64-encoded on the wire, as the JSON
  protocol carries blobs); `EventBridge-PutEvents`' `Time` is epoch seconds or an ISO 8601 timestamp.
- A required parameter whose value the request cannot supply (a missing header or body field) stops the
  call before it reaches the service: the client gets 500 `Internal Server Error`.
"""

from __future__ import annotations

import base64
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from urllib.parse import quote, urlencode

import orjson

from stageway.core.context_vars import ContextVariables
from stageway.core.errors import IntegrationFailure
from stageway.core.mapping import MAX_VALUE_LENGTH, ValueSources, ValueTemplate, compile_value
from stageway.core.validation import ValidationError

SQS_API_VERSION: Final = "2012-11-05"


class Wire(enum.Enum):
    QUERY = "query"
    JSON = "json"
    REST_JSON = "rest-json"


@dataclass(frozen=True, slots=True)
class ServiceRequest:
    """One AWS API request, ready to sign: `headers` lack `host` and the signature headers."""

    method: str
    url: str
    headers: list[tuple[str, str]]
    body: bytes
    service: str
    """The SigV4 signing name (`sqs`, `events`, `kinesis`, `states`, `appconfig`, `lambda`)."""
    region: str


@dataclass(frozen=True, slots=True)
class _Shape:
    """What the builder of one subtype produces from its rendered parameters."""

    method: str
    path: str
    query: str
    content_type: str | None
    body: bytes


Values = Mapping[str, str]
Builder = Callable[["Subtype", Values], _Shape]


@dataclass(frozen=True, slots=True)
class Subtype:
    """One integration subtype: the AWS action it calls and the parameters it takes."""

    name: str
    service: str
    """Endpoint prefix and SigV4 signing name."""
    action: str
    wire: Wire
    required: tuple[str, ...]
    optional: tuple[str, ...]
    build: Builder
    target_prefix: str = ""
    """JSON protocols: `X-Amz-Target` is `{target_prefix}.{action}`."""
    json_version: str = "1.1"
    host_prefix: str = ""
    """Put before the service's host name on AWS's endpoint (StartSyncExecution: `sync-states...`)."""

    @property
    def parameters(self) -> frozenset[str]:
        return frozenset((*self.required, *self.optional))

    @property
    def target(self) -> str:
        return f"{self.target_prefix}.{self.action}"


# --------------------------------------------------------------------------------------------------
# Turning rendered parameters into the service's request


def _list(value: str) -> list[str]:
    """A list parameter: a JSON array, or comma-separated text [INF]."""
    text = value.strip()
    if text.startswith("["):
        try:
            items = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise IntegrationFailure(f"not a JSON array: {value!r}") from None
        if isinstance(items, list):
            return [item if isinstance(item, str) else orjson.dumps(item).decode() for item in items]
    return [item.strip() for item in text.split(",") if item.strip()]


def _object(name: str, value: str) -> dict[str, Any]:
    try:
        parsed = orjson.loads(value)
    except orjson.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        raise IntegrationFailure(f"{name} must be a JSON object, got {value[:200]!r}")
    return parsed


# SQS query protocol: how list and map parameters are flattened (botocore's query serializer, SQS model:
# `MessageAttributes` is a flattened map named `MessageAttribute`, `AttributeNames` a flattened list
# named `AttributeName`).
_SQS_LISTS: Final = {"AttributeNames": "AttributeName", "AttributeName": "AttributeName",
                     "MessageAttributeNames": "MessageAttributeName"}
_SQS_MAPS: Final = {"MessageAttributes": "MessageAttribute", "MessageSystemAttributes": "MessageSystemAttribute"}
_SQS_VALUE_MEMBERS: Final = ("DataType", "StringValue", "BinaryValue")


def _sqs_query(subtype: Subtype, values: Values) -> _Shape:
    pairs: list[tuple[str, str]] = [("Action", subtype.action), ("Version", SQS_API_VERSION)]
    for name, value in values.items():
        if name in _SQS_LISTS:
            prefix = _SQS_LISTS[name]
            pairs += [(f"{prefix}.{index}", item) for index, item in enumerate(_list(value), 1)]
        elif name in _SQS_MAPS:
            prefix = _SQS_MAPS[name]
            for index, (key, attribute) in enumerate(_object(name, value).items(), 1):
                pairs.append((f"{prefix}.{index}.Name", key))
                if not isinstance(attribute, dict):
                    raise IntegrationFailure(f"{name}.{key} must be an object with DataType and a value")
                for member in _SQS_VALUE_MEMBERS:
                    if member in attribute:
                        pairs.append((f"{prefix}.{index}.Value.{member}", str(attribute[member])))
        else:
            pairs.append((name, value))
    return _Shape("POST", "/", "", "application/x-www-form-urlencoded; charset=utf-8", urlencode(pairs, quote_via=quote).encode())


def _json_shape(body: dict[str, Any]) -> _Shape:
    return _Shape("POST", "/", "", None, orjson.dumps(body))


def _timestamp(value: str) -> float | str:
    """PutEvents' `Time`: epoch seconds as sent by the JSON protocol; unreadable text goes as written, for
    the service to refuse."""
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(value).timestamp()  # Python 3.11 reads a "Z" suffix
    except ValueError:
        return value


def _events(subtype: Subtype, values: Values) -> _Shape:
    entry: dict[str, Any] = {}
    for name, value in values.items():
        if name == "Resources":
            entry[name] = _list(value)
        elif name == "Time":
            entry[name] = _timestamp(value)
        else:
            entry[name] = value
    # One entry per request: "EventBridge-PutEvents ... events:PutEvents (one entry)" (spec §4.7).
    return _json_shape({"Entries": [entry]})


def _kinesis(subtype: Subtype, values: Values) -> _Shape:
    body = dict(values)
    if "Data" in body:
        body["Data"] = base64.b64encode(body["Data"].encode()).decode()
    return _json_shape(body)


def _camel_case(subtype: Subtype, values: Values) -> _Shape:
    # Step Functions' members are camelCase (`stateMachineArn`); the subtype's parameters are PascalCase.
    return _json_shape({name[0].lower() + name[1:]: value for name, value in values.items()})


def _appconfig(subtype: Subtype, values: Values) -> _Shape:
    path = "/applications/{}/environments/{}/configurations/{}".format(
        *(quote(values[name], safe="") for name in ("Application", "Environment", "Configuration"))
    )
    query = [("client_id", values["ClientId"])]
    if "ClientConfigurationVersion" in values:
        query.append(("client_configuration_version", values["ClientConfigurationVersion"]))
    return _Shape("GET", path, urlencode(query, quote_via=quote), None, b"")


# --------------------------------------------------------------------------------------------------
# The catalogue


def _sqs(name: str, action: str, required: tuple[str, ...], optional: tuple[str, ...]) -> Subtype:
    return Subtype(name, "sqs", action, Wire.QUERY, required, (*optional, "Region"), _sqs_query)


def _states(name: str, action: str, required: tuple[str, ...], optional: tuple[str, ...], **extra: str) -> Subtype:
    return Subtype(
        name, "states", action, Wire.JSON, required, (*optional, "Region"), _camel_case,
        target_prefix="AWSStepFunctions", json_version="1.0", **extra,
    )


SUBTYPES: Final[dict[str, Subtype]] = {
    subtype.name: subtype
    for subtype in (
        Subtype(
            "EventBridge-PutEvents", "events", "PutEvents", Wire.JSON,
            ("Detail", "DetailType", "Source"),
            # `TraceHeader`: spec §4.7 (current docs); the 2023 archive lists the other five only.
            ("Time", "EventBusName", "Resources", "TraceHeader", "Region"),
            _events, target_prefix="AWSEvents",
        ),
        _sqs(
            "SQS-SendMessage", "SendMessage", ("QueueUrl", "MessageBody"),
            ("DelaySeconds", "MessageAttributes", "MessageDeduplicationId", "MessageGroupId",
             "MessageSystemAttributes"),
        ),
        _sqs(
            "SQS-ReceiveMessage", "ReceiveMessage", ("QueueUrl",),
            # The archived reference names `AttributeName` (the query protocol's own name), the current
            # one `AttributeNames`: both are accepted.
            ("AttributeNames", "AttributeName", "MaxNumberOfMessages", "MessageAttributeNames",
             "ReceiveRequestAttemptId", "VisibilityTimeout", "WaitTimeSeconds"),
        ),
        _sqs("SQS-DeleteMessage", "DeleteMessage", ("ReceiptHandle", "QueueUrl"), ()),
        _sqs("SQS-PurgeQueue", "PurgeQueue", ("QueueUrl",), ()),
        Subtype(
            "AppConfig-GetConfiguration", "appconfig", "GetConfiguration", Wire.REST_JSON,
            ("Application", "Environment", "Configuration", "ClientId"),
            ("ClientConfigurationVersion", "Region"),
            _appconfig,
        ),
        Subtype(
            "Kinesis-PutRecord", "kinesis", "PutRecord", Wire.JSON,
            ("StreamName", "Data", "PartitionKey"),
            ("SequenceNumberForOrdering", "ExplicitHashKey", "Region"),
            _kinesis, target_prefix="Kinesis_20131202",
        ),
        _states("StepFunctions-StartExecution", "StartExecution", ("StateMachineArn",), ("Name", "Input")),
        _states(
            "StepFunctions-StartSyncExecution", "StartSyncExecution", ("StateMachineArn",),
            ("Name", "Input", "TraceHeader"), host_prefix="sync-",
        ),
        _states("StepFunctions-StopExecution", "StopExecution", ("ExecutionArn",), ("Cause", "Error")),
    )
}


# --------------------------------------------------------------------------------------------------
# Configuration time


def _unknown_subtype(subtype: object) -> ValidationError:
    # [INF] wording, in the manner of AWS's enumeration messages.
    return ValidationError(
        f"Integration subtype {subtype} is not supported. Supported subtypes: {', '.join(SUBTYPES)}",
        ("integrationSubtype",),
    )


def aws_service_errors(subtype_name: object, parameters: object) -> list[ValidationError]:
    """Every problem CreateIntegration would find in an AWS service integration's subtype and
    `requestParameters` (spec §4.7: "Missing required parameter → BadRequestException at create time")."""
    subtype = SUBTYPES.get(subtype_name) if isinstance(subtype_name, str) else None
    if subtype is None:
        return [_unknown_subtype(subtype_name)]
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, Mapping):
        return [ValidationError("requestParameters must be a map", ("requestParameters",))]
    errors: list[ValidationError] = []
    for name, value in parameters.items():
        field = ("requestParameters", str(name))
        if name not in subtype.parameters:
            # [OBS] aws/aws-cdk#26328: `stateMachineArn` (wrong case) on StepFunctions-StartSyncExecution got
            # "Parameter: stateMachineArn does not fit schema for Operation: StepFunctions-StartSyncExecution."
            errors.append(ValidationError(f"Parameter: {name} does not fit schema for Operation: {subtype.name}.", field))
            continue
        try:
            _compile_parameter(name, value)
        except ValidationError as error:
            errors.append(error)
    for name in subtype.required:
        if name not in parameters:
            # [INF] wording, after the message above; AWS: "You must configure all required parameters to
            # create an integration" (http-api-develop-integrations-aws-services).
            errors.append(
                ValidationError(f"Parameter: {name} is required for Operation: {subtype.name}.", ("requestParameters",))
            )
    return errors


def _compile_parameter(name: str, value: object) -> ValueTemplate:
    field = ("requestParameters", name)
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_VALUE_LENGTH:
        raise ValidationError(
            f"Invalid mapping expression specified: Validation Result: warnings : [], errors : [Invalid mapping "
            f"expression specified: {value!r}: values are 1 to {MAX_VALUE_LENGTH} characters]",
            field,
        )
    try:
        # The sources of request mapping (spec §5.2): header, querystring, path, body, context, stage variables.
        return compile_value(value)
    except ValueError as error:
        raise ValidationError(
            f"Invalid mapping expression specified: Validation Result: warnings : [], errors : [Invalid mapping "
            f"expression specified: {value}: {error}]",
            field,
        ) from None


@dataclass(frozen=True, slots=True)
class ServiceCall:
    """An AWS service integration, compiled: its subtype and one template per parameter."""

    subtype: Subtype
    parameters: tuple[tuple[str, ValueTemplate], ...]

    def render(self, context: ContextVariables) -> dict[str, str]:
        """The parameters' values for one request. An optional parameter without a value is left out; a
        required one raises IntegrationFailure (500) [INF]."""
        request = context.request
        env = ValueSources(context, request.headers, request.body, request.raw_query)
        values: dict[str, str] = {}
        for name, template in self.parameters:
            value = template.render(env)
            if value is not None:
                values[name] = value
            elif name in self.subtype.required:
                raise IntegrationFailure(
                    f"{self.subtype.name}: required parameter {name} has no value ({template.source})"
                )
        return values


def compile_service_call(subtype_name: str, parameters: Mapping[str, str] | None) -> ServiceCall:
    """The compiled integration; raises the first ValidationError `aws_service_errors` would report."""
    errors = aws_service_errors(subtype_name, parameters)
    if errors:
        raise errors[0]
    subtype = SUBTYPES[subtype_name]
    compiled = tuple((name, _compile_parameter(name, value)) for name, value in (parameters or {}).items())
    return ServiceCall(subtype, compiled)


# --------------------------------------------------------------------------------------------------
# Per request


def aws_endpoint(service: str, region: str, endpoint_url: str | None = None, *, host_prefix: str = "") -> str:
    """`endpoint_url` (one URL for every service, e.g. a local emulator) or AWS's regional endpoint."""
    if endpoint_url:
        return endpoint_url.rstrip("/")
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://{host_prefix}{service}.{region}.{suffix}"


def build_service_request(
    subtype: Subtype, values: Mapping[str, str], *, default_region: str, endpoint_url: str | None = None
) -> ServiceRequest:
    """The service request for these rendered parameters. `Region` picks the region to call (spec §4.7,
    "Every subtype also accepts Region"); without it, the API's own region."""
    params = dict(values)
    region = params.pop("Region", None) or default_region
    shape = subtype.build(subtype, params)
    headers: list[tuple[str, str]] = []
    if subtype.wire is Wire.JSON:
        headers += [("content-type", f"application/x-amz-json-{subtype.json_version}"), ("x-amz-target", subtype.target)]
    elif shape.content_type is not None:
        headers.append(("content-type", shape.content_type))
    base = aws_endpoint(subtype.service, region, endpoint_url, host_prefix=subtype.host_prefix)
    url = base + shape.path + (f"?{shape.query}" if shape.query else "")
    return ServiceRequest(shape.method, url, headers, shape.body, subtype.service, region)
