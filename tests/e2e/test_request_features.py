"""Issue 4's request and response features through a real `stageway serve`: CORS, parameter mapping, stage
variables, throttling and stage access logs, each configured in the YAML file."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.client import HTTPConnection

import pytest

from tests.support.backend import BackendServer, start_backend
from tests.support.stageway_server import StagewayServer, http

RATE, BURST = 20, 10


@pytest.fixture(scope="module")
def backend() -> Iterator[BackendServer]:
    with start_backend() as server:
        yield server


@pytest.fixture(scope="module")
def gateway(backend: BackendServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StagewayServer]:
    folder = tmp_path_factory.mktemp("features")
    host = backend.url.removeprefix("http://")
    (folder / "api.yaml").write_text(
        f"""
apis:
  features:
    id: features01
    corsConfiguration:
      allowOrigins: ["https://app.example.com"]
      allowMethods: [GET, PUT]
      allowHeaders: [x-token]
      exposeHeaders: [x-total]
      maxAge: 300
      allowCredentials: true
    integrations:
      echo:
        integrationType: HTTP_PROXY
        integrationUri: http://${{stageVariables.backend}}/echo/base
        requestParameters:
          append:header.x-request-id: $context.requestId
          overwrite:header.x-stage: "stage-${{stageVariables.color}}"
          remove:header.x-secret: "''"
          overwrite:querystring.limit: "10"
          append:querystring.user: $request.header.x-user
        responseParameters:
          "200":
            append:header.x-mapped: "stage ${{context.stage}} saw $response.header.content-type"
            remove:header.x-backend-only: "''"
      path-rewrite:
        integrationType: HTTP_PROXY
        integrationUri: {backend.url}/ignored
        requestParameters:
          overwrite:path: /echo/rewritten/$request.path.id
      status:
        integrationType: HTTP_PROXY
        integrationUri: {backend.url}/test/status/404
        responseParameters:
          "404":
            overwrite:statuscode: "403"
      cors-backend:
        integrationType: HTTP_PROXY
        integrationUri: {backend.url}/echo/cors
    routes:
      GET /items/{{id}}: echo
      GET /rewrite/{{id}}: path-rewrite
      GET /status: status
      GET /limited: cors-backend
      GET /open: cors-backend
    stages:
      $default:
        autoDeploy: true
        stageVariables: {{backend: "{host}", color: blue}}
        routeSettings:
          GET /limited: {{throttlingRateLimit: {RATE}, throttlingBurstLimit: {BURST}}}
        accessLogSettings:
          destinationArn: arn:aws:logs:us-east-1:123456789012:log-group:/stageway/features
          format: '{{"requestId":"$context.requestId","route":"$context.routeKey","status":"$context.status","ip":"$context.identity.sourceIp","integrationStatus":"$context.integrationStatus","unknown":"$context.nope"}}'
"""
    )
    server = StagewayServer(folder / "api.yaml", args=("--no-admin", "--log-dir", str(folder / "logs")))
    with server:
        server.folder = folder  # type: ignore[attr-defined]
        yield server


def test_preflight_is_answered_without_an_options_route(gateway: StagewayServer) -> None:
    status, headers, body, _ = http(
        "OPTIONS",
        gateway.url + "/items/1",
        headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "PUT",
                 "Access-Control-Request-Headers": "x-token"},
    )
    assert status == 204 and body == b""
    assert headers["access-control-allow-origin"] == "https://app.example.com"
    assert "PUT" in headers["access-control-allow-methods"]
    assert headers["access-control-allow-headers"] == "x-token"
    assert headers["access-control-max-age"] == "300"
    assert headers["access-control-allow-credentials"] == "true"
    # A preflight from an origin that is not allowed gets no CORS headers (and no 403).
    status, headers, _, _ = http(
        "OPTIONS", gateway.url + "/items/1",
        headers={"Origin": "https://evil.example.com", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in headers


def test_cors_headers_replace_the_backends(gateway: StagewayServer) -> None:
    status, headers, _, _ = http("GET", gateway.url + "/open", headers={"Origin": "https://app.example.com"})
    assert status == 200
    assert headers["access-control-allow-origin"] == "https://app.example.com"
    assert headers["access-control-expose-headers"] == "x-total"
    status, headers, _, _ = http("GET", gateway.url + "/open")
    assert "access-control-allow-origin" not in headers  # not a CORS request


def test_request_and_response_parameter_mapping(gateway: StagewayServer) -> None:
    status, headers, body, _ = http(
        "GET", gateway.url + "/items/42?limit=500&keep=1",
        headers={"X-Secret": "hidden", "X-User": "ana", "X-Backend-Only": "client"},
    )
    assert status == 200
    echoed = json.loads(body)
    sent = {name.lower(): value for name, value in echoed["headers"].items()}
    assert sent["x-request-id"] == headers["apigw-requestid"]
    assert sent["x-stage"] == "stage-blue"  # stage variables inside a mapping value
    assert "x-secret" not in sent
    assert echoed["path"] == "/echo/base"  # the host came from ${stageVariables.backend}
    query = dict(pair.split("=", 1) for pair in echoed["query"].split("&"))
    assert query == {"limit": "10", "keep": "1", "user": "ana"}
    assert headers["x-mapped"] == "stage $default saw application/json"


def test_overwrite_path_and_status_code(gateway: StagewayServer) -> None:
    status, _, body, _ = http("GET", gateway.url + "/rewrite/7")
    assert status == 200 and json.loads(body)["path"] == "/echo/rewritten/7"
    status, _, _, _ = http("GET", gateway.url + "/status")
    assert status == 403


def test_throttling_admits_rate_times_time_plus_burst(gateway: StagewayServer) -> None:
    """A real load for a few seconds: the admitted count stays within 10% of rate × time + burst."""
    duration = 3.0
    admitted = 0
    throttled_body = b""
    lock = threading.Lock()
    deadline = time.monotonic() + duration
    started = time.monotonic()

    def hammer() -> None:
        nonlocal admitted, throttled_body
        connection = HTTPConnection("127.0.0.1", gateway.port, timeout=10)
        while time.monotonic() < deadline:
            connection.request("GET", "/limited")
            response = connection.getresponse()
            body = response.read()
            with lock:
                if response.status == 200:
                    admitted += 1
                elif response.status == 429:
                    throttled_body = body
        connection.close()

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    expected = RATE * elapsed + BURST
    assert abs(admitted - expected) <= 0.1 * expected, (admitted, expected)
    assert throttled_body == b'{"message":"Too Many Requests"}'
    # Other routes have no route-level limit.
    assert http("GET", gateway.url + "/open")[0] == 200


def test_stage_access_log_uses_the_stage_format(gateway: StagewayServer) -> None:
    _status, headers, _, _ = http("GET", gateway.url + "/open")
    request_id = headers["apigw-requestid"]
    log_file = gateway.folder / "logs" / "stageway_features.log"  # type: ignore[attr-defined]
    deadline = time.monotonic() + 5
    entries: list[dict[str, str]] = []
    while time.monotonic() < deadline and not entries:
        if log_file.exists():
            entries = [json.loads(line) for line in log_file.read_text().splitlines() if request_id in line]
        time.sleep(0.1)
    assert entries == [
        {"requestId": request_id, "route": "GET /open", "status": "200", "ip": "127.0.0.1",
         "integrationStatus": "200", "unknown": "-"}
    ]
