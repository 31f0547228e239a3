"""The proxy lane (server/proxy_lane.py) answers exactly as the pipeline does.

Two real `stageway serve` processes on one API file, one with the lane (the default) and one with
`--no-proxy-lane`, get the same requests over keep-alive connections. What their clients receive and what
the backend receives must be the same, byte for byte, apart from what is meant to differ (request and
trace ids, the date, the listener's own port in `x-forwarded-port`); their access-log lines and metrics
too. `stageway_proxy_lane_requests` shows which requests the lane took, so a test cannot pass by both
servers taking the pipeline.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from stageway.core.context_vars import compile_log_format
from stageway.gateway.stage_log import values_renderer
from tests.support.backend import BackendServer
from tests.support.control import start_control_plane
from tests.support.jwks_server import JwksServer
from tests.support.lane_pair import (
    Answer,
    BrokenOnce,
    Pair,
    both,
    in_process_server,
    metric,
    request_series,
    send,
    serve_pair,
)
from tests.support.stageway_server import StagewayServer, free_port

# Every `$context` variable a stage access-log line can hold for an HTTP proxy route (spec §10).
STAGE_LOG_FORMAT = (
    '{"requestId":"$context.requestId","extendedRequestId":"$context.extendedRequestId",'
    '"httpMethod":"$context.httpMethod","path":"$context.path","protocol":"$context.protocol",'
    '"routeKey":"$context.routeKey","stage":"$context.stage","apiId":"$context.apiId",'
    '"accountId":"$context.accountId","domainName":"$context.domainName","domainPrefix":"$context.domainPrefix",'
    '"sourceIp":"$context.identity.sourceIp","userAgent":"$context.identity.userAgent",'
    '"status":"$context.status","responseLength":"$context.responseLength",'
    '"dataProcessed":"$context.dataProcessed","integrationStatus":"$context.integrationStatus",'
    '"integration.status":"$context.integration.status","error":"$context.error.message",'
    '"integrationError":"$context.integrationErrorMessage","integration.error":"$context.integration.error",'
    '"requestTime":"$context.requestTime","requestTimeEpoch":"$context.requestTimeEpoch",'
    '"responseLatency":"$context.responseLatency","integrationLatency":"$context.integrationLatency",'
    '"basePath":"$context.customDomain.basePathMatched","authorizerError":"$context.authorizer.error",'
    '"errorType":"$context.error.responseType","awsEndpointRequestId":"$context.awsEndpointRequestId"}'
)

# Only the variables a lane renders from its own values (`stage_log.values_renderer`).
FAST_LOG_FORMAT = (
    STAGE_LOG_FORMAT.replace(',"authorizerError":"$context.authorizer.error"', "")
    .replace(',"errorType":"$context.error.responseType"', "")
    .replace(',"domainPrefix":"$context.domainPrefix"', "")
)

JWT_AUDIENCE = "lane-client"
# With what a JWT authorizer gives the access log.
JWT_LOG_FORMAT = STAGE_LOG_FORMAT[:-1] + (
    ',"sub":"$context.authorizer.claims.sub","groups":"$context.authorizer.claims.groups",'
    '"authorizerAud":"$context.authorizer.claims.aud"}'
)


@pytest.fixture(scope="module")
def servers(backend: BackendServer, issuer: JwksServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    folder = tmp_path_factory.mktemp("lane")
    dead_port = free_port()
    (folder / "api.yaml").write_text(
        f"""
