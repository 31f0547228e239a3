"""AWS service integrations end to end (spec §4.7): a real `stageway serve` whose routes call SQS, EventBridge,
Kinesis and Step Functions on a real moto server, with boto3 reading back what arrived."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.moto_server import ACCESS_KEY_ID, SECRET_ACCESS_KEY, MotoServer
from tests.support.stageway_server import StagewayServer, free_port, http

SQS_NS = {"sqs": "http://queue.amazonaws.com/doc/2012-11-05/"}
PASS_MACHINE = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})


def signing_args(endpoint: str) -> tuple[str, ...]:
    return (
        "--no-admin", "--aws-endpoint-url", endpoint,
        "--aws-access-key-id", ACCESS_KEY_ID, "--aws-secret-access-key", SECRET_ACCESS_KEY,
    )


def api_file(folder: Path, queue_url: str, machine_arn: str) -> Path:
    path = folder / "services.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            apis:
              services:
                integrations:
                  send:
                    integrationType: AWS_PROXY
                    integrationSubtype: SQS-SendMessage
                    credentialsArn: arn:aws:iam::123456789012:role/apigw-services
                    requestParameters:
                      QueueUrl: {queue_url}
                      MessageBody: $request.body.message
                      MessageAttributes: '{{"requestId": {{"DataType": "String", "StringValue": "${{context.requestId}}"}}}}'
                  receive:
                    integrationType: AWS_PROXY
                    integrationSubtype: SQS-ReceiveMessage
                    requestParameters:
                      QueueUrl: $request.header.x-queue-url
                      MaxNumberOfMessages: 10
                      MessageAttributeNames: All
                  send-nowhere:
                    integrationType: AWS_PROXY
                    integrationSubtype: SQS-SendMessage
                    requestParameters:
                      QueueUrl: {queue_url}-missing
                      MessageBody: static text
                  events:
                    integrationType: AWS_PROXY
                    integrationSubtype: EventBridge-PutEvents
                    requestParameters:
                      Source: shop.orders
                      DetailType: $request.header.x-detail-type
                      Detail: $request.body
                      EventBusName: orders
                  record:
                    integrationType: AWS_PROXY
                    integrationSubtype: Kinesis-PutRecord
                    requestParameters:
                      StreamName: clicks
                      Data: $request.body
                      PartitionKey: $request.body.customer
                  start:
                    integrationType: AWS_PROXY
                    integrationSubtype: StepFunctions-StartExecution
                    timeoutInMillis: 5000
                    requestParameters:
                      StateMachineArn: {machine_arn}
                      Name: $request.path.run
                      Input: $request.body
                    responseParameters:
                      "200": {{overwrite:header.x-request-id: $context.requestId}}
                routes:
                  POST /orders: send
                  GET /orders: receive
                  POST /nowhere: send-nowhere
                  POST /events: events
                  POST /clicks: record
                  POST /runs/{{run}}: start
            """
        ).lstrip()
    )
    return path


