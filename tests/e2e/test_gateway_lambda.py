"""`stageway serve` end to end, AWS_PROXY side: events as AWS builds them, responses as AWS reads them, and
every way a function can fail, through a real server and real worker processes."""

from __future__ import annotations

import base64
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.stageway_server import StagewayServer, http

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "gateway_functions"

HANDLERS = ["echo_event", "inferred", "plain_string", "with_cookies", "binary", "v1_multi", "raises", "garbage",
            "sleeps", "exits", "prints", "pid"]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StagewayServer]:
    folder = tmp_path_factory.mktemp("lambda")
    shutil.copytree(FIXTURES, folder / "code")
    functions = "".join(
        f"""
  {name.replace('_', '-')}:
    runtime: python3.11
    handler: handlers.{name}
    code: code
    timeout: {1 if name == 'sleeps' else 3}
    environment: {{STAGE_NOTE: testing}}"""
        for name in HANDLERS
    )
    integrations = "".join(
        f"""
      {name.replace('_', '-')}:
        integrationType: AWS_PROXY
        integrationUri: {name.replace('_', '-')}
        payloadFormatVersion: "2.0\""""
        for name in HANDLERS
    )
    routes = "".join(f"\n      ANY /{name.replace('_', '-')}: {name.replace('_', '-')}" for name in HANDLERS)
    (folder / "api.yaml").write_text(
        f"""
accountId: "111122223333"
functions:{functions}
apis:
  lambdas:
    id: lambdas001
    integrations:{integrations}
      echo-v1:
        integrationType: AWS_PROXY
        integrationUri: arn:aws:lambda:us-east-1:111122223333:function:echo-event
        payloadFormatVersion: "1.0"
      v1-multi-v1:
        integrationType: AWS_PROXY
        integrationUri: v1-multi
        payloadFormatVersion: "1.0"
      sleeps-short:
        integrationType: AWS_PROXY
        integrationUri: sleeps
        timeoutInMillis: 300
    routes:{routes}
      GET /items/{{itemId}}: echo-event
      GET /v1/items/{{itemId}}: echo-v1
      GET /v1/multi/{{x}}: v1-multi-v1
      GET /short: sleeps-short
    stages:
      $default: {{autoDeploy: true, stageVariables: {{color: blue}}}}
      prod: {{autoDeploy: true}}
"""
    )
    with StagewayServer(folder / "api.yaml", args=("--no-admin",)) as server:
        server.folder = folder  # type: ignore[attr-defined]
        yield server