apis:
  lane:
    id: lane000001
    integrations:
      pets: {{integrationType: HTTP_PROXY, integrationUri: "{backend.url}/pets"}}
      echo: {{integrationType: HTTP_PROXY, integrationUri: "{backend.url}/echo/{{proxy}}"}}
      echo-post: {{integrationType: HTTP_PROXY, integrationUri: "{backend.url}/echo/posted", integrationMethod: POST}}
      tests: {{integrationType: HTTP_PROXY, integrationUri: "{backend.url}/test/{{proxy}}"}}
      slow: {{integrationType: HTTP_PROXY, integrationUri: "{backend.url}/slow", timeoutInMillis: 300}}
      dead: {{integrationType: HTTP_PROXY, integrationUri: "http://127.0.0.1:{dead_port}/nothing"}}
      staged: {{integrationType: HTTP_PROXY, integrationUri: "http://${{stageVariables.target}}/echo/staged"}}
      unset: {{integrationType: HTTP_PROXY, integrationUri: "http://${{stageVariables.missing}}/x"}}
      everything: {{integrationType: HTTP_PROXY, integrationUri: "{backend.url}/echo/default"}}
    routes:
      GET /pets: pets
      ANY /echo/{{proxy+}}: echo
      GET /posted: echo-post
      GET /test/{{proxy+}}: tests
      GET /slow: slow
      GET /dead: dead
      GET /staged: staged
      GET /unset: unset
      GET /limited: pets
      $default: everything
    stages:
      $default:
        autoDeploy: true
        stageVariables: {{target: "127.0.0.1:{backend.port}"}}
        routeSettings:
          GET /limited: {{throttlingRateLimit: 0.01, throttlingBurstLimit: 1}}
      prod:
        autoDeploy: true
        stageVariables: {{target: "127.0.0.1:{backend.port}"}}
        accessLogSettings:
          destinationArn: stdout
          format: '{STAGE_LOG_FORMAT}'
      fast:
        autoDeploy: true
        stageVariables: {{target: "127.0.0.1:{backend.port}"}}
        accessLogSettings:
          destinationArn: stdout
          format: '{FAST_LOG_FORMAT}'
  corsy:
    id: corsy00001
    corsConfiguration:
      allowOrigins: ["https://example.com", "https://*.example.org"]
      allowMethods: [GET, POST]
      allowHeaders: [x-custom]
      exposeHeaders: [x-kept]
      allowCredentials: true
      maxAge: 60
    integrations:
      echo: {{integrationType: HTTP_PROXY, integrationUri: "{backend.url}/echo/{{proxy}}"}}
      tests: {{integrationType: HTTP_PROXY, integrationUri: "{backend.url}/test/{{proxy}}"}}
      dead: {{integrationType: HTTP_PROXY, integrationUri: "http://127.0.0.1:{dead_port}/nothing"}}
      slow: {{integrationType: HTTP_PROXY, integrationUri: "{backend.url}/slow", timeoutInMillis: 300}}
    routes:
      ANY /echo/{{proxy+}}: echo
      GET /test/{{proxy+}}: tests
      GET /dead: dead
      GET /slow: slow
    stages:
      $default: {{autoDeploy: true}}
  mapped:
    id: mapped0001
    integrations:
      edits:
        integrationType: HTTP_PROXY
        integrationUri: "{backend.url}/echo/{{proxy}}"
        requestParameters:
          append:header.x-request-id: $context.requestId
          overwrite:header.x-stage: $context.stage
          remove:header.x-secret: "''"
          overwrite:header.x-pet: $request.body.pet.name
          append:header.x-flavour: ${{stageVariables.flavour}}
          append:header.x-path: "id-$request.path.proxy"
          overwrite:querystring.limit: "10"
          remove:querystring.debug: "''"
          append:querystring.who: $request.header.x-user
      static-query:
        integrationType: HTTP_PROXY
        integrationUri: "{backend.url}/echo/{{proxy}}"
        requestParameters:
          append:header.x-request-id: $context.requestId
          overwrite:header.x-stage: $context.stage
          remove:header.x-secret: "''"
          overwrite:header.x-pet: $request.body.pet.name
          overwrite:header.x-user: $request.header.x-name
          append:header.x-flavour: ${{stageVariables.flavour}}
          overwrite:querystring.limit: "10"
          remove:querystring.debug: "''"
      by-id:
        integrationType: HTTP_PROXY
        integrationUri: "{backend.url}/echo/{{proxy}}"
        requestParameters:
          append:header.x-request-id: $context.requestId
          overwrite:header.x-trace: "100% ${{context.requestId}}/${{context.extendedRequestId}}"
          remove:header.x-secret: "''"
          overwrite:header.x-stage: fixed
          append:header.x-name: "Zo\u00eb"
          overwrite:querystring.limit: "10"
      by-id-utf-8:
        integrationType: HTTP_PROXY
        integrationUri: "{backend.url}/echo/utf-8"
        requestParameters: {{append:header.x-name: "\u4f8b $context.requestId"}}
      port-edit:
        integrationType: HTTP_PROXY
        integrationUri: "{backend.url}/echo/port"
        requestParameters: {{remove:header.x-forwarded-port: "''", append:header.x-more: "1"}}
      moved:
        integrationType: HTTP_PROXY
        integrationUri: "{backend.url}/nowhere"
        requestParameters: {{overwrite:path: "/echo/moved/$request.path.id"}}
      fixed:
        integrationType: HTTP_PROXY
        integrationUri: "{backend.url}/echo/default"
        requestParameters: {{overwrite:querystring.limit: "10", append:header.x-fixed: "yes"}}
      unset:
        integrationType: HTTP_PROXY
        integrationUri: "http://${{stageVariables.missing}}/x"
        requestParameters: {{overwrite:querystring.limit: "10"}}
      unset-per-request:
        integrationType: HTTP_PROXY
        integrationUri: "http://${{stageVariables.missing}}/x"
        requestParameters: {{append:querystring.who: $request.header.x-user}}
      claims:
        integrationType: HTTP_PROXY
        integrationUri: "{backend.url}/echo/{{proxy}}"
        requestParameters: {{append:header.x-sub: $context.authorizer.claims.sub, overwrite:querystring.id: $context.requestId}}
    authorizers:
      issuer:
        authorizerType: JWT
        jwtConfiguration: {{issuer: "{issuer.issuer}", audience: [{JWT_AUDIENCE}]}}
    routes:
      ANY /edit/{{proxy+}}: edits
      ANY /static-query/{{proxy+}}: static-query
      GET /port: port-edit
      ANY /by-id/{{proxy+}}: by-id
      GET /by-id-utf-8: by-id-utf-8
      GET /moved/{{id}}: moved
      GET /unset: unset
      GET /unset-per-request: unset-per-request
      GET /claims/{{proxy+}}: {{integration: claims, authorizer: issuer}}
      $default: fixed
    stages:
      $default:
        autoDeploy: true
        stageVariables: {{flavour: mint}}
      logged:
        autoDeploy: true
        stageVariables: {{flavour: lime}}
        accessLogSettings:
          destinationArn: stdout
          format: '{JWT_LOG_FORMAT}'
  guarded:
    id: guarded001
    integrations:
      echo: {{integrationType: HTTP_PROXY, integrationUri: "{backend.url}/echo/{{proxy}}"}}
    authorizers:
      issuer:
        authorizerType: JWT
        jwtConfiguration: {{issuer: "{issuer.issuer}", audience: [{JWT_AUDIENCE}]}}
      by-header:
        authorizerType: JWT
        identitySource: [$request.header.x-token]
        jwtConfiguration: {{issuer: "{issuer.issuer}", audience: [{JWT_AUDIENCE}]}}
      by-query:
        authorizerType: JWT
        identitySource: [$request.querystring.token]
        jwtConfiguration: {{issuer: "{issuer.issuer}", audience: [{JWT_AUDIENCE}]}}
    routes:
      GET /jwt/{{proxy+}}: {{integration: echo, authorizer: issuer}}
      GET /scoped/{{proxy+}}: {{integration: echo, authorizer: issuer, authorizationScopes: [pets/write]}}
      GET /x-token/{{proxy+}}: {{integration: echo, authorizer: by-header}}
      GET /query/{{proxy+}}: {{integration: echo, authorizer: by-query}}
    stages:
      $default: {{autoDeploy: true}}
      logged:
        autoDeploy: true
        accessLogSettings:
          destinationArn: stdout
          format: '{JWT_LOG_FORMAT}'
