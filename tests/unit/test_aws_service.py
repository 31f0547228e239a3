"""AWS service integrations (spec §4.7), sans-IO: the subtype catalogue against AWS's reference, the checks
made when an integration is set, the parameters rendered per request, the service requests built from
them, SigV4 signing (against botocore's signer), and the remote Lambda invoker over a fake transport."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from stageway.core.aws_service import (
    SUBTYPES,
    ServiceCall,
    ServiceRequest,
    aws_endpoint,
    aws_service_errors,
    build_service_request,
    compile_service_call,
)
from stageway.core.context_vars import ContextVariables
from stageway.core.errors import IntegrationFailure
from stageway.core.http import GatewayResponse, IncomingRequest, RouteContext
from stageway.core.sigv4 import SignedRequest, verify
from stageway.core.validation import integration_errors
from stageway.functions import FunctionNotFound, FunctionThrottled, InvocationResult
from stageway.integrations.aws_service import AwsClient, AwsCredentials, sign_request
from stageway.integrations.remote_lambda import LocalThenRemote, RemoteLambdaInvoker

QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/orders"
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:orders"

# --------------------------------------------------------------------------------------------------
# The catalogue: AWS's "Integration subtype reference" (http-api-develop-integrations-aws-services-reference)

REFERENCE = [
    ("EventBridge-PutEvents", "events", "PutEvents", {"Detail", "DetailType", "Source"},
     {"Time", "EventBusName", "Resources", "Region", "TraceHeader"}),
    ("SQS-SendMessage", "sqs", "SendMessage", {"QueueUrl", "MessageBody"},
     {"DelaySeconds", "MessageAttributes", "MessageDeduplicationId", "MessageGroupId",
      "MessageSystemAttributes", "Region"}),
    ("SQS-ReceiveMessage", "sqs", "ReceiveMessage", {"QueueUrl"},
     {"AttributeNames", "AttributeName", "MaxNumberOfMessages", "MessageAttributeNames",
      "ReceiveRequestAttemptId", "VisibilityTimeout", "WaitTimeSeconds", "Region"}),
    ("SQS-DeleteMessage", "sqs", "DeleteMessage", {"ReceiptHandle", "QueueUrl"}, {"Region"}),
    ("SQS-PurgeQueue", "sqs", "PurgeQueue", {"QueueUrl"}, {"Region"}),
    ("AppConfig-GetConfiguration", "appconfig", "GetConfiguration",
     {"Application", "Environment", "Configuration", "ClientId"}, {"ClientConfigurationVersion", "Region"}),
    ("Kinesis-PutRecord", "kinesis", "PutRecord", {"StreamName", "Data", "PartitionKey"},
     {"SequenceNumberForOrdering", "ExplicitHashKey", "Region"}),
    ("StepFunctions-StartExecution", "states", "StartExecution", {"StateMachineArn"}, {"Name", "Input", "Region"}),
    ("StepFunctions-StartSyncExecution", "states", "StartSyncExecution", {"StateMachineArn"},
     {"Name", "Input", "Region", "TraceHeader"}),
    ("StepFunctions-StopExecution", "states", "StopExecution", {"ExecutionArn"}, {"Cause", "Error", "Region"}),
]


@pytest.mark.parametrize(("name", "service", "action", "required", "optional"), REFERENCE, ids=[r[0] for r in REFERENCE])
def test_every_subtype_of_the_reference(
    name: str, service: str, action: str, required: set[str], optional: set[str]
) -> None:
    subtype = SUBTYPES[name]
    assert (subtype.service, subtype.action) == (service, action)
    assert set(subtype.required) == required
    assert set(subtype.optional) == optional


def test_the_catalogue_has_nothing_else() -> None:
    assert set(SUBTYPES) == {row[0] for row in REFERENCE}


# --------------------------------------------------------------------------------------------------
# Configuration time

INVALID = (
    "Invalid mapping expression specified: Validation Result: warnings : [], errors : [Invalid mapping "
    "expression specified: "
)


@pytest.mark.parametrize(
    ("subtype", "parameters", "expected"),
    [
        pytest.param("SQS-SendMessage", {"QueueUrl": QUEUE, "MessageBody": "$request.body"}, [], id="ok"),
        pytest.param(
            "SQS-SendMessage",
            {"QueueUrl": QUEUE},
            [(("requestParameters",), "Parameter: MessageBody is required for Operation: SQS-SendMessage.")],
            id="missing-required",
        ),
        pytest.param(
            "StepFunctions-StartSyncExecution",
            {"stateMachineArn": MACHINE},
            [
                # [OBS] aws/aws-cdk#26328: parameter names are case-sensitive.
                (("requestParameters", "stateMachineArn"),
                 "Parameter: stateMachineArn does not fit schema for Operation: StepFunctions-StartSyncExecution."),
                (("requestParameters",),
                 "Parameter: StateMachineArn is required for Operation: StepFunctions-StartSyncExecution."),
            ],
            id="wrong-case",
        ),
        pytest.param(
            "SNS-Publish",
            {},
            [(("integrationSubtype",), "Integration subtype SNS-Publish is not supported. Supported subtypes: "
              + ", ".join(row[0] for row in REFERENCE))],
            id="unknown-subtype",
        ),
        pytest.param(
            "Kinesis-PutRecord",
            {"StreamName": "s", "Data": "$request.body", "PartitionKey": "$context.noSuchThing"},
            [(("requestParameters", "PartitionKey"),
              INVALID + "$context.noSuchThing: $context.noSuchThing is not a context variable of HTTP APIs]")],
            id="bad-expression",
        ),
        pytest.param(
            "SQS-PurgeQueue",
            {"QueueUrl": "q" * 513},
            [(("requestParameters", "QueueUrl"), INVALID + f"{'q' * 513!r}: values are 1 to 512 characters]")],
            id="too-long",
        ),
    ],
)
def test_parameters_are_checked_when_the_integration_is_set(
    subtype: str, parameters: dict[str, str], expected: list[tuple[tuple[str, ...], str]]
) -> None:
    assert [(error.field, error.message) for error in aws_service_errors(subtype, parameters)] == expected


def test_create_integration_rules_include_the_subtype_rules() -> None:
    parameters = {"Source": "shop", "Detail": "$request.body"}
    fields = {
        "integrationType": "AWS_PROXY",
        "integrationSubtype": "EventBridge-PutEvents",
        "payloadFormatVersion": "1.0",
        "requestParameters": parameters,
        "responseParameters": {"200": {"overwrite:statuscode": "202"}},
    }
    assert [error.message for error in integration_errors(fields)] == [
        "Parameter: DetailType is required for Operation: EventBridge-PutEvents."
    ]
    parameters["DetailType"] = "order.created"
    assert integration_errors(fields) == []


# --------------------------------------------------------------------------------------------------
# Per request


def context(
    body: bytes = b"", headers: list[tuple[str, str]] | None = None, raw_query: str = ""
) -> ContextVariables:
    request = IncomingRequest(
        method="POST", raw_path="/orders/7", raw_query=raw_query, headers=headers or [], body=body,
        source_ip="203.0.113.9", request_id="req-1", time_epoch_ms=1_700_000_000_000, host="api.example.com",
    )
    route = RouteContext(
        api_id="abcd123456", account_id="123456789012", region="us-east-1", stage="$default",
        route_key="POST /orders/{id}", path_parameters={"id": "7"}, stage_variables={"queue": QUEUE},
        stage_raw_path="/orders/7", route_raw_path="/orders/7",
    )
    return ContextVariables(request, route)


def test_values_come_from_the_request_the_context_and_static_text() -> None:
    call = compile_service_call(
        "SQS-SendMessage",
        {
            "QueueUrl": "$stageVariables.queue",
            "MessageBody": "$request.body.order",
            "MessageGroupId": "$request.header.x-group",
            "MessageDeduplicationId": "$context.requestId",
            "DelaySeconds": "5",
            "MessageAttributes": "$request.body.attributes",
        },
    )
    values = call.render(
        context(b'{"order": {"id": 7}, "attributes": {"a": {"DataType": "String", "StringValue": "x"}}}',
                [("x-group", "g1"), ("x-group", "g2")])
    )
    assert values == {
        "QueueUrl": QUEUE,
        "MessageBody": '{"id":7}',
        "MessageGroupId": "g1,g2",  # AWS joins repeated headers with a comma
        "MessageDeduplicationId": "req-1",
        "DelaySeconds": "5",
        "MessageAttributes": '{"a":{"DataType":"String","StringValue":"x"}}',
    }


def test_an_optional_parameter_without_a_value_is_left_out() -> None:
    call = compile_service_call(
        "SQS-SendMessage", {"QueueUrl": QUEUE, "MessageBody": "$request.body", "MessageGroupId": "$request.header.g"}
    )
    assert call.render(context(b"hi")) == {"QueueUrl": QUEUE, "MessageBody": "hi"}


def test_a_required_parameter_without_a_value_stops_the_call() -> None:
    call = compile_service_call("SQS-SendMessage", {"QueueUrl": QUEUE, "MessageBody": "$request.body.message"})
    with pytest.raises(IntegrationFailure, match="required parameter MessageBody has no value"):
        call.render(context(b"{}"))


def test_request_body_passthrough_is_not_cut_at_100_kb() -> None:
    call = compile_service_call("SQS-SendMessage", {"QueueUrl": QUEUE, "MessageBody": "$request.body"})
    body = b"x" * 200_000
    assert call.render(context(body))["MessageBody"] == body.decode()


def form(request: ServiceRequest) -> list[tuple[str, str]]:
    return parse_qsl(request.body.decode(), keep_blank_values=True)


def test_sqs_send_message_is_a_query_protocol_form() -> None:
    request = build_service_request(
        SUBTYPES["SQS-SendMessage"],
        {
            "QueueUrl": QUEUE,
            "MessageBody": "a b&c=d+é",
            "MessageAttributes": '{"kind": {"DataType": "String", "StringValue": "new"}}',
            "MessageSystemAttributes": '{"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1"}}',
        },
        default_region="us-east-1",
    )
    assert (request.method, request.url, request.service, request.region) == (
        "POST", "https://sqs.us-east-1.amazonaws.com/", "sqs", "us-east-1"
    )
    assert request.headers == [("content-type", "application/x-www-form-urlencoded; charset=utf-8")]
    assert form(request) == [
        ("Action", "SendMessage"),
        ("Version", "2012-11-05"),
        ("QueueUrl", QUEUE),
        ("MessageBody", "a b&c=d+é"),
        ("MessageAttribute.1.Name", "kind"),
        ("MessageAttribute.1.Value.DataType", "String"),
        ("MessageAttribute.1.Value.StringValue", "new"),
        ("MessageSystemAttribute.1.Name", "AWSTraceHeader"),
        ("MessageSystemAttribute.1.Value.DataType", "String"),
        ("MessageSystemAttribute.1.Value.StringValue", "Root=1"),
    ]


@pytest.mark.parametrize("names", ['["SentTimestamp", "ApproximateReceiveCount"]', "SentTimestamp, ApproximateReceiveCount"])
def test_sqs_lists_take_json_arrays_or_comma_separated_text(names: str) -> None:
    request = build_service_request(
        SUBTYPES["SQS-ReceiveMessage"],
        {"QueueUrl": QUEUE, "AttributeNames": names, "MessageAttributeNames": "All", "MaxNumberOfMessages": "10"},
        default_region="us-east-1",
    )
    assert form(request)[2:] == [
        ("QueueUrl", QUEUE),
        ("AttributeName.1", "SentTimestamp"),
        ("AttributeName.2", "ApproximateReceiveCount"),
        ("MessageAttributeName.1", "All"),
        ("MaxNumberOfMessages", "10"),
    ]


def test_a_map_parameter_that_is_not_a_json_object_stops_the_call() -> None:
    with pytest.raises(IntegrationFailure, match="MessageAttributes must be a JSON object"):
        build_service_request(
            SUBTYPES["SQS-SendMessage"],
            {"QueueUrl": QUEUE, "MessageBody": "x", "MessageAttributes": "kind=new"},
            default_region="us-east-1",
        )


def test_eventbridge_put_events_sends_one_entry() -> None:
    request = build_service_request(
        SUBTYPES["EventBridge-PutEvents"],
        {"Source": "shop", "DetailType": "order.created", "Detail": '{"id":7}', "EventBusName": "orders",
         "Resources": "arn:a,arn:b", "Time": "2024-01-02T03:04:05Z"},
        default_region="eu-west-1",
    )
    assert request.url == "https://events.eu-west-1.amazonaws.com/"
    assert request.headers == [("content-type", "application/x-amz-json-1.1"), ("x-amz-target", "AWSEvents.PutEvents")]
    assert json.loads(request.body) == {
        "Entries": [{"Source": "shop", "DetailType": "order.created", "Detail": '{"id":7}', "EventBusName": "orders",
                     "Resources": ["arn:a", "arn:b"], "Time": 1704164645.0}]
    }


def test_kinesis_put_record_sends_the_data_base64_encoded() -> None:
    request = build_service_request(
        SUBTYPES["Kinesis-PutRecord"], {"StreamName": "clicks", "Data": "héllo", "PartitionKey": "p"},
        default_region="us-east-1",
    )
    assert request.headers == [
        ("content-type", "application/x-amz-json-1.1"), ("x-amz-target", "Kinesis_20131202.PutRecord")
    ]
    body = json.loads(request.body)
    assert base64.b64decode(body.pop("Data")) == "héllo".encode()
    assert body == {"StreamName": "clicks", "PartitionKey": "p"}


@pytest.mark.parametrize(
    ("subtype", "host", "target", "values", "body"),
    [
        ("StepFunctions-StartExecution", "states", "AWSStepFunctions.StartExecution",
         {"StateMachineArn": MACHINE, "Name": "run-1", "Input": '{"a":1}'},
         {"stateMachineArn": MACHINE, "name": "run-1", "input": '{"a":1}'}),
        ("StepFunctions-StartSyncExecution", "sync-states", "AWSStepFunctions.StartSyncExecution",
         {"StateMachineArn": MACHINE, "TraceHeader": "Root=1"}, {"stateMachineArn": MACHINE, "traceHeader": "Root=1"}),
        ("StepFunctions-StopExecution", "states", "AWSStepFunctions.StopExecution",
         {"ExecutionArn": "arn:x", "Cause": "c", "Error": "e"}, {"executionArn": "arn:x", "cause": "c", "error": "e"}),
    ],
)
def test_step_functions_members_are_camel_case(
    subtype: str, host: str, target: str, values: dict[str, str], body: dict[str, str]
) -> None:
    request = build_service_request(SUBTYPES[subtype], values, default_region="us-east-2")
    assert request.url == f"https://{host}.us-east-2.amazonaws.com/"
    assert request.headers == [("content-type", "application/x-amz-json-1.0"), ("x-amz-target", target)]
    assert json.loads(request.body) == body


def test_appconfig_get_configuration_is_a_rest_get() -> None:
    request = build_service_request(
        SUBTYPES["AppConfig-GetConfiguration"],
        {"Application": "shop", "Environment": "prod env", "Configuration": "flags", "ClientId": "c/1",
         "ClientConfigurationVersion": "3"},
        default_region="us-east-1",
    )
    assert (request.method, request.body, request.headers) == ("GET", b"", [])
    assert request.url == (
        "https://appconfig.us-east-1.amazonaws.com/applications/shop/environments/prod%20env/configurations/flags"
        "?client_id=c%2F1&client_configuration_version=3"
    )


def test_the_region_parameter_picks_the_region_and_is_not_sent() -> None:
    request = build_service_request(
        SUBTYPES["SQS-PurgeQueue"], {"QueueUrl": QUEUE, "Region": "ap-southeast-2"}, default_region="us-east-1"
    )
    assert (request.url, request.region) == ("https://sqs.ap-southeast-2.amazonaws.com/", "ap-southeast-2")
    assert ("Region", "ap-southeast-2") not in form(request)


def test_one_endpoint_url_serves_every_service() -> None:
    for name in ("SQS-PurgeQueue", "StepFunctions-StartSyncExecution"):
        values = {"QueueUrl": QUEUE} if name.startswith("SQS") else {"StateMachineArn": MACHINE}
        request = build_service_request(SUBTYPES[name], values, default_region="us-east-1",
                                        endpoint_url="http://127.0.0.1:5000/")
        assert request.url == "http://127.0.0.1:5000/"
    assert aws_endpoint("sqs", "cn-north-1") == "https://sqs.cn-north-1.amazonaws.com.cn"


# --------------------------------------------------------------------------------------------------
# Signing


CREDENTIALS = AwsCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")


def _botocore_signed(request: ServiceRequest, token: str | None) -> tuple[str, datetime]:
    """botocore's Authorization header for the same request, and the time it signed at."""
    prepared = AWSRequest(method=request.method, url=request.url, data=request.body, headers=dict(request.headers))
    credentials = Credentials(CREDENTIALS.access_key_id, CREDENTIALS.secret_access_key, token)
    SigV4Auth(credentials, request.service, request.region).add_auth(prepared)
    signed_at = datetime.strptime(prepared.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return str(prepared.headers["Authorization"]), signed_at


@pytest.mark.parametrize(
    "request_",
    [
        build_service_request(SUBTYPES["SQS-SendMessage"], {"QueueUrl": QUEUE, "MessageBody": "a b+c"},
                              default_region="us-east-1"),
        build_service_request(SUBTYPES["EventBridge-PutEvents"], {"Source": "s", "DetailType": "d", "Detail": "{}"},
                              default_region="eu-west-1", endpoint_url="http://127.0.0.1:5000"),
        build_service_request(
            SUBTYPES["AppConfig-GetConfiguration"],
            {"Application": "a b", "Environment": "e", "Configuration": "c", "ClientId": "x y"},
            default_region="us-east-1",
        ),
        ServiceRequest("POST", "http://127.0.0.1:9000/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1"
                       "%3Afunction%3Af/invocations", [("content-type", "application/json")], b"{}", "lambda",
                       "us-east-1"),
    ],
    ids=["sqs-query", "json-custom-endpoint", "rest-get", "lambda-arn-path"],
)
@pytest.mark.parametrize("token", [None, "session-token"])
def test_signatures_match_botocore(request_: ServiceRequest, token: str | None) -> None:
    credentials = AwsCredentials(CREDENTIALS.access_key_id, CREDENTIALS.secret_access_key, token)
    theirs, signed_at = _botocore_signed(request_, token)
    headers = sign_request(request_, credentials, signed_at)
    names = [name for name, _ in headers]
    assert names[0] == "host" and "x-amz-date" in names and names[-1] == "authorization"
    assert ("x-amz-security-token" in names) == (token is not None)
    assert dict(headers)["authorization"] == theirs
    # And stageway's own verifier (the admin listener's) accepts it.
    parts = urlsplit(request_.url)
    signed = SignedRequest.of(request_.method, parts.path, parts.query, headers, request_.body)
    secrets = {credentials.access_key_id: credentials.secret_access_key}
    assert verify(signed, secrets.get, now=signed_at).access_key == credentials.access_key_id


def test_credentials_come_from_options_or_the_standard_environment() -> None:
    environ = {"AWS_ACCESS_KEY_ID": "env-key", "AWS_SECRET_ACCESS_KEY": "env-secret", "AWS_SESSION_TOKEN": "tok"}
    assert AwsCredentials.resolve(environ=environ) == AwsCredentials("env-key", "env-secret", "tok")
    assert AwsCredentials.resolve("key", "secret", environ=environ) == AwsCredentials("key", "secret")
    assert AwsCredentials.resolve(environ={}) is None


# --------------------------------------------------------------------------------------------------
# Remote Lambda over a fake transport


class FakeTransport:
    def __init__(self, response: GatewayResponse) -> None:
        self.response = response
        self.sent: list[tuple[str, str, dict[str, str], bytes]] = []

    async def send(
        self, method: str, url: str, headers: list[tuple[str, str]], body: bytes, timeout_s: float
    ) -> GatewayResponse:
        self.sent.append((method, url, dict(headers), body))
        return self.response


def remote(response: GatewayResponse) -> tuple[RemoteLambdaInvoker, FakeTransport]:
    transport = FakeTransport(response)
    return RemoteLambdaInvoker(AwsClient(transport, CREDENTIALS), "http://127.0.0.1:9000/", "eu-west-1"), transport


def test_remote_invoke_is_a_signed_invoke_api_call() -> None:
    invoker, transport = remote(
        GatewayResponse(200, [("content-type", "application/json"), ("x-amzn-requestid", "rid")], b'{"ok":true}')
    )
    result = asyncio.run(invoker.invoke("orders", b'{"a":1}'))
    assert (result.request_id, result.payload, result.function_error) == ("rid", b'{"ok":true}', None)
    ((method, url, headers, body),) = transport.sent
    assert (method, url, body) == ("POST", "http://127.0.0.1:9000/2015-03-31/functions/orders/invocations", b'{"a":1}')
    assert headers["x-amz-invocation-type"] == "RequestResponse"
    assert "/eu-west-1/lambda/aws4_request" in headers["authorization"]


def test_a_function_error_header_is_a_function_error() -> None:
    invoker, _ = remote(GatewayResponse(200, [("x-amz-function-error", "Unhandled")], b'{"errorMessage":"boom"}'))
    result = asyncio.run(invoker.invoke("orders", b"{}"))
    assert result.function_error == "Unhandled"


@pytest.mark.parametrize(
    ("status", "raised"), [(404, FunctionNotFound), (429, FunctionThrottled), (500, IntegrationFailure)]
)
def test_invoke_api_errors(status: int, raised: type[Exception]) -> None:
    invoker, _ = remote(GatewayResponse(status, [], b'{"__type":"X","message":"m"}'))
    with pytest.raises(raised):
        asyncio.run(invoker.invoke("orders", b"{}"))


class FakeLocal:
    def __init__(self, names: set[str]) -> None:
        self.names = names

    async def invoke(
        self, name: str, payload: bytes, *, request_id: str | None = None, client_context: str | None = None
    ) -> InvocationResult:
        if name not in self.names:
            raise FunctionNotFound(name)
        return InvocationResult("local", b'"local"', None, "", 1.0)


def test_local_functions_first_then_the_remote_endpoint() -> None:
    invoker, transport = remote(GatewayResponse(200, [("x-amzn-requestid", "remote")], b'"remote"'))
    both = LocalThenRemote(FakeLocal({"here"}), invoker)
    assert asyncio.run(both.invoke("here", b"{}")).request_id == "local"
    assert asyncio.run(both.invoke("elsewhere", b"{}")).request_id == "remote"
    assert len(transport.sent) == 1
    with pytest.raises(FunctionNotFound):
        asyncio.run(LocalThenRemote(FakeLocal(set())).invoke("elsewhere", b"{}"))


def test_a_service_call_is_a_frozen_plan() -> None:
    call = compile_service_call("SQS-PurgeQueue", {"QueueUrl": QUEUE})
    assert isinstance(call, ServiceCall)
    with pytest.raises(AttributeError):
        call.subtype = SUBTYPES["SQS-SendMessage"]  # type: ignore[misc]
