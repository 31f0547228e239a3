"""The Lambda lane (server/lambda_lane.py) answers exactly as the pipeline does.

Two real `stageway serve` processes on one API file, one with the lane (the default) and one with
`--no-lambda-lane`, get the same requests over keep-alive connections. The event each function receives
(echoed back by `echo_event`) and what each client receives must be the same, key order included, apart
from what is meant to differ (request and trace ids, times, the listener's own port in `x-forwarded-port`);
stage access-log lines and metrics too. `stageway_lambda_lane_requests` shows which requests the lane took,
so a test cannot pass by both servers taking the pipeline.
"""

from __future__ import annotations

import http.client
import json
import re
import shutil
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.jwks_server import JwksServer
from tests.support.lane_pair import (
    Answer,
    BrokenOnce,
    Pair,
    Request,
    both,
    in_process_server,
    metric,
    request_series,
    send,
    serve_pair,
)
from tests.support.stageway_server import StagewayServer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "gateway_functions"
JWT_AUDIENCE = "lambda-lane-client"
JWT_HOST = ("Host", "guarded001.execute-api.localhost")
HANDLERS = ["echo_event", "inferred", "plain_string", "with_cookies", "binary", "raises", "garbage", "sleeps", "exits"]

# `$context` variables a stage access-log line can hold for a Lambda route (spec §10).
STAGE_LOG_FORMAT = (
    '{"requestId":"$context.requestId","httpMethod":"$context.httpMethod","path":"$context.path",'
    '"protocol":"$context.protocol","routeKey":"$context.routeKey","stage":"$context.stage",'
    '"domainName":"$context.domainName","sourceIp":"$context.identity.sourceIp",'
    '"userAgent":"$context.identity.userAgent","status":"$context.status","responseLength":"$context.responseLength",'
    '"dataProcessed":"$context.dataProcessed","integrationStatus":"$context.integrationStatus",'
    '"integration.status":"$context.integration.status","integration.requestId":"$context.integration.requestId",'
    '"awsEndpointRequestId":"$context.awsEndpointRequestId","error":"$context.error.message",'
    '"integrationError":"$context.integrationErrorMessage","requestTimeEpoch":"$context.requestTimeEpoch",'
    '"integrationLatency":"$context.integrationLatency","responseLatency":"$context.responseLatency"}'
)
VARYING_LOG_KEYS = ("requestId", "integration.requestId", "awsEndpointRequestId", "requestTimeEpoch",
                    "integrationLatency", "responseLatency")


