"""Lambda proxy integrations to functions that do not run here: one `stageway serve` (the gateway) invokes
them through Lambda's Invoke API on a second one's admin listener (the "remote Lambda", which checks the
SigV4 signature), where boto3 created them from zips. Functions the gateway defines itself still run
locally."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.support.lambda_zip import ECHO, handler_zip
from tests.support.stageway_server import StagewayServer, free_port, http

ACCOUNT, REGION = "123456789012", "us-east-1"
KEY, SECRET = "AKIDREMOTELAMBDA", "remote-lambda-secret"
ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:"
FAILS = """
def handler(event, context):
    raise ValueError("remote boom")
"""
ECHO_V1 = """
import json

def handler(event, context):
    return {"statusCode": 200, "body": json.dumps(event)}
"""
LOCAL = """
def handler(event, context):
    return {"statusCode": 201, "body": "ran locally"}
"""


class Setup:
    def __init__(self, gateway: StagewayServer, remote_admin: str) -> None:
        self.gateway = gateway
        self.remote_admin = remote_admin

    def get(self, path: str) -> tuple[int, dict[str, str], bytes]:
        status, headers, body, _ = http("GET", self.gateway.url + path)
        return status, headers, body


def lambda_client(admin_url: str) -> Any:
    return boto3.client(
        "lambda", endpoint_url=admin_url, region_name=REGION, aws_access_key_id=KEY, aws_secret_access_key=SECRET,
        config=Config(retries={"max_attempts": 1}, read_timeout=60),
    )


def gateway_file(folder: Path) -> Path:
    code = folder / "local"
    code.mkdir()
    (code / "app.py").write_text(textwrap.dedent(LOCAL))
    path = folder / "gateway.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            accountId: "{ACCOUNT}"
            functions:
              local-one: {{runtime: python3.11, handler: app.handler, code: local}}
            apis:
              front:
                integrations:
                  echo: {{integrationType: AWS_PROXY, integrationUri: "{ARN}remote-echo"}}
                  echo-v1:
                    integrationType: AWS_PROXY
                    integrationUri: arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{ARN}remote-v1/invocations
                    payloadFormatVersion: "1.0"
                  fails: {{integrationType: AWS_PROXY, integrationUri: "{ARN}remote-fails"}}
                  missing: {{integrationType: AWS_PROXY, integrationUri: "{ARN}nowhere"}}
                  local: {{integrationType: AWS_PROXY, integrationUri: local-one}}
                routes:
                  GET /echo/{{id}}: echo
                  GET /echo-v1: echo-v1
                  GET /fails: fails
                  GET /missing: missing
                  GET /local: local
            """
        ).lstrip()
    )
    return path


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    admin_port = free_port()
    remote = StagewayServer(args=("--admin-port", str(admin_port), "--admin-credentials", f"{KEY}:{SECRET}"))
    with remote:
        admin_url = f"http://127.0.0.1:{admin_port}"
        client = lambda_client(admin_url)
        for name, source in (("remote-echo", ECHO), ("remote-v1", ECHO_V1), ("remote-fails", FAILS)):
            client.create_function(
                FunctionName=name, Runtime="python3.11", Role=f"arn:aws:iam::{ACCOUNT}:role/lambda",
                Handler="app.handler", Code={"ZipFile": handler_zip(source)},
            )
        path = gateway_file(tmp_path_factory.mktemp("remote-lambda"))
        args = ("--no-admin", "--lambda-endpoint-url", admin_url,
                "--aws-access-key-id", KEY, "--aws-secret-access-key", SECRET)
        with StagewayServer(path, args=args) as gateway:
            yield Setup(gateway, admin_url)


def test_a_function_defined_nowhere_here_runs_on_the_remote_endpoint(setup: Setup) -> None:
    status, headers, body = setup.get("/echo/42?size=large")
    assert status == 200, body
    answer = json.loads(body)
    # The echo function returns its 2.0 event (no statusCode: the gateway infers a 200 JSON body).
    event = answer["event"]
    assert (event["version"], event["rawPath"], event["rawQueryString"]) == ("2.0", "/echo/42", "size=large")
    assert event["pathParameters"] == {"id": "42"}
    assert event["requestContext"]["requestId"] == headers["apigw-requestid"]
    assert answer["function"] == "remote-echo"


def test_payload_format_1_0_through_the_apigateway_arn_wrapper(setup: Setup) -> None:
    status, _, body = setup.get("/echo-v1")
    assert status == 200, body
    event = json.loads(body)
    assert (event["version"], event["path"], event["httpMethod"]) == ("1.0", "/echo-v1", "GET")


def test_a_remote_function_error_is_500(setup: Setup) -> None:
    status, _, body = setup.get("/fails")
    assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})


def test_a_function_the_remote_endpoint_does_not_have_is_500(setup: Setup) -> None:
    status, _, body = setup.get("/missing")
    assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})


def test_local_functions_still_run_locally(setup: Setup) -> None:
    status, _, body = setup.get("/local")
    assert (status, body) == (201, b"ran locally")


def test_wrong_credentials_are_refused_by_the_remote_endpoint(tmp_path: Path, setup: Setup) -> None:
    path = gateway_file(tmp_path)
    args = ("--no-admin", "--lambda-endpoint-url", setup.remote_admin,
            "--aws-access-key-id", KEY, "--aws-secret-access-key", "not-the-secret")
    with StagewayServer(path, args=args) as gateway:
        status, _, body, _ = http("GET", gateway.url + "/echo/1")
        assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})
    assert "answered 403" in gateway.log()