def test_payload_2_0_event_has_every_field(gateway: StagewayServer) -> None:
    status, headers, body, _ = http(
        "POST",
        gateway.url + "/prod/items/John%20Doe?tag=a%20b&tag=c&solo",
        body=b'{"quantity": 3}',
        headers={"Content-Type": "application/json", "Cookie": "session=abc123; theme=dark", "X-Multi": "1",
                 "User-Agent": "e2e-test"},
    )
    # Only `GET /items/{itemId}` has this path and there is no $default route: AWS answers 404, never 405.
    assert status == 404
    status, headers, body, _ = http(
        "GET",
        gateway.url + "/prod/items/John%20Doe?tag=a%20b&tag=c&solo",
        headers={"Content-Type": "application/json", "Cookie": "session=abc123; theme=dark", "User-Agent": "e2e-test"},
    )
    assert status == 200
    event = json.loads(body)
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /items/{itemId}"
    assert event["rawPath"] == "/prod/items/John Doe"
    assert event["rawQueryString"] == "tag=a%20b&tag=c&solo"
    assert event["cookies"] == ["session=abc123", "theme=dark"]
    assert "cookie" not in event["headers"]
    assert event["headers"]["user-agent"] == "e2e-test"
    assert event["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert event["queryStringParameters"] == {"tag": "a b,c", "solo": ""}
    assert event["pathParameters"] == {"itemId": "John Doe"}
    assert "stageVariables" not in event  # stage prod has none
    context = event["requestContext"]
    assert context["accountId"] == "111122223333"
    assert context["apiId"] == "lambdas001"
    assert context["stage"] == "prod"
    assert context["routeKey"] == "GET /items/{itemId}"
    assert context["http"] == {
        "method": "GET", "path": "/prod/items/John Doe", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
        "userAgent": "e2e-test",
    }
    assert context["requestId"] == headers["apigw-requestid"]
    assert abs(context["timeEpoch"] - time.time() * 1000) < 60_000
    assert context["time"].endswith(" +0000")
    assert "body" not in event


def test_payload_2_0_stage_variables_and_base64_body(gateway: StagewayServer) -> None:
    _status, _, body, _ = http("POST", gateway.url + "/echo-event", body=b"\x00\x01binary")
    event = json.loads(body)
    assert event["stageVariables"] == {"color": "blue"}
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\x00\x01binary"
    assert event["rawPath"] == "/echo-event"
    assert event["requestContext"]["stage"] == "$default"


def test_payload_1_0_event(gateway: StagewayServer) -> None:
    _status, _, body, _ = http("GET", gateway.url + "/v1/items/John%20Doe?tag=x&tag=y")
    event = json.loads(body)
    assert event["version"] == "1.0"
    assert event["resource"] == "/v1/items/{itemId}"
    assert event["path"] == "/v1/items/John%20Doe"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"itemId": "John Doe"}
    assert event["multiValueQueryStringParameters"] == {"tag": ["x", "y"]}
    assert event["queryStringParameters"] == {"tag": "y"}
    assert event["body"] is None
    assert event["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"


def test_payload_2_0_responses(gateway: StagewayServer) -> None:
    status, headers, body, _ = http("GET", gateway.url + "/inferred")
    assert (status, headers["content-type"], json.loads(body)) == (200, "application/json", {"hello": "world", "n": 1})
    status, headers, body, _ = http("GET", gateway.url + "/plain-string")
    assert (status, body) == (200, b"Hello")
    status, headers, body, pairs = http("GET", gateway.url + "/with-cookies")
    assert status == 201 and body == b"created"
    assert headers["content-type"] == "text/plain; charset=utf-8"
    assert headers["x-custom"] == "a,b"
    assert [value for name, value in pairs if name == "set-cookie"] == ["a=1; Path=/", "b=2"]
    status, headers, body, _ = http("GET", gateway.url + "/binary")
    assert status == 200 and body == bytes(range(256))


def test_payload_1_0_multi_value_headers(gateway: StagewayServer) -> None:
    status, _, body, pairs = http("GET", gateway.url + "/v1/multi/q")
    assert status == 200
    assert [value for name, value in pairs if name == "x-multi"] == ["a", "b"]
    assert json.loads(body) == {"resource": "/v1/multi/{x}", "path": "/v1/multi/q"}


@pytest.mark.parametrize(
    ("path", "status", "body"),
    [
        ("/raises", 500, b'{"message":"Internal Server Error"}'),
        ("/garbage", 500, b'{"message":"Internal Server Error"}'),
        ("/sleeps?s=5", 500, b'{"message":"Internal Server Error"}'),  # the function's own 1 s timeout
        ("/exits", 500, b'{"message":"Internal Server Error"}'),
        ("/short?s=2", 503, b'{"message":"Service Unavailable"}'),  # the integration's 300 ms timeout
    ],
)
def test_function_failures_get_aws_answers(gateway: StagewayServer, path: str, status: int, body: bytes) -> None:
    got_status, headers, got_body, _ = http("GET", gateway.url + path)
    assert (got_status, got_body) == (status, body)
    assert headers["content-type"] == "application/json"
    # The gateway and the function both survive: the next call works.
    assert http("GET", gateway.url + "/inferred")[0] == 200


def test_function_output_is_logged_with_the_request_id(gateway: StagewayServer) -> None:
    _status, _, body, _ = http("GET", gateway.url + "/prints")
    lambda_request_id = body.decode()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = [line for line in gateway.log().splitlines() if f"log line from {lambda_request_id}" in line]
        if lines:
            break
        time.sleep(0.1)
    assert lines and lambda_request_id in lines[0].split("log line from")[0]


def test_warm_workers_are_reused(gateway: StagewayServer) -> None:
    pids = {http("GET", gateway.url + "/pid")[2] for _ in range(5)}
    assert len(pids) == 1


def test_editing_the_code_takes_effect_without_restart(gateway: StagewayServer) -> None:
    code = gateway.folder / "code" / "handlers.py"  # type: ignore[attr-defined]
    assert http("GET", gateway.url + "/plain-string")[2] == b"Hello"
    code.write_text(code.read_text().replace('return "Hello"', 'return "Hello again"'))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and http("GET", gateway.url + "/plain-string")[2] != b"Hello again":
        time.sleep(0.2)
    assert http("GET", gateway.url + "/plain-string")[2] == b"Hello again"


def test_stopping_the_server_leaves_no_worker_running(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES, tmp_path / "code")
    (tmp_path / "api.yaml").write_text(
        """
functions:
  pid: {runtime: python3.11, handler: handlers.pid, code: code}
apis:
  one:
    routes:
      GET /pid: {integration: {integrationType: AWS_PROXY, integrationUri: pid}}
"""
    )
    server = StagewayServer(tmp_path / "api.yaml", args=("--no-admin",)).start()
    try:
        worker_pid = int(http("GET", server.url + "/pid")[2])
        assert Path(f"/proc/{worker_pid}").exists()
    finally:  # a failed check must not leave the server running after the test
        code = server.stop()
    assert code == 0
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(worker_pid):
        time.sleep(0.05)
    assert not _alive(worker_pid)


def _alive(pid: int) -> bool:
    """Running, not merely a zombie waiting to be reaped by an init that does not reap."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"