@pytest.fixture(scope="module")
def servers(issuer: JwksServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    folder = tmp_path_factory.mktemp("lambda-lane")
    shutil.copytree(FIXTURES, folder / "code")
    functions = "".join(
        f"""
  {name.replace('_', '-')}: {{runtime: python3.11, handler: handlers.{name}, code: code, timeout: 3}}"""
        for name in HANDLERS
    )
    integrations = "".join(
        f"""
      {name.replace('_', '-')}: {{integrationType: AWS_PROXY, integrationUri: {name.replace('_', '-')}, payloadFormatVersion: "2.0"}}"""
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
      by-stage: {{integrationType: AWS_PROXY, integrationUri: "arn:aws:lambda:us-east-1:111122223333:function:${{stageVariables.fn}}", payloadFormatVersion: "2.0"}}
      v1: {{integrationType: AWS_PROXY, integrationUri: echo-event, payloadFormatVersion: "1.0"}}
      v1-inferred: {{integrationType: AWS_PROXY, integrationUri: inferred, payloadFormatVersion: "1.0"}}
      v1-cookies: {{integrationType: AWS_PROXY, integrationUri: with-cookies, payloadFormatVersion: "1.0"}}
      v1-raises: {{integrationType: AWS_PROXY, integrationUri: raises, payloadFormatVersion: "1.0"}}
      mapped:
        integrationType: AWS_PROXY
        integrationUri: echo-event
        payloadFormatVersion: "2.0"
        requestParameters: {{"overwrite:querystring.mapped": "yes"}}
      short: {{integrationType: AWS_PROXY, integrationUri: sleeps, payloadFormatVersion: "2.0", timeoutInMillis: 300}}
      elsewhere: {{integrationType: AWS_PROXY, integrationUri: "arn:aws:lambda:us-east-1:111122223333:function:not-defined-here", payloadFormatVersion: "2.0"}}
    routes:{routes}
      GET /items/{{itemId}}: echo-event
      GET /files/{{path+}}: echo-event
      GET /by-stage: by-stage
      GET /v1: v1
      ANY /v1/items/{{itemId}}: v1
      GET /v1/files/{{path+}}: v1
      GET /v1/inferred: v1-inferred
      GET /v1/cookies: v1-cookies
      GET /v1/raises: v1-raises
      GET /mapped: mapped
      GET /short: short
      GET /elsewhere: elsewhere
      GET /limited: echo-event
    stages:
      $default:
        autoDeploy: true
        stageVariables: {{fn: echo-event, color: blue}}
        routeSettings:
          GET /limited: {{throttlingRateLimit: 0.01, throttlingBurstLimit: 1}}
      prod:
        autoDeploy: true
        stageVariables: {{fn: inferred}}
        accessLogSettings: {{destinationArn: stdout, format: '{STAGE_LOG_FORMAT}'}}
  corsy:
    id: corsy00001
    corsConfiguration:
      allowOrigins: ["https://example.com"]
      allowMethods: [GET, POST]
      exposeHeaders: [x-custom]
      allowCredentials: true
    integrations:
      echo: {{integrationType: AWS_PROXY, integrationUri: echo-event, payloadFormatVersion: "2.0"}}
      with-cookies: {{integrationType: AWS_PROXY, integrationUri: with-cookies, payloadFormatVersion: "2.0"}}
    routes:
      GET /echo: echo
      GET /with-cookies: with-cookies
    stages:
      $default: {{autoDeploy: true}}
  guarded:
    id: guarded001
    integrations:
      echo: {{integrationType: AWS_PROXY, integrationUri: echo-event, payloadFormatVersion: "2.0"}}
      echo-v1: {{integrationType: AWS_PROXY, integrationUri: echo-event, payloadFormatVersion: "1.0"}}
    authorizers:
      issuer:
        authorizerType: JWT
        jwtConfiguration: {{issuer: "{issuer.issuer}", audience: [{JWT_AUDIENCE}]}}
    routes:
      GET /jwt/{{item}}: {{integration: echo, authorizer: issuer}}
      GET /jwt-v1/{{item}}: {{integration: echo-v1, authorizer: issuer}}
      POST /scoped: {{integration: echo, authorizer: issuer, authorizationScopes: [pets/write, pets/admin]}}
    stages:
      $default: {{autoDeploy: true}}
      logged:
        autoDeploy: true
        accessLogSettings: {{destinationArn: stdout, format: '{{"requestId":"$context.requestId","sub":"$context.authorizer.claims.sub"}}'}}
"""
    )
    with serve_pair(folder / "api.yaml", "lambdas", "--no-lambda-lane") as pair:
        yield pair


def _normalized_event(event: dict[str, Any]) -> str:
    """The echoed event (either payload format) without what differs by design, as text: key order counts."""
    context = event["requestContext"]
    for key in ("requestId", "extendedRequestId", "time", "timeEpoch", "requestTime", "requestTimeEpoch"):
        if key in context:
            context[key] = "<varies>"
    for headers in (event["headers"], event.get("multiValueHeaders") or {}):
        for name, value in headers.items():
            if name == "x-forwarded-port":
                headers[name] = "<port>"
            elif name == "x-amzn-trace-id":
                headers[name] = re.sub(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24}", "<trace>", json.dumps(value))
    return json.dumps(event)


def _normalized(answer: Answer) -> Answer:
    status, reason, headers, body = answer
    kept = [(name.lower(), value) for name, value in headers if name.lower() not in ("date", "apigw-requestid")]
    if body.startswith(b'{"version": '):  # echo_event's answer: the event
        body = _normalized_event(json.loads(body)).encode()
        kept = [(name, "<length>" if name == "content-length" else value) for name, value in kept]
    return status, reason, kept, body


def _lane_count(admin_port: int) -> float:
    return metric(admin_port, "stageway_lambda_lane_requests_total")


def _assert_same(servers: Pair, requests: list[Request], *, in_lane: int) -> list[Answer]:
    before = _lane_count(servers.lane_admin)
    answers = both(servers, requests)
    for lane_answer, pipeline_answer in answers:
        assert _normalized(lane_answer) == _normalized(pipeline_answer)
    assert _lane_count(servers.lane_admin) - before == in_lane
    assert _lane_count(servers.pipeline_admin) == 0
    return [lane_answer for lane_answer, _ in answers]


def test_events_and_answers_are_the_pipelines(servers: Pair) -> None:
    browser = [
        ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64)"),
        ("Accept", "text/html,application/json;q=0.9"),
        ("Cookie", "session=abc; theme=dark"),
        ("Cookie", "third=3"),
        ("X-Custom", "one"),
        ("x-custom", "two"),
        ("X-Latin", "caf\xe9"),
    ]
    requests: list[Request] = [
        ("GET", "/echo-event", [], b""),
        ("GET", "/echo-event?tag=a%20b&tag=c&solo&plus=x+y&&empty=", browser, b""),
        ("GET", "/items/John%20Doe", [("User-Agent", "e2e")], b""),
        ("GET", "/files/a/b%2Fc/d.txt?x=1", [], b""),
        ("GET", "/prod/echo-event", [], b""),  # a named stage, with an access log
        ("GET", "/by-stage", [], b""),  # the function named by a stage variable
        ("GET", "/prod/by-stage", [], b""),  # ... another one on another stage
        ("POST", "/echo-event", [("Content-Type", "application/json")], b'{"name": "Rex"}'),
        ("PUT", "/echo-event", [("Content-Type", "application/octet-stream")], bytes(range(256))),
        ("PATCH", "/echo-event", [("Content-Type", "text/plain; charset=latin-1")], b"caf\xe9 not utf-8"),
        ("DELETE", "/echo-event", [("Content-Type", "application/x-www-form-urlencoded")], b"a=1&b=2"),
        ("GET", "/echo-event", [("Host", "lambdas001.execute-api.us-east-1.amazonaws.com:8080")], b""),
        ("GET", "/inferred", [], b""),
        ("GET", "/plain-string", [], b""),
        ("GET", "/with-cookies", [], b""),
        ("GET", "/binary", [], b""),
        ("OPTIONS", "/echo-event", [], b""),  # no CORS on this API: an OPTIONS request is a request like another
        # Payload format 1.0.
        ("GET", "/v1", [], b""),
        ("GET", "/v1/items/John%20Doe?tag=a%20b&tag=c&solo", browser, b""),
        ("POST", "/v1/items/7", [("Content-Type", "application/json")], b'{"name": "Rex"}'),
        ("PUT", "/v1/items/7", [("Content-Type", "image/png")], bytes(range(256))),
        ("GET", "/prod/v1/files/a/b%2Fc.txt", [("User-Agent", "e2e")], b""),
        ("GET", "/v1/inferred", [], b""),
        ("GET", "/v1/cookies", [], b""),
    ]
    _assert_same(servers, requests, in_lane=len(requests))


def test_failures_are_the_pipelines(servers: Pair) -> None:
    requests: list[Request] = [
        ("GET", "/raises", [], b""),  # a function error: 500
        ("GET", "/v1/raises", [], b""),  # ... with payload 1.0
        ("GET", "/garbage", [], b""),  # a malformed answer: 500
        ("GET", "/short?s=1", [], b""),  # past the integration timeout: 503
        ("PUT", "/echo-event", [], b"x" * 5_000_000),  # a 6.7 MB event: Lambda refuses it, 413
        ("GET", "/exits", [], b""),  # the worker exits mid-invocation: 500
        ("GET", "/echo-event", [], b""),  # and the next request is served by a new worker
    ]
    answers = _assert_same(servers, requests, in_lane=len(requests))
    assert [status for status, *_ in answers] == [500, 500, 500, 503, 413, 500, 200]


def test_requests_the_lane_leaves_to_the_pipeline_are_answered_alike(servers: Pair) -> None:
    requests: list[Request] = [
        ("GET", "/mapped", [], b""),  # a parameter mapping
        ("GET", "/elsewhere", [], b""),  # a function the local runtime does not have (and no remote endpoint)
        ("HEAD", "/echo-event", [], b""),
        ("GET", "/echo-event", [("X-Forwarded-For", "10.0.0.1")], b""),  # a header the gateway extends
        ("GET", "/limited", [], b""),  # takes the bucket's one token (in the lane) ...
        ("GET", "/limited", [], b""),  # ... so this one is throttled: the pipeline answers 429
    ]
    answers = _assert_same(servers, requests, in_lane=1)
    assert answers[-1][0] == 429


def test_cors_headers_are_the_pipelines(servers: Pair) -> None:
    host = [("Host", "corsy00001.execute-api.us-east-1.amazonaws.com")]
    requests: list[Request] = [
        ("GET", "/echo", [*host, ("Origin", "https://example.com")], b""),
        ("GET", "/echo", [*host, ("Origin", "https://elsewhere.com")], b""),
        ("GET", "/with-cookies", [*host, ("Origin", "https://example.com")], b""),
        ("GET", "/echo", host, b""),
    ]
    answers = _assert_same(servers, requests, in_lane=len(requests))
    assert ("access-control-allow-origin", "https://example.com") in [(n.lower(), v) for n, v in answers[0][2]]


def test_access_log_lines_are_the_pipelines(servers: Pair) -> None:
    targets = ["/echo-event?logged=1", "/raises?logged=1", "/v1/inferred?logged=1", "/short?s=1&logged=1"]
    both(servers, [("GET", target, [], b"") for target in targets])
    time.sleep(0.3)  # the access log is written in batches

    def lines(server: StagewayServer) -> list[str]:
        found = [line for line in server.log().splitlines() if "logged=1 HTTP/1.1" in line]
        # Without the time, the request id and the latency.
        return [re.sub(r"\[[^]]+\] | [A-Za-z0-9_-]{15}= | \d+\.\dms", " ", line) for line in found[-len(targets):]]

    lane_lines = lines(servers.lane)
    assert len(lane_lines) == len(targets)
    assert lane_lines == lines(servers.pipeline)


def _stage_lines(server: StagewayServer) -> list[dict[str, str]]:
    return [json.loads(line) for line in server.log().splitlines() if line.startswith('{"requestId"')]


def test_stage_access_log_lines_are_the_pipelines(servers: Pair) -> None:
    before = {id(server): len(_stage_lines(server)) for server in (servers.lane, servers.pipeline)}
    requests: list[Request] = [
        ("GET", "/prod/echo-event?x=1", [("User-Agent", "lane-test/1.0")], b""),
        ("POST", "/prod/echo-event", [("Content-Type", "text/plain")], b"twelve bytes"),
        ("GET", "/prod/raises", [], b""),
        ("GET", "/prod/short?s=1", [], b""),
    ]
    _assert_same(servers, requests, in_lane=len(requests))
    time.sleep(0.3)  # access logs are written in batches

    def new_lines(server: StagewayServer) -> list[dict[str, str]]:
        found = _stage_lines(server)[before[id(server)]:]
        for line in found:
            assert line["requestId"] and line["requestTimeEpoch"]
            for key in VARYING_LOG_KEYS:
                line[key] = "<varies>" if line[key] not in ("", "-") else line[key]
        return found

    lane_lines = new_lines(servers.lane)
    assert [line["status"] for line in lane_lines] == ["200", "200", "500", "503"]
    assert lane_lines == new_lines(servers.pipeline)


def test_metrics_are_the_pipelines(servers: Pair) -> None:
    assert request_series(servers.lane_admin) == request_series(servers.pipeline_admin)


def test_a_client_that_leaves_does_not_stop_the_lane(servers: Pair) -> None:
    with socket.create_connection(("127.0.0.1", servers.lane.port), timeout=10) as leaving:
        leaving.sendall(b"GET /sleeps?s=0.3 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    time.sleep(0.6)  # the function answers a client that is gone
    answers = _assert_same(servers, [("GET", "/plain-string", [], b"")], in_lane=1)
    assert answers[0][0] == 200


def test_pipelined_requests_are_answered_in_order(servers: Pair) -> None:
    raw = b"".join(b"GET /items/%d HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % number for number in range(3))
    with socket.create_connection(("127.0.0.1", servers.lane.port), timeout=10) as connection:
        connection.sendall(raw)
        received = b""
        while received.count(b'"itemId": "') < 3:
            chunk = connection.recv(65536)
            assert chunk, received
            received += chunk
    assert re.findall(rb'"itemId": "(\d)"', received) == [b"0", b"1", b"2"]


def test_an_invocation_in_flight_finishes_on_sigterm(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES, tmp_path / "code")
    (tmp_path / "api.yaml").write_text(
        """
functions:
  sleeps: {runtime: python3.11, handler: handlers.sleeps, code: code, timeout: 5}
apis:
  drain:
    integrations:
      sleeps: {integrationType: AWS_PROXY, integrationUri: sleeps, payloadFormatVersion: "2.0"}
    routes:
      GET /sleeps: sleeps
"""
    )
    server = StagewayServer(tmp_path / "api.yaml", args=("--no-admin",)).start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        connection.putrequest("GET", "/sleeps?s=0.8", skip_accept_encoding=True)  # keep-alive: the lane's
        connection.endheaders()
        time.sleep(0.3)
        assert server.process is not None
        server.process.send_signal(signal.SIGTERM)
        answer = connection.getresponse()
        assert (answer.status, answer.read()) == (200, b"woke up")
        assert answer.getheader("connection") == "close"  # the server is closing
        connection.close()
        assert server.process.wait(10) == 0
        assert "Traceback" not in server.log()
    finally:
        server.stop()


def test_a_bug_in_the_lane_costs_only_that_request(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from stageway.server import lambda_lane

    shutil.copytree(FIXTURES, tmp_path / "code")
    (tmp_path / "api.yaml").write_text(
        """
functions:
  plain: {runtime: python3.11, handler: handlers.plain_string, code: code}
apis:
  bug:
    integrations:
      plain: {integrationType: AWS_PROXY, integrationUri: plain, payloadFormatVersion: "2.0"}
    routes:
      GET /plain: plain
"""
    )
    event_broken = BrokenOnce(lambda_lane._v2_event, "a bug building the event")
    answer_broken = BrokenOnce(lambda_lane.parse_v2_response, "a bug reading the answer")
    monkeypatch.setattr(lambda_lane, "_v2_event", event_broken)
    monkeypatch.setattr(lambda_lane, "parse_v2_response", answer_broken)
    with in_process_server(tmp_path / "api.yaml") as port:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        # Before anything was sent: the pipeline's 500 for an unexpected error, the connection kept.
        status, _, _, body = send(connection, "GET", "/plain", [("Host", "127.0.0.1")], b"")
        assert (status, body) == (500, b'{"message":"Internal Server Error"}')
        with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:  # while answering: closed
            sock.sendall(b"GET /plain HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert sock.recv(65536) == b""
        assert send(connection, "GET", "/plain", [("Host", "127.0.0.1")], b"")[::3] == (200, b"Hello")
        connection.close()
        assert event_broken.raised and answer_broken.raised


def test_an_invocation_queued_when_its_function_is_deleted_is_answered_as_the_pipeline_answers(tmp_path: Path) -> None:
    import threading

    import boto3

    shutil.copytree(FIXTURES, tmp_path / "code")
    (tmp_path / "api.yaml").write_text(
        """
functions:
  sleeps: {runtime: python3.11, handler: handlers.sleeps, code: code, timeout: 5, reservedConcurrency: 1}
apis:
  deleted:
    integrations:
      sleeps: {integrationType: AWS_PROXY, integrationUri: sleeps, payloadFormatVersion: "2.0"}
    routes:
      GET /sleeps: sleeps
"""
    )
    with serve_pair(tmp_path / "api.yaml", "deleted", "--no-lambda-lane") as pair:
        answers: dict[tuple[int, str], Answer] = {}

        def call(port: int, seconds: str) -> None:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
            answers[port, seconds] = send(connection, "GET", f"/sleeps?s={seconds}", [("Host", "127.0.0.1")], b"")
            connection.close()

        for server, admin in ((pair.lane, pair.lane_admin), (pair.pipeline, pair.pipeline_admin)):
            busy = threading.Thread(target=call, args=(server.port, "1"))  # the one worker, for a second
            busy.start()
            time.sleep(0.3)
            queued = threading.Thread(target=call, args=(server.port, "0"))  # waits for that worker
            queued.start()
            time.sleep(0.3)
            boto3.client(
                "lambda", endpoint_url=f"http://127.0.0.1:{admin}", region_name="us-east-1",
                aws_access_key_id="test", aws_secret_access_key="test",
            ).delete_function(FunctionName="sleeps")
            busy.join(20)
            queued.join(20)
        for seconds in ("1", "0"):
            lane, pipeline = answers[pair.lane.port, seconds], answers[pair.pipeline.port, seconds]
            assert _normalized(lane) == _normalized(pipeline)
        assert answers[pair.lane.port, "1"][::3] == (200, b"woke up")  # a started invocation runs to its end
        assert answers[pair.lane.port, "0"][0] == 500  # a queued one is not run
        assert _lane_count(pair.lane_admin) == 2
        time.sleep(0.3)
        assert "Function not found" in pair.lane.log() and "Traceback" not in pair.lane.log()


def _bearer(issuer: JwksServer, **claims: Any) -> tuple[str, str]:
    token = issuer.token(issuer.claims(**{"aud": JWT_AUDIENCE, **claims}), key=issuer.keys["rsa"])
    return ("Authorization", f"Bearer {token}")


def test_a_jwt_route_is_the_lanes_once_the_token_is_verified(servers: Pair, issuer: JwksServer) -> None:
    # The event carries the authorizer's claims (and, on a route with scopes, the token's) in both formats.
    bearer = _bearer(issuer, sub="lane-user", groups=["a", "b"], scope="pets/read pets/write")
    _assert_same(servers, [("GET", "/jwt/first", [JWT_HOST, bearer], b"")], in_lane=0)  # verified here
    requests: list[Request] = [
        ("GET", "/jwt/second?x=1", [JWT_HOST, bearer], b""),
        ("GET", "/jwt-v1/third", [JWT_HOST, bearer], b""),
        ("POST", "/scoped", [JWT_HOST, bearer, ("Content-Type", "application/json")], b'{"a": 1}'),
    ]
    # The first request to /scoped checks the scopes in the pipeline; from then on the lane has them.
    _assert_same(servers, requests[:2], in_lane=2)
    _assert_same(servers, requests[2:], in_lane=0)
    answers = _assert_same(servers, requests[2:], in_lane=1)
    event = json.loads(answers[0][3])
    assert event["requestContext"]["authorizer"]["jwt"]["scopes"] == ["pets/read", "pets/write"]
    assert event["requestContext"]["authorizer"]["jwt"]["claims"]["groups"] == "[a b]"
    v1 = json.loads(_assert_same(servers, requests[1:2], in_lane=1)[0][3])
    assert v1["requestContext"]["authorizer"]["claims"]["sub"] == "lane-user"


def test_jwt_requests_the_lane_leaves_to_the_pipeline_are_answered_alike(servers: Pair, issuer: JwksServer) -> None:
    bearer = _bearer(issuer, sub="pipeline-user")
    _assert_same(servers, [("GET", "/jwt/verify", [JWT_HOST, bearer], b"")], in_lane=0)
    requests: list[Request] = [
        ("GET", "/jwt/none", [JWT_HOST], b""),  # 401
        ("GET", "/jwt/other", [JWT_HOST, _bearer(issuer, aud="someone-else")], b""),  # 401
        ("POST", "/scoped", [JWT_HOST, bearer], b""),  # no scope of the route's: 403
        ("POST", "/scoped", [JWT_HOST, bearer], b""),  # ... every time
    ]
    _assert_same(servers, requests, in_lane=0)
    # A stage with an access log: the lane, its line with the claims as the pipeline's (compared in
    # test_proxy_lane.py, which shares the lane's access-log path).
    _assert_same(servers, [("GET", "/logged/jwt/a", [JWT_HOST, bearer], b"")], in_lane=1)