"""
    )
    with serve_pair(folder / "api.yaml", "lane", "--no-proxy-lane") as pair:
        yield pair


_TRACE_ID = r"-[0-9a-f]{8}-[0-9a-f]{24}$"


def _normalized(answer: Answer) -> Answer:
    """Without what differs between two servers by design: ids, dates, the listener's port."""
    status, reason, headers, body = answer
    kept = [(name.lower(), value) for name, value in headers if name.lower() not in ("date", "apigw-requestid")]
    request_id = next((value for name, value in headers if name.lower() == "apigw-requestid"), None)
    if request_id is not None:  # a mapped `$context.requestId`, echoed (in a query string, encoded)
        for sent in (request_id, quote(request_id, safe="")):
            body = body.replace(sent.encode(), b"<request-id>")
    if body.startswith(b"{") and b'"rawHeaders"' in body:  # the backend's echo of what it received
        echoed = json.loads(body)
        echoed.pop("connection")  # the backend's connection number
        echoed["headers"]["x-forwarded-port"] = "<port>"
        # A trace id: its time (a second may turn between the two servers' answers) and its random part.
        echoed["headers"]["x-amzn-trace-id"] = re.sub(_TRACE_ID, "-<time>-<random>", echoed["headers"]["x-amzn-trace-id"])
        echoed["rawHeaders"] = [
            [name, "<port>" if name == "x-forwarded-port" else re.sub(_TRACE_ID, "-<time>-<random>", value)]
            for name, value in echoed["rawHeaders"]
        ]
        body = json.dumps(echoed, sort_keys=True).encode()
        # (Its length varies with what was taken out: a port, a connection number of more digits.)
        kept = [(name, "<length>" if name == "content-length" else value) for name, value in kept]
    return status, reason, kept, body


def _lane_count(admin_port: int) -> float:
    return metric(admin_port, "stageway_proxy_lane_requests_total")


def _assert_same(servers: Pair, requests: list[tuple[str, str, list[tuple[str, str]], bytes]], *, in_lane: int) -> None:
    before = _lane_count(servers.lane_admin)
    for lane_answer, pipeline_answer in both(servers, requests):
        assert _normalized(lane_answer) == _normalized(pipeline_answer)
    assert _lane_count(servers.lane_admin) - before == in_lane
    assert _lane_count(servers.pipeline_admin) == 0


BROWSER_HEADERS = [
    ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64)"),
    ("Accept", "text/html,application/json;q=0.9,*/*;q=0.8"),
    ("Accept-Language", "en-GB,en;q=0.5"),
    ("Accept-Encoding", "gzip, deflate, br"),
    ("Cookie", "session=abc; theme=dark"),
    ("X-Custom", "one"),
    ("x-custom", "two"),
    ("X-Latin", "caf\xe9"),
]


def test_answers_and_backend_requests_are_the_pipelines(servers: Pair) -> None:
    requests = [
        ("GET", "/pets", [], b""),
        ("GET", "/echo/a/b%20c/%2E%2E/d?x=1&x=2&y=%20z", BROWSER_HEADERS, b""),
        ("DELETE", "/echo/item/1", [("Authorization", "Bearer t")], b""),
        ("OPTIONS", "/echo/cors", [("Origin", "https://example.com")], b""),
        ("POST", "/echo/empty", [], b""),  # no body: the backend still gets content-length: 0
        ("GET", "/posted?q=1", [], b""),  # integrationMethod POST
        ("GET", "/prod/echo/staged-path", [], b""),  # a named stage
        ("GET", "/staged", [], b""),  # the URL from a stage variable
        ("GET", "/anything/else?z=9", [("Host", "127.0.0.1:8080")], b""),  # $default appends the path
        ("GET", "/test/cookies", [], b""),  # repeated set-cookie and x-multi
        ("GET", "/test/hop-by-hop", [], b""),  # connection tokens: the pipeline's filter
        ("GET", "/test/connection-tokens", [], b""),
        ("GET", "/test/gzip", [], b""),
        ("GET", "/test/chunked?n=4", [], b""),
        ("GET", "/test/status/204", [], b""),
        ("GET", "/test/status/404", [], b""),
        ("GET", "/test/status/503", [], b""),
        ("GET", "/test/redirect", [], b""),
        ("GET", "/test/interim", [], b""),  # a 103 before the answer
        ("GET", "/test/big?bytes=2000000", [], b""),  # sent as two buffers
    ]
    _assert_same(servers, requests, in_lane=len(requests))