class Services:
    def __init__(self, moto: MotoServer, gateway: StagewayServer, queue_url: str, machine_arn: str) -> None:
        self.moto = moto
        self.gateway = gateway
        self.queue_url = queue_url
        self.machine_arn = machine_arn

    def post(self, path: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        status, response_headers, payload, _ = http("POST", self.gateway.url + path, body=data, headers=headers)
        return status, response_headers, payload


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


@pytest.fixture(scope="module")
def services(moto: MotoServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    queue_url = moto.client("sqs").create_queue(QueueName="orders")["QueueUrl"]
    events = moto.client("events")
    events.create_event_bus(Name="orders")
    events.put_rule(Name="all-orders", EventBusName="orders", EventPattern=json.dumps({"source": ["shop.orders"]}))
    archive = moto.client("sqs").create_queue(QueueName="order-events")["QueueUrl"]
    archive_arn = moto.client("sqs").get_queue_attributes(QueueUrl=archive, AttributeNames=["QueueArn"])
    events.put_targets(
        Rule="all-orders", EventBusName="orders",
        Targets=[{"Id": "archive", "Arn": archive_arn["Attributes"]["QueueArn"]}],
    )
    moto.client("kinesis").create_stream(StreamName="clicks", ShardCount=1)
    machine_arn = moto.client("stepfunctions").create_state_machine(
        name="checkout", definition=PASS_MACHINE, roleArn="arn:aws:iam::123456789012:role/sfn"
    )["stateMachineArn"]
    path = api_file(tmp_path_factory.mktemp("services"), queue_url, machine_arn)
    with StagewayServer(path, args=signing_args(moto.url)) as gateway:
        yield Services(moto, gateway, queue_url, machine_arn)


def test_sqs_send_message_puts_the_mapped_body_on_the_queue(services: Services) -> None:
    status, headers, body = services.post("/orders", {"message": "two pizzas"})
    assert status == 200, body
    # The service's own answer, as SQS's query protocol gives it (an XML SendMessageResponse).
    assert headers["content-type"] == "text/xml"
    message_id = ET.fromstring(body).findtext("sqs:SendMessageResult/sqs:MessageId", namespaces=SQS_NS)
    request_id = headers["apigw-requestid"]

    received = services.moto.client("sqs").receive_message(
        QueueUrl=services.queue_url, MessageAttributeNames=["All"], WaitTimeSeconds=1
    )
    (message,) = received["Messages"]
    assert (message["MessageId"], message["Body"]) == (message_id, "two pizzas")
    assert message["MessageAttributes"]["requestId"]["StringValue"] == request_id
    services.moto.client("sqs").delete_message(QueueUrl=services.queue_url, ReceiptHandle=message["ReceiptHandle"])


def test_sqs_receive_message_answers_with_the_messages(services: Services) -> None:
    services.moto.client("sqs").send_message(QueueUrl=services.queue_url, MessageBody="from boto3")
    status, _, body, _ = http("GET", services.gateway.url + "/orders", headers={"x-queue-url": services.queue_url})
    assert status == 200, body
    bodies = [node.text for node in ET.fromstring(body).iterfind(".//sqs:Message/sqs:Body", SQS_NS)]
    assert bodies == ["from boto3"]


def test_eventbridge_put_events_reaches_the_bus(services: Services) -> None:
    status, _, body = services.post("/events", {"order": 7}, {"x-detail-type": "order.created"})
    assert status == 200, body
    answer = json.loads(body)
    assert answer["FailedEntryCount"] == 0 and answer["Entries"][0]["EventId"]
    archive = services.moto.client("sqs").get_queue_url(QueueName="order-events")["QueueUrl"]
    received = services.moto.client("sqs").receive_message(QueueUrl=archive, WaitTimeSeconds=1)
    event = json.loads(received["Messages"][0]["Body"])
    assert (event["source"], event["detail-type"], event["detail"]) == ("shop.orders", "order.created", {"order": 7})


def test_kinesis_put_record_writes_the_body(services: Services) -> None:
    status, headers, body = services.post("/clicks", {"customer": "c-42", "page": "/menu"})
    assert status == 200, body
    answer = json.loads(body)
    assert headers["content-type"] == "application/x-amz-json-1.1"
    kinesis = services.moto.client("kinesis")
    iterator = kinesis.get_shard_iterator(
        StreamName="clicks", ShardId=answer["ShardId"], ShardIteratorType="AT_SEQUENCE_NUMBER",
        StartingSequenceNumber=answer["SequenceNumber"],
    )["ShardIterator"]
    (record, *_) = kinesis.get_records(ShardIterator=iterator)["Records"]
    assert json.loads(record["Data"]) == {"customer": "c-42", "page": "/menu"}
    assert record["PartitionKey"] == "c-42"


def test_step_functions_start_execution_starts_the_machine(services: Services) -> None:
    status, headers, body = services.post("/runs/run-1", {"items": 2})
    assert status == 200, body
    execution_arn = json.loads(body)["executionArn"]
    assert execution_arn.endswith(":checkout:run-1")
    # Response parameter mapping applies to service integrations too (spec §5.3).
    assert headers["x-request-id"] == headers["apigw-requestid"]
    described = services.moto.client("stepfunctions").describe_execution(executionArn=execution_arn)
    assert json.loads(described["input"]) == {"items": 2}


def test_appconfig_get_configuration(services: Services) -> None:
    from moto.appconfig.models import AppConfigBackend

    if not hasattr(AppConfigBackend, "get_configuration"):
        pytest.skip("moto does not emulate AppConfig's GetConfiguration (only its configuration API)")


def test_a_service_error_reaches_the_client_as_the_service_sent_it(services: Services) -> None:
    status, headers, body = services.post("/nowhere", b"")
    assert status == 400
    assert headers["content-type"] == "text/xml"
    assert ET.fromstring(body).findtext("sqs:Error/sqs:Code", namespaces=SQS_NS) == (
        "AWS.SimpleQueueService.NonExistentQueue"
    )


def test_a_required_parameter_the_request_lacks_answers_500(services: Services) -> None:
    status, _, body = services.post("/orders", {"no-message": True})
    assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})


