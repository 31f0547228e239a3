"""Lambda's API on the admin listener, end to end: boto3 (and the AWS CLI) against a real `stageway serve`,
functions created from in-memory zips and run by the same runtime as functions from YAML files."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.support.lambda_zip import ECHO, handler_zip, zip_of
from tests.support.stageway_server import StagewayServer, free_port, http

REGION, ACCOUNT = "us-east-1", "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/lambda-role"
ARN_PREFIX = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:"

FAILS = """
def handler(event, context):
    raise ValueError("boom")
"""
WRITES_FILE = """
import pathlib, time

def handler(event, context):
    time.sleep(0.2)
    pathlib.Path(event["path"]).write_text("ran")
    return "done"
"""
TWO_HANDLERS = """
def first(event, context):
    return "first"

def second(event, context):
    return "second"
"""


class Plane:
    def __init__(self, server: StagewayServer, admin_port: int, root: Path) -> None:
        self.server = server
        self.admin_url = f"http://127.0.0.1:{admin_port}"
        self.root = root
        self.lam = self.client("lambda")

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.admin_url,
            region_name=REGION,
            aws_access_key_id="AKIDEXAMPLE",
            aws_secret_access_key="secret",
            config=Config(retries={"max_attempts": 1}, read_timeout=60),
        )

    def create(self, name: str, source: str = ECHO, **extra: Any) -> dict[str, Any]:
        params: dict[str, Any] = {
            "FunctionName": name,
            "Runtime": "python3.11",
            "Role": ROLE,
            "Handler": "app.handler",
            "Code": {"ZipFile": handler_zip(source)},
            **extra,
        }
        return dict(self.lam.create_function(**params))

    def invoke(self, name: str, payload: Any = None, **extra: Any) -> tuple[dict[str, Any], Any]:
        body = json.dumps(payload if payload is not None else {}).encode()
        response = self.lam.invoke(FunctionName=name, Payload=body, **extra)
        raw = response["Payload"].read()
        return response, (json.loads(raw) if raw else None)


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plane]:
    root = tmp_path_factory.mktemp("lambda-api")
    admin_port = free_port()
    server = StagewayServer(args=("--admin-port", str(admin_port)), store=f"sqlite:///{root}/state.db", cwd=root)
    with server:
        yield Plane(server, admin_port, root)


def _error(call: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response
    return error["Error"]["Code"], error["Error"]["Message"], error["ResponseMetadata"]["HTTPStatusCode"]


def test_create_returns_lambdas_configuration_and_never_stagewayss_own_keys(plane: Plane) -> None:
    package = handler_zip(ECHO)
    created = plane.lam.create_function(
        FunctionName="echo",
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": package},
        Description="says it back",
        Environment={"Variables": {"GREETING": "hello"}},
        Tags={"team": "gateway"},
    )
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["FunctionArn"] == ARN_PREFIX + "echo"
    assert created["CodeSha256"] == base64.b64encode(hashlib.sha256(package).digest()).decode()
    assert created["CodeSize"] == len(package)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", created["LastModified"])
    assert (created["Version"], created["State"], created["LastUpdateStatus"]) == ("$LATEST", "Active", "Successful")
    assert (created["Timeout"], created["MemorySize"], created["Description"]) == (3, 128, "says it back")
    assert created["Environment"] == {"Variables": {"GREETING": "hello"}}
    assert re.fullmatch(r"[0-9a-f-]{36}", created["RevisionId"])

    for path in ("/2015-03-31/functions/echo", "/2015-03-31/functions/echo/configuration", "/2015-03-31/functions"):
        status, _, body, _ = http("GET", plane.admin_url + path)
        assert status == 200
        assert b'"stageway"' not in body and b"codeDirectory" not in body

    got = plane.lam.get_function(FunctionName="echo")
    assert got["Configuration"]["RevisionId"] == created["RevisionId"]
    assert got["Tags"] == {"team": "gateway"}
    assert got["Code"]["RepositoryType"] == "S3"
    status, headers, archive, _ = http("GET", got["Code"]["Location"])
    assert status == 200 and headers["content-type"] == "application/zip"
    assert zipfile.ZipFile(io.BytesIO(archive)).read("app.py").decode() == zipfile.ZipFile(
        io.BytesIO(package)
    ).read("app.py").decode()
    assert plane.lam.get_function_configuration(FunctionName="echo")["CodeSha256"] == created["CodeSha256"]


def test_invoke_request_response_returns_the_functions_result(plane: Plane) -> None:
    plane.create("echo-invoke", Environment={"Variables": {"GREETING": "hi"}}, MemorySize=256)
    response, result = plane.invoke("echo-invoke", {"a": 1})
    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in response
    assert result["event"] == {"a": 1}
    assert (result["env"], result["function"], result["memory"]) == ("hi", "echo-invoke", "256")
    assert 0 < result["remaining_ms"] <= 3000
    # By ARN and with the $LATEST qualifier, as Lambda accepts.
    assert plane.invoke(ARN_PREFIX + "echo-invoke", {"b": 2})[1]["event"] == {"b": 2}
    assert plane.invoke("echo-invoke", {"c": 3}, Qualifier="$LATEST")[1]["event"] == {"c": 3}


def test_a_failing_function_is_a_function_error_not_an_api_error(plane: Plane) -> None:
    plane.create("fails", FAILS)
    response, result = plane.invoke("fails")
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert result["errorType"] == "ValueError" and result["errorMessage"] == "boom"


def test_tail_returns_the_end_of_the_log(plane: Plane) -> None:
    plane.create("logs")
    response, _ = plane.invoke("logs", {"marker": "tail-me"}, LogType="Tail")
    log = base64.b64decode(response["LogResult"]).decode()
    assert 'event: {"marker": "tail-me"}' in log
    assert re.search(r"^START RequestId: \S+ Version: \$LATEST$", log, re.MULTILINE)
    assert re.search(r"^END RequestId: ", log, re.MULTILINE) and re.search(r"^REPORT RequestId: ", log, re.MULTILINE)
    assert response["ResponseMetadata"]["RequestId"] in log
    assert "LogResult" not in plane.invoke("logs")[0]


def test_event_invocation_answers_202_and_runs_in_the_background(plane: Plane, tmp_path: Path) -> None:
    plane.create("background", WRITES_FILE)
    marker = tmp_path / "ran.txt"
    started = time.monotonic()
    response = plane.lam.invoke(
        FunctionName="background", InvocationType="Event", Payload=json.dumps({"path": str(marker)}).encode()
    )
    assert response["StatusCode"] == 202
    assert response["Payload"].read() == b""
    deadline = time.monotonic() + 15
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.read_text() == "ran"
    assert time.monotonic() - started >= 0.2


def test_dry_run_checks_the_function_and_runs_nothing(plane: Plane) -> None:
    plane.create("dry")
    response = plane.lam.invoke(FunctionName="dry", InvocationType="DryRun")
    assert response["StatusCode"] == 204
    code, _message, status = _error(lambda: plane.lam.invoke(FunctionName="no-such", InvocationType="DryRun"))
    assert (code, status) == ("ResourceNotFoundException", 404)


def test_update_code_serves_the_new_code_at_once_and_cleans_old_code_up(plane: Plane) -> None:
    created = plane.create("versioned", "def handler(event, context):\n    return 'v1'\n")
    assert plane.invoke("versioned")[1] == "v1"
    revisions = []
    for version in ("v2", "v3", "v4"):
        package = handler_zip(f"def handler(event, context):\n    return {version!r}\n")
        updated = plane.lam.update_function_code(FunctionName="versioned", ZipFile=package)
        assert updated["CodeSha256"] == base64.b64encode(hashlib.sha256(package).digest()).decode()
        revisions.append(updated["RevisionId"])
        assert plane.invoke("versioned")[1] == version
    assert created["RevisionId"] not in revisions and len(set(revisions)) == 3
    # The code in use and at most the one before it (kept while invocations may still run in it).
    assert 1 <= len(list((plane.root / "functions" / "versioned").iterdir())) <= 2

    stale = _error(lambda: plane.lam.update_function_code(
        FunctionName="versioned", ZipFile=handler_zip("x = 1"), RevisionId=created["RevisionId"]
    ))
    assert stale[0] == "PreconditionFailedException" and stale[2] == 412


def test_update_configuration(plane: Plane) -> None:
    plane.create("configured", TWO_HANDLERS, Handler="app.first")
    assert plane.invoke("configured")[1] == "first"
    updated = plane.lam.update_function_configuration(
        FunctionName="configured",
        Handler="app.second",
        Timeout=10,
        MemorySize=512,
        Description="now second",
        Environment={"Variables": {"MODE": "x"}},
        Runtime="python3.12",
    )
    assert (updated["Handler"], updated["Timeout"], updated["MemorySize"]) == ("app.second", 10, 512)
    assert (updated["Description"], updated["Runtime"]) == ("now second", "python3.12")
    assert updated["Environment"] == {"Variables": {"MODE": "x"}}
    assert plane.invoke("configured")[1] == "second"
    assert plane.lam.get_function_configuration(FunctionName="configured")["Timeout"] == 10


def test_list_functions_paginates(plane: Plane) -> None:
    names = {f"page-{i}" for i in range(5)}
    for name in sorted(names):
        plane.create(name)
    first = plane.lam.list_functions(MaxItems=2)
    assert len(first["Functions"]) == 2 and "NextMarker" in first
    listed = [
        function["FunctionName"]
        for page in plane.lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 2})
        for function in page["Functions"]
    ]
    assert names <= set(listed)
    assert len(listed) == len(set(listed))
    assert _error(lambda: plane.lam.list_functions(Marker="garbage!"))[0] == "InvalidParameterValueException"


def test_permissions_round_trip(plane: Plane) -> None:
    plane.create("guarded")
    added = plane.lam.add_permission(
        FunctionName="guarded",
        StatementId="apigw",
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=f"arn:aws:execute-api:{REGION}:{ACCOUNT}:abc123/*",
    )
    assert added["ResponseMetadata"]["HTTPStatusCode"] == 201
    statement = json.loads(added["Statement"])
    assert statement == {
        "Sid": "apigw",
        "Effect": "Allow",
        "Principal": {"Service": "apigateway.amazonaws.com"},
        "Action": "lambda:InvokeFunction",
        "Resource": ARN_PREFIX + "guarded",
        "Condition": {"ArnLike": {"AWS:SourceArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:abc123/*"}},
    }
    plane.lam.add_permission(FunctionName="guarded", StatementId="acct", Action="lambda:*", Principal=ACCOUNT)
    policy = json.loads(plane.lam.get_policy(FunctionName="guarded")["Policy"])
    assert (policy["Version"], policy["Id"]) == ("2012-10-17", "default")
    assert [s["Sid"] for s in policy["Statement"]] == ["apigw", "acct"]
    assert policy["Statement"][1]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}

    duplicate = _error(lambda: plane.lam.add_permission(
        FunctionName="guarded", StatementId="apigw", Action="lambda:InvokeFunction", Principal="*"
    ))
    assert duplicate[0] == "ResourceConflictException" and duplicate[2] == 409
    assert "The statement id (apigw) provided already exists" in duplicate[1]

    plane.lam.remove_permission(FunctionName="guarded", StatementId="apigw")
    plane.lam.remove_permission(FunctionName="guarded", StatementId="acct")
    assert _error(lambda: plane.lam.get_policy(FunctionName="guarded"))[:2] == (
        "ResourceNotFoundException", "The resource you requested does not exist."
    )
    assert _error(lambda: plane.lam.remove_permission(FunctionName="guarded", StatementId="gone"))[:2] == (
        "ResourceNotFoundException", "Statement gone is not found in resource policy."
    )


def test_reserved_concurrency_and_tags(plane: Plane) -> None:
    plane.create("limited")
    assert plane.lam.get_function_concurrency(FunctionName="limited").get("ReservedConcurrentExecutions") is None
    plane.lam.put_function_concurrency(FunctionName="limited", ReservedConcurrentExecutions=2)
    assert plane.lam.get_function_concurrency(FunctionName="limited")["ReservedConcurrentExecutions"] == 2
    assert plane.lam.get_function(FunctionName="limited")["Concurrency"] == {"ReservedConcurrentExecutions": 2}
    assert plane.invoke("limited", {"still": "runs"})[1]["event"] == {"still": "runs"}
    plane.lam.delete_function_concurrency(FunctionName="limited")
    assert "ReservedConcurrentExecutions" not in plane.lam.get_function_concurrency(FunctionName="limited")

    arn = ARN_PREFIX + "limited"
    plane.lam.tag_resource(Resource=arn, Tags={"a": "1", "b": "2"})
    plane.lam.untag_resource(Resource=arn, TagKeys=["a"])
    assert plane.lam.list_tags(Resource=arn)["Tags"] == {"b": "2"}


def test_delete_function(plane: Plane) -> None:
    plane.create("doomed")
    assert (plane.root / "functions" / "doomed").is_dir()
    response = plane.lam.delete_function(FunctionName="doomed")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    message = f"Function not found: {ARN_PREFIX}doomed"
    assert _error(lambda: plane.lam.get_function(FunctionName="doomed")) == (
        "ResourceNotFoundException", message, 404
    )
    assert _error(lambda: plane.invoke("doomed")) == ("ResourceNotFoundException", message, 404)
    assert _error(lambda: plane.lam.delete_function(FunctionName="doomed"))[0] == "ResourceNotFoundException"
    assert not (plane.root / "functions" / "doomed").exists()


def test_unknown_function_and_qualifier(plane: Plane) -> None:
    assert _error(lambda: plane.invoke("never-made")) == (
        "ResourceNotFoundException", f"Function not found: {ARN_PREFIX}never-made", 404
    )
    plane.create("qualified")
    assert _error(lambda: plane.invoke("qualified", Qualifier="7"))[:2] == (
        "ResourceNotFoundException", f"Function not found: {ARN_PREFIX}qualified:7"
    )


def test_invalid_payload_is_refused(plane: Plane) -> None:
    plane.create("strict")
    code, message, status = _error(lambda: plane.lam.invoke(FunctionName="strict", Payload=b"{not json"))
    assert (code, status) == ("InvalidRequestContentException", 400)
    assert message.startswith("Could not parse request body into json")


BAD_CREATES: dict[str, tuple[dict[str, Any], str, str]] = {
    "other runtime": (
        {"Runtime": "nodejs20.x"},
        "InvalidParameterValueException",
        "The runtime parameter of nodejs20.x is no longer supported for creating or updating AWS Lambda functions.",
    ),
    "timeout over 900": (
        {"Timeout": 901},
        "ValidationException",
        ("1 validation error detected: Value '901' at 'timeout' failed to satisfy constraint: "
        "Member must have value less than or equal to 900"),
    ),
    "memory over 10240": ({"MemorySize": 20000}, "ValidationException", "1 validation error detected: Value '20000'"),
    "role not an ARN": ({"Role": "lambda-role"}, "ValidationException", "1 validation error detected: Value 'lambda-role' at 'role'"),
    "bad name": ({"FunctionName": "bad name!"}, "ValidationException", "1 validation error detected: Value 'bad name!' at 'functionName'"),
    "no handler": ({"Handler": None}, "InvalidParameterValueException", "Runtime and Handler are mandatory parameters"),
    "not a zip": ({"Code": {"ZipFile": b"not a zip"}}, "InvalidParameterValueException", "Could not unzip uploaded file."),
    "path traversal": (
        {"Code": {"ZipFile": zip_of({"app.py": "x = 1", "../../escaped.py": "x = 1"})}},
        "InvalidParameterValueException",
        "Could not unzip uploaded file.",
    ),
    "absolute path": (
        {"Code": {"ZipFile": zip_of({"/tmp/stageway-absolute-escape.py": "x = 1"})}},
        "InvalidParameterValueException",
        "Could not unzip uploaded file.",
    ),
    "symlink out": (
        {"Code": {"ZipFile": zip_of({"app.py": "x = 1"}, symlinks={"link": "../../.."})}},
        "InvalidParameterValueException",
        "Could not unzip uploaded file.",
    ),
    "reserved environment variable": (
        {"Environment": {"Variables": {"AWS_REGION": "eu-west-1"}}},
        "InvalidParameterValueException",
        ("Lambda was unable to configure your environment variables because the environment variables you have "
        "provided contains reserved keys"),
    ),
}


@pytest.mark.parametrize("case", BAD_CREATES)
def test_bad_create_function_input(plane: Plane, case: str) -> None:
    overrides, expected_code, expected_message = BAD_CREATES[case]
    params: dict[str, Any] = {
        "FunctionName": "bad-" + case.replace(" ", "-"),
        "Runtime": "python3.11",
        "Role": ROLE,
        "Handler": "app.handler",
        "Code": {"ZipFile": handler_zip(ECHO)},
    }
    params.update(overrides)
    params = {key: value for key, value in params.items() if value is not None}
    code, message, status = _error(lambda: plane.lam.create_function(**params))
    assert (code, status) == (expected_code, 400)
    assert message.startswith(expected_message)
    assert not list(plane.root.glob("**/escaped.py")) and not os.path.exists("/tmp/stageway-absolute-escape.py")
    assert not (plane.root / "functions" / params["FunctionName"]).exists()


def test_role_is_required_and_names_are_unique(plane: Plane) -> None:
    body = json.dumps({"FunctionName": "no-role", "Runtime": "python3.11", "Handler": "app.handler",
                       "Code": {"ZipFile": base64.b64encode(handler_zip(ECHO)).decode()}}).encode()
    status, headers, answer, _ = http("POST", plane.admin_url + "/2015-03-31/functions", body=body,
                                      headers={"content-type": "application/json"})
    assert (status, headers["x-amzn-errortype"]) == (400, "ValidationException")
    assert json.loads(answer)["message"] == (
        "1 validation error detected: Value null at 'role' failed to satisfy constraint: Member must not be null"
    )
    plane.create("unique")
    assert _error(lambda: plane.create("unique")) == (
        "ResourceConflictException", "Function already exist: unique", 409
    )


def test_a_function_made_through_the_api_serves_http_apis(plane: Plane) -> None:
    plane.create("behind-api")
    apigw = plane.client("apigatewayv2")
    api = apigw.create_api(Name="fn-api", ProtocolType="HTTP", Target=ARN_PREFIX + "behind-api")
    host = f"{api['ApiId']}.execute-api.localhost"
    deadline = time.monotonic() + 10
    while True:
        status, _, body, _ = http("GET", f"{plane.server.url}/hello?x=1", headers={"Host": host})
        if status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert status == 200, body
    event = json.loads(body)["event"]
    assert (event["rawPath"], event["rawQueryString"], event["version"]) == ("/hello", "x=1", "2.0")


def test_aws_cli_invoke(plane: Plane, tmp_path: Path) -> None:
    pytest.importorskip("awscli")
    plane.create("cli-echo")
    out = tmp_path / "out.json"
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret",
           "AWS_DEFAULT_REGION": REGION, "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    result = subprocess.run(
        [sys.executable, "-m", "awscli", "lambda", "invoke", "--function-name", "cli-echo",
         "--payload", '{"from": "cli"}',
         "--endpoint-url", plane.admin_url, str(out)],
        check=False, capture_output=True, text=True, env=env, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["StatusCode"] == 200
    assert json.loads(out.read_text())["event"] == {"from": "cli"}