def test_request_bodies_are_passed_on_as_the_pipeline_passes_them(servers: Pair) -> None:
    requests = [
        ("POST", "/echo/json", [("Content-Type", "application/json")], b'{"name": "Rex", "age": 3}'),
        ("PUT", "/echo/binary", [("Content-Type", "application/octet-stream")], bytes(range(256)) * 40),
        ("PATCH", "/echo/form", [("Content-Type", "application/x-www-form-urlencoded")], b"a=1&b=%20"),
        ("DELETE", "/echo/with-body", [], b"why not"),
        ("GET", "/echo/get-with-body", [], b"a GET may carry one"),
        ("POST", "/echo/empty", [("Content-Length", "0")], b""),
        ("GET", "/posted", [], b""),  # integrationMethod POST, no body: content-length 0
    ]
    _assert_same(servers, requests, in_lane=len(requests))


def test_requests_the_lane_leaves_to_the_pipeline_are_answered_alike(servers: Pair) -> None:
    requests = [
        ("POST", "/echo/chunked", [("Transfer-Encoding", "chunked")], b"in chunks"),  # a chunked body
        ("GET", "/echo/forwarded", [("X-Forwarded-For", "10.0.0.1")], b""),  # a header the gateway extends
        ("GET", "/echo/trace", [("X-Amzn-Trace-Id", "Root=1-00000000-000000000000000000000000")], b""),
        ("GET", "/echo/via", [("Via", "1.1 proxy")], b""),
        ("GET", "/echo/te", [("TE", "trailers")], b""),  # hop-by-hop
        ("GET", "/unset", [], b""),  # a URL that does not render: 500
        ("GET", "/nowhere/route", [("Host", "unknown.execute-api.localhost")], b""),  # no such API: 404
    ]
    _assert_same(servers, requests, in_lane=0)


CORS_HOST = ("Host", "corsy00001.execute-api.localhost")


def test_cors_headers_are_the_pipelines(servers: Pair) -> None:
    origin = ("Origin", "https://example.com")
    requests = [
        ("GET", "/echo/a", [CORS_HOST, origin], b""),
        ("GET", "/echo/b", [CORS_HOST, ("Origin", "https://api.example.org")], b""),  # a wildcard origin
        ("GET", "/echo/c", [CORS_HOST, ("Origin", "https://evil.example.net")], b""),  # not allowed: none
        ("GET", "/echo/d", [CORS_HOST, origin, ("Origin", "https://example.com")], b""),  # repeated: joined
        ("GET", "/echo/e", [CORS_HOST], b""),  # no Origin: no CORS headers, on bytes
        ("POST", "/echo/f", [CORS_HOST, origin, ("Content-Type", "application/json")], b"{}"),
        ("GET", "/test/cors-headers", [CORS_HOST, origin], b""),  # the backend's CORS headers are replaced
        ("GET", "/test/cors-headers", [CORS_HOST], b""),  # ... and kept without Origin
        ("GET", "/test/cors-headers", [CORS_HOST, ("Origin", "")], b""),  # ... and dropped for an empty Origin
        ("GET", "/test/hop-by-hop", [CORS_HOST, origin], b""),
        ("GET", "/test/connection-tokens", [CORS_HOST, origin], b""),  # the pipeline's filters, then CORS
        ("GET", "/dead", [CORS_HOST, origin], b""),  # an error answer gets CORS headers too
        ("GET", "/slow?ms=1000", [CORS_HOST, origin], b""),
    ]
    _assert_same(servers, requests, in_lane=len(requests))


def test_a_preflight_is_the_pipelines(servers: Pair) -> None:
    requests = [
        (
            "OPTIONS",
            "/echo/a",
            [CORS_HOST, ("Origin", "https://example.com"), ("Access-Control-Request-Method", "POST")],
            b"",
        ),
        ("OPTIONS", "/echo/b", [CORS_HOST, ("Origin", "https://example.com")], b""),  # not a preflight
    ]
    _assert_same(servers, requests, in_lane=0)


def test_a_throttled_request_gets_the_pipelines_429(servers: Pair) -> None:
    # The route's bucket holds one token: the first request takes the lane, the second is refused (429) by
    # the pipeline, which the lane leaves it to.
    _assert_same(servers, [("GET", "/limited", [], b""), ("GET", "/limited", [], b"")], in_lane=1)


def test_a_body_over_the_quota_is_refused_before_the_lane(servers: Pair) -> None:
    # Refused (413) from its content-length, before a byte of it is read; the connection closes.
    _assert_same(servers, [("POST", "/echo/too-big", [("Content-Length", str(11 * 1024 * 1024))], b"")], in_lane=0)


def test_failures_are_the_pipelines(servers: Pair) -> None:
    requests = [
        ("GET", "/dead", [], b""),  # connection refused: 500
        ("GET", "/slow?ms=1000", [], b""),  # past the 300 ms timeout: 503
        ("GET", "/test/close-before-response", [], b""),
        ("GET", "/test/close-mid-response", [], b""),
        ("GET", "/test/garbage", [], b""),
        ("GET", "/test/huge-length", [], b""),
        ("GET", "/test/no-length", [], b""),  # a body delimited by the close: 200
        ("GET", "/pets", [], b""),  # and the connection still serves
    ]
    _assert_same(servers, requests, in_lane=len(requests))


def test_a_stale_pooled_connection_is_retried(servers: Pair) -> None:
    # The backend answers the first request on a connection and closes the next one unanswered: the lane's
    # pooled connection is reused, fails before any byte, and the request goes again on a new one.
    requests = [("GET", "/test/drop-reused", [], b"")] * 3
    _assert_same(servers, requests, in_lane=3)