def test_a_missing_required_parameter_is_refused_when_the_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "apis:\n"
        "  shop:\n"
        "    integrations:\n"
        "      flow:\n"
        "        integrationType: AWS_PROXY\n"
        "        integrationSubtype: StepFunctions-StartExecution\n"
        "        requestParameters:\n"
        "          Input: $request.body\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "stageway", "serve", str(path), "--store", "memory://", "--port", str(free_port()),
         "--no-admin"],
        capture_output=True, text=True, timeout=30, check=False,
    )
    assert done.returncode == 2
    assert (
        f"{path}:7: API 'shop', integration 'flow': Parameter: StateMachineArn is required for Operation: "
        "StepFunctions-StartExecution."
    ) in done.stderr


def test_an_unreachable_service_is_500_and_the_gateway_keeps_serving(tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    path = api_file(tmp_path, f"{closed}/123456789012/orders", "arn:aws:states:us-east-1:123456789012:stateMachine:m")
    with StagewayServer(path, args=signing_args(closed)) as gateway:
        for _ in range(2):
            status, _, body, _ = http("POST", gateway.url + "/orders", body=b'{"message": "x"}')
            assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})
        assert gateway.process is not None and gateway.process.poll() is None


def test_a_service_that_does_not_answer_in_time_is_503(tmp_path: Path) -> None:
    with socket.socket() as silent:  # accepts connections (the kernel does) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
        path = api_file(tmp_path, f"{endpoint}/123456789012/orders", "arn:aws:states:us-east-1:1:stateMachine:m")
        text = path.read_text().replace("timeoutInMillis: 5000", "timeoutInMillis: 300")
        path.write_text(text)
        with StagewayServer(path, args=signing_args(endpoint)) as gateway:
            status, _, body, _ = http("POST", gateway.url + "/runs/r1", body=b"{}")
            assert (status, json.loads(body)) == (503, {"message": "Service Unavailable"})
            status, _, body, _ = http("GET", gateway.url + "/no-such-route")
            assert status == 404


def test_records_are_base64_on_the_wire(services: Services) -> None:
    """Kinesis' JSON protocol carries blobs base64-encoded; the reader sees the client's bytes."""
    status, _, body = services.post("/clicks", b'{"customer": "c-1", "emoji": "\xf0\x9f\x8d\x95"}')
    assert status == 200, body
    sequence = json.loads(body)["SequenceNumber"]
    kinesis = services.moto.client("kinesis")
    iterator = kinesis.get_shard_iterator(
        StreamName="clicks", ShardId="shardId-000000000000", ShardIteratorType="AT_SEQUENCE_NUMBER",
        StartingSequenceNumber=sequence,
    )["ShardIterator"]
    record = kinesis.get_records(ShardIterator=iterator)["Records"][0]
    assert record["Data"] == '{"customer": "c-1", "emoji": "🍕"}'.encode()


def test_the_control_plane_creates_service_integrations_and_refuses_incomplete_ones(moto: MotoServer) -> None:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    queue_url = moto.client("sqs").create_queue(QueueName="from-control-plane")["QueueUrl"]
    admin_port = free_port()
    with StagewayServer(args=(*signing_args(moto.url)[1:], "--admin-port", str(admin_port))) as gateway:
        client = boto3.client(
            "apigatewayv2", endpoint_url=f"http://127.0.0.1:{admin_port}", region_name="us-east-1",
            aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret",
            config=Config(retries={"max_attempts": 1}),
        )
        api_id = client.create_api(Name="queue-api", ProtocolType="HTTP")["ApiId"]
        with pytest.raises(ClientError) as refused:
            client.create_integration(
                ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationSubtype="SQS-SendMessage",
                PayloadFormatVersion="1.0", RequestParameters={"QueueUrl": queue_url},
            )
        assert refused.value.response["Error"] == {
            "Code": "BadRequestException",
            "Message": "Parameter: MessageBody is required for Operation: SQS-SendMessage.",
        }
        integration = client.create_integration(
            ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationSubtype="SQS-SendMessage",
            PayloadFormatVersion="1.0", CredentialsArn="arn:aws:iam::123456789012:role/apigw-sqs",
            RequestParameters={"QueueUrl": queue_url, "MessageBody": "$request.body"},
        )
        assert integration["IntegrationSubtype"] == "SQS-SendMessage"
        client.create_route(ApiId=api_id, RouteKey="POST /q", Target=f"integrations/{integration['IntegrationId']}")
        client.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
        status, _, body, _ = http("POST", gateway.url + "/q", body=b"hello from the control plane")
        assert status == 200, body
        received = moto.client("sqs").receive_message(QueueUrl=queue_url, WaitTimeSeconds=1)
        assert received["Messages"][0]["Body"] == "hello from the control plane"