def test_access_log_lines_are_the_pipelines(servers: Pair) -> None:
    requests = [("GET", "/pets?limit=2", [], b""), ("GET", "/dead", [], b""), ("GET", "/prod/echo/x", [], b"")]
    both(servers, requests)
    time.sleep(0.3)  # the access log is written in batches

    def lines(server: StagewayServer) -> list[str]:
        found = [line for line in server.log().splitlines() if '"GET /pets?limit=2 ' in line or '"GET /dead ' in line
                 or '"GET /prod/echo/x ' in line]
        # Without the time, the request id and the latency.
        return [re.sub(r"\[[^]]+\] | [A-Za-z0-9_-]{15}= | \d+\.\dms", " ", line) for line in found[-3:]]

    assert lines(servers.lane) == lines(servers.pipeline)
    assert len(lines(servers.lane)) == 3


def test_stage_access_log_lines_are_the_pipelines(servers: Pair) -> None:
    requests = [
        ("GET", "/prod/echo/logged?x=1", [("User-Agent", "lane-test/1.0")], b""),
        ("POST", "/prod/echo/logged-body", [("Content-Type", "text/plain")], b"twelve bytes"),
        ("GET", "/prod/echo/%2E%2E/a%20b", [], b""),
    ]
    before = _stage_line_counts(servers)
    _assert_same(servers, requests, in_lane=len(requests))
    time.sleep(0.3)  # access logs are written in batches
    lane_lines = _new_stage_lines(servers.lane, before["lane"])
    pipeline_lines = _new_stage_lines(servers.pipeline, before["pipeline"])
    assert len(lane_lines) == len(requests)
    assert lane_lines == pipeline_lines


def test_stage_access_log_lines_of_failures_are_the_pipelines(servers: Pair) -> None:
    before = _stage_line_counts(servers)
    both(servers, [("GET", "/prod/staged", [], b""), ("GET", "/prod/dead", [], b""), ("GET", "/prod/slow?ms=1000", [], b"")])
    time.sleep(0.3)
    lane_lines = _new_stage_lines(servers.lane, before["lane"])
    assert [line["status"] for line in lane_lines] == ["200", "500", "503"]
    assert lane_lines == _new_stage_lines(servers.pipeline, before["pipeline"])


def test_stage_access_log_lines_rendered_from_the_lanes_values_are_the_pipelines(servers: Pair) -> None:
    assert values_renderer(compile_log_format(FAST_LOG_FORMAT)) is not None
    requests = [
        ("GET", "/fast/echo/logged?x=1", [("User-Agent", "lane-test/1.0"), ("user-agent", "again")], b""),
        ("POST", "/fast/echo/logged-body", [("Content-Type", "text/plain"), ("User-Agent", "")], b"twelve bytes"),
        ("GET", "/fast/echo/%2E%2E/a%20b", [], b""),
        ("GET", "/fast/dead", [], b""),
        ("GET", "/fast/slow?ms=1000", [], b""),
        ("GET", "/fast/anything", [("Host", "Lane000001.Execute-Api.localhost:99")], b""),
    ]
    before = _stage_line_counts(servers)
    _assert_same(servers, requests, in_lane=len(requests))
    time.sleep(0.3)  # access logs are written in batches
    lane_lines = _new_stage_lines(servers.lane, before["lane"])
    assert [line["status"] for line in lane_lines] == ["200", "200", "200", "500", "503", "200"]
    assert lane_lines[0]["userAgent"] == "lane-test/1.0,again"
    assert lane_lines == _new_stage_lines(servers.pipeline, before["pipeline"])


def _stage_lines(server: StagewayServer) -> list[str]:
    return [line for line in server.log().splitlines() if line.startswith('{"requestId"')]


def _stage_line_counts(servers: Pair) -> dict[str, int]:
    return {"lane": len(_stage_lines(servers.lane)), "pipeline": len(_stage_lines(servers.pipeline))}


def _new_stage_lines(server: StagewayServer, since: int) -> list[dict[str, str]]:
    """The stage access-log lines after the first `since`, without what differs between two servers by design."""
    found = [json.loads(line) for line in _stage_lines(server)[since:]]
    for line in found:
        for key in ("requestId", "extendedRequestId", "requestTime", "requestTimeEpoch", "responseLatency",
                    "integrationLatency"):
            line[key] = "<varies>"
    return found


def test_metrics_are_the_pipelines(servers: Pair) -> None:
    assert request_series(servers.lane_admin) == request_series(servers.pipeline_admin)


def test_pipelined_requests_are_answered_in_order(servers: Pair) -> None:
    # Three requests in one write: the first may take the lane, the ones behind it wait their turn.
    raw = b"".join(
        b"GET /echo/p%d HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % index for index in range(3)
    ) + b"GET /pets HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", servers.lane.port), timeout=10) as sock:
        sock.sendall(raw)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    paths = re.findall(rb'"path":"(/echo/p\d)"', received)
    assert paths == [b"/echo/p0", b"/echo/p1", b"/echo/p2"]
    assert received.count(b"HTTP/1.1 200 OK") == 4


def test_an_http_1_0_request_is_answered_then_the_connection_closed(servers: Pair) -> None:
    with socket.create_connection(("127.0.0.1", servers.lane.port), timeout=10) as sock:
        sock.sendall(b"GET /pets HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    assert received.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"connection: close\r\n" in received


def test_a_deployment_reaches_requests_the_lane_has_seen(backend: BackendServer, tmp_path: Path) -> None:
    # The lane remembers where a request goes on the deployed plan; a new deployment must be seen at once.
    (tmp_path / "api.yaml").write_text(
        f"""
apis:
  lane:
    id: lane000002
    integrations:
      echo: {{integrationType: HTTP_PROXY, integrationUri: "{backend.url}/echo/{{proxy}}"}}
    routes:
      GET /echo/{{proxy+}}: echo
    stages:
      $default: {{autoDeploy: true}}
"""
    )
    with start_control_plane(tmp_path / "api.yaml") as plane:
        connection = http.client.HTTPConnection("127.0.0.1", plane.data_port, timeout=10)
        answer = send(connection, "GET", "/echo/x", [("Host", "127.0.0.1")], b"")
        assert answer[0] == 200 and json.loads(answer[3])["path"] == "/echo/x"
        client = plane.client()
        integration = client.get_integrations(ApiId="lane000002")["Items"][0]
        client.update_integration(
            ApiId="lane000002",
            IntegrationId=integration["IntegrationId"],
            IntegrationUri=f"{backend.url}/echo/changed/{{proxy}}",
        )
        answer = send(connection, "GET", "/echo/x", [("Host", "127.0.0.1")], b"")
        assert answer[0] == 200 and json.loads(answer[3])["path"] == "/echo/changed/x"
        client.delete_route(ApiId="lane000002", RouteId=client.get_routes(ApiId="lane000002")["Items"][0]["RouteId"])
        answer = send(connection, "GET", "/echo/x", [("Host", "127.0.0.1")], b"")
        assert answer[0] == 404 and answer[3] == b'{"message":"Not Found"}'
        assert _lane_count(plane.admin_port) == 2
        connection.close()


def test_a_client_that_leaves_does_not_stop_the_lane(servers: Pair) -> None:
    # The client goes before its answer comes: the answer is dropped, the backend connection goes back to
    # the pool, and the next requests are served.
    before = _lane_count(servers.lane_admin)
    with socket.create_connection(("127.0.0.1", servers.lane.port), timeout=10) as sock:
        sock.sendall(b"GET /slow?ms=200 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    time.sleep(0.4)
    answers = both(servers, [("GET", "/pets", [], b"")] * 3)
    assert all(lane[0] == 200 for lane, _ in answers)
    assert _lane_count(servers.lane_admin) - before == 4


def _one_route_api(backend: BackendServer, tmp_path: Path) -> Path:
    (tmp_path / "api.yaml").write_text(
        f"""
apis:
  bug:
    routes:
      GET /pets:
        integration: {{integrationType: HTTP_PROXY, integrationUri: "{backend.url}/pets"}}
"""
    )
    return tmp_path / "api.yaml"


def test_a_bug_while_answering_costs_only_that_connection(
    backend: BackendServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stageway.server import proxy_lane

    with in_process_server(_one_route_api(backend, tmp_path)) as port:
        broken = BrokenOnce(proxy_lane.ProxyLane._pass_on)
        monkeypatch.setattr(proxy_lane.ProxyLane, "_pass_on", lambda *args: broken(*args))
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"GET /pets HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert sock.recv(65536) == b""  # closed without an answer
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        assert send(connection, "GET", "/pets", [("Host", "127.0.0.1")], b"")[0] == 200
        connection.close()
        assert broken.raised


def test_a_bug_before_the_lane_sends_anything_is_a_500_not_a_hang(
    backend: BackendServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stageway.server import proxy_lane

    with in_process_server(_one_route_api(backend, tmp_path)) as port:
        broken = BrokenOnce(proxy_lane.trace_id)
        monkeypatch.setattr(proxy_lane, "trace_id", broken)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        assert send(connection, "GET", "/pets", [("Host", "127.0.0.1")], b"")[0] == 500
        assert send(connection, "GET", "/pets", [("Host", "127.0.0.1")], b"")[0] == 200  # the connection kept
        connection.close()
        assert broken.raised


JWT_HOST = ("Host", "guarded001.execute-api.localhost")


def _token(issuer: JwksServer, **claims: object) -> str:
    return issuer.token(issuer.claims(**{"aud": JWT_AUDIENCE, **claims}), key=issuer.keys["rsa"])


def test_a_jwt_route_is_the_lanes_once_the_token_is_verified(servers: Pair, issuer: JwksServer) -> None:
    # The pipeline verifies a token the first time; the lane then passes its requests on, as the pipeline would.
    token = _token(issuer, sub="lane-user")
    bearer = [JWT_HOST, ("Authorization", f"Bearer {token}")]
    _assert_same(servers, [("GET", "/jwt/first", bearer, b"")], in_lane=0)
    requests = [
        ("GET", "/jwt/again?x=1", bearer, b""),
        ("GET", "/jwt/bare", [JWT_HOST, ("authorization", token)], b""),  # no `Bearer `: the same token
        ("GET", "/jwt/browser", [JWT_HOST, *BROWSER_HEADERS, ("Authorization", f"Bearer {token}")], b""),
    ]
    _assert_same(servers, requests, in_lane=len(requests))
    # The header an authorizer names, whatever it is.
    x_token = [JWT_HOST, ("X-Token", token)]
    _assert_same(servers, [("GET", "/x-token/a", x_token, b""), ("GET", "/x-token/b", x_token, b"")], in_lane=2)


def test_jwt_requests_the_lane_leaves_to_the_pipeline_are_answered_alike(servers: Pair, issuer: JwksServer) -> None:
    token = _token(issuer, sub="pipeline-user")
    bearer = ("Authorization", f"Bearer {token}")
    _assert_same(servers, [("GET", "/jwt/verify", [JWT_HOST, bearer], b"")], in_lane=0)
    requests = [
        ("GET", "/jwt/none", [JWT_HOST], b""),  # no token: 401
        ("GET", "/jwt/empty", [JWT_HOST, ("Authorization", "")], b""),
        ("GET", "/jwt/other-audience", [JWT_HOST, ("Authorization", _token(issuer, aud="other"))], b""),
        ("GET", "/jwt/twice", [JWT_HOST, bearer, bearer], b""),  # joined with ",": not the token
        ("GET", "/scoped/a", [JWT_HOST, bearer], b""),  # verified, but without the route's scope: 403
        ("GET", "/scoped/b", [JWT_HOST, bearer], b""),  # ... every time
        ("GET", "/x-token/a", [JWT_HOST, bearer], b""),  # its authorizer reads X-Token: 401
        ("GET", f"/query/a?token={token}", [JWT_HOST], b""),  # a query-string token: the pipeline's
    ]
    _assert_same(servers, requests, in_lane=0)
    scoped = ("Authorization", f"Bearer {_token(issuer, scope='pets/read pets/write')}")
    _assert_same(servers, [("GET", "/scoped/c", [JWT_HOST, scoped], b"")], in_lane=0)
    _assert_same(servers, [("GET", "/scoped/d", [JWT_HOST, scoped], b"")], in_lane=1)  # its scopes checked


def test_a_verified_token_that_expires_is_refused_by_the_pipeline(servers: Pair, issuer: JwksServer) -> None:
    expires = int(time.time()) + 2
    bearer = ("Authorization", f"Bearer {_token(issuer, exp=expires)}")
    _assert_same(servers, [("GET", "/jwt/a", [JWT_HOST, bearer], b"")], in_lane=0)
    _assert_same(servers, [("GET", "/jwt/b", [JWT_HOST, bearer], b"")], in_lane=1)
    time.sleep(max(0.0, expires - time.time()) + 0.1)
    answers = both(servers, [("GET", "/jwt/c", [JWT_HOST, bearer], b"")])
    assert [answer[0] for pair in answers for answer in pair] == [401, 401]
    _assert_same(servers, [("GET", "/jwt/d", [JWT_HOST, bearer], b"")], in_lane=0)


def test_stage_access_log_lines_of_jwt_requests_are_the_pipelines(servers: Pair, issuer: JwksServer) -> None:
    bearer = ("Authorization", f"Bearer {_token(issuer, sub='logged-user', groups=['a', 'b'])}")
    _assert_same(servers, [("GET", "/logged/jwt/verify", [JWT_HOST, bearer], b"")], in_lane=0)
    time.sleep(0.3)  # (its line written)
    before = _stage_line_counts(servers)
    requests = [("GET", "/logged/jwt/a", [JWT_HOST, bearer], b""), ("GET", "/logged/jwt/b?x=1", [JWT_HOST, bearer], b"")]
    _assert_same(servers, requests, in_lane=len(requests))
    _assert_same(servers, [("GET", "/logged/jwt/refused", [JWT_HOST], b"")], in_lane=0)  # 401, the pipeline's
    time.sleep(0.3)  # access logs are written in batches
    lane_lines = _new_stage_lines(servers.lane, before["lane"])
    pipeline_lines = _new_stage_lines(servers.pipeline, before["pipeline"])
    assert [line["sub"] for line in lane_lines] == ["logged-user", "logged-user", "-"]
    assert lane_lines[0]["groups"] == "[a b]"
    assert lane_lines == pipeline_lines


MAPPED_HOST = ("Host", "mapped0001.execute-api.localhost")


def test_mapped_requests_are_the_lanes_and_reach_the_backend_as_the_pipelines(servers: Pair) -> None:
    headers = [MAPPED_HOST, ("X-User", "ana"), ("X-Secret", "s3cret"), ("X-Stage", "client's"), ("X-Request-Id", "mine")]
    json_body = [*headers, ("Content-Type", "application/json")]
    requests = [
        ("GET", "/edit/a/b?debug=1&limit=3&keep=x%20y", headers, b""),
        ("POST", "/edit/pet", json_body, b'{"pet": {"name": "Rex"}}'),  # a value from the JSON body
        ("POST", "/edit/not-json", json_body, b"{nope"),  # no value: the header is not sent
        ("GET", "/edit/browser?who=me", [MAPPED_HOST, *BROWSER_HEADERS], b""),  # no X-User: `who` is kept alone
        ("GET", "/logged/edit/staged", headers, b""),  # another stage's variables, a stage prefix
        ("GET", "/moved/42?x=1", [MAPPED_HOST], b""),  # overwrite:path
        ("GET", "/anything/else?z=9", [MAPPED_HOST], b""),  # $default, static values
        ("GET", "/unset", [MAPPED_HOST], b""),  # a URL that does not render: the pipeline's 500 (made by it)
        ("GET", "/unset-per-request", [MAPPED_HOST, ("X-User", "ana")], b""),  # the same, made by the lane
    ]
    answers = both(servers, requests)
    lane_answer = answers[0][0]
    echoed = json.loads(lane_answer[3])
    assert echoed["headers"]["x-request-id"] == f"mine,{dict(lane_answer[2])['apigw-requestid']}"
    assert "x-secret" not in echoed["headers"] and echoed["headers"]["x-stage"] == "$default"
    assert [answer[0][0] for answer in answers][-2:] == [500, 500]
    # (A URL made once per request shape that does not render sends its requests the pipeline's way.)
    _assert_same(servers, requests, in_lane=len(requests) - 1)


def test_header_edits_of_mapped_requests_with_a_static_query_are_the_pipelines(servers: Pair) -> None:
    # Their URL is made once per request shape and their header edit applied on bytes.
    headers = [MAPPED_HOST, ("X-User", "ana"), ("X-Secret", "s3cret"), ("X-Stage", "client's"), ("X-Request-Id", "mine")]
    json_body = [*headers, ("Content-Type", "application/json")]
    requests = [
        ("GET", "/static-query/a?debug=1&limit=3&keep=x%20y", headers, b""),
        ("GET", "/static-query/b", [*headers, ("X-Name", "bea")], b""),  # an overwrite whose value renders
        ("POST", "/static-query/pet", json_body, b'{"pet": {"name": "Rex"}}'),
        ("POST", "/static-query/latin", json_body, b'{"pet": {"name": "caf\xc3\xa9"}}'),
        # A value latin-1 cannot carry: the head goes as UTF-8, the client's latin-1 value too (the pipeline's way).
        ("POST", "/static-query/utf-8", [*json_body, ("X-Latin", "caf\xe9")], b'{"pet": {"name": "\xe4\xbe\x8b"}}'),
        ("GET", "/static-query/browser", [MAPPED_HOST, *BROWSER_HEADERS], b""),
        ("GET", "/logged/static-query/staged", headers, b""),
        ("GET", "/port", [MAPPED_HOST], b""),  # a forwarding header dropped: the pipeline's way
    ]
    answers = both(servers, requests)
    first, second = (json.loads(answer[0][3])["headers"] for answer in answers[:2])
    assert "x-secret" not in first and first["x-stage"] == "$default" and first["x-user"] == "ana"
    assert second["x-user"] == "bea"
    assert "x-forwarded-port" not in json.loads(answers[-1][0][3])["headers"]
    _assert_same(servers, requests, in_lane=len(requests))


def test_header_edits_known_but_for_the_request_id_are_the_pipelines(servers: Pair) -> None:
    # No request objects are made for these: the edit is made once per request shape, the request id put in.
    headers = [MAPPED_HOST, ("X-Secret", "s3cret"), ("X-Stage", "client's"), ("X-Request-Id", "mine"), ("X-Trace", "t")]
    requests = [
        ("GET", "/by-id/a?debug=1&limit=3", headers, b""),
        ("POST", "/by-id/body", [*headers, ("Content-Type", "text/plain")], b"some body"),
        ("GET", "/by-id/browser", [MAPPED_HOST, *BROWSER_HEADERS], b""),
        ("GET", "/logged/by-id/staged", headers, b""),
        ("GET", "/by-id-utf-8", [MAPPED_HOST, ("X-Latin", "caf\xe9")], b""),  # the pipeline's way: UTF-8
    ]
    answers = both(servers, requests)
    answer = answers[0][0]
    request_id = dict(answer[2])["apigw-requestid"]
    echoed = json.loads(answer[3])
    assert echoed["headers"]["x-trace"] == f"100% {request_id}/{request_id}"
    assert echoed["headers"]["x-request-id"] == f"mine,{request_id}"
    assert "x-secret" not in echoed["headers"] and echoed["headers"]["x-stage"] == "fixed"
    assert echoed["query"] == "debug=1&limit=10"
    _assert_same(servers, requests, in_lane=len(requests))


def test_a_mapped_jwt_route_reads_the_authorizers_claims_in_the_lane(servers: Pair, issuer: JwksServer) -> None:
    bearer = ("Authorization", f"Bearer {_token(issuer, sub='mapped-user')}")
    _assert_same(servers, [("GET", "/claims/verify", [MAPPED_HOST, bearer], b"")], in_lane=0)
    requests = [("GET", "/claims/a?id=theirs", [MAPPED_HOST, bearer], b""), ("GET", "/logged/claims/b", [MAPPED_HOST, bearer], b"")]
    answers = both(servers, requests)
    assert json.loads(answers[0][0][3])["headers"]["x-sub"] == "mapped-user"
    _assert_same(servers, requests, in_lane=len(requests))
    _assert_same(servers, [("GET", "/claims/refused", [MAPPED_HOST], b"")], in_lane=0)  # 401, the pipeline's


def test_stage_access_log_lines_of_mapped_requests_are_the_pipelines(servers: Pair, issuer: JwksServer) -> None:
    bearer = ("Authorization", f"Bearer {_token(issuer, sub='logged-mapped')}")
    _assert_same(servers, [("GET", "/logged/claims/verify", [MAPPED_HOST, bearer], b"")], in_lane=0)
    time.sleep(0.3)  # (its line written)
    before = _stage_line_counts(servers)
    requests = [
        ("GET", "/logged/claims/a", [MAPPED_HOST, bearer], b""),
        ("POST", "/logged/edit/b?debug=1", [MAPPED_HOST, ("Content-Type", "application/json")], b'{"pet": {}}'),
        ("GET", "/logged/unset-per-request", [MAPPED_HOST], b""),
    ]
    _assert_same(servers, requests, in_lane=len(requests))
    time.sleep(0.3)  # access logs are written in batches
    lane_lines = _new_stage_lines(servers.lane, before["lane"])
    assert [(line["status"], line["sub"]) for line in lane_lines] == [("200", "logged-mapped"), ("200", "-"), ("500", "-")]
    assert lane_lines == _new_stage_lines(servers.pipeline, before["pipeline"])
