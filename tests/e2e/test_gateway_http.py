"""`stageway serve` end to end, HTTP_PROXY side: routing as AWS does it, stages, hosts, errors, limits.

Every test talks over real sockets to a real `stageway serve` process and a real backend.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.client import HTTPConnection
from pathlib import Path

import pytest

from tests.support.backend import BackendServer
from tests.support.stageway_server import StagewayServer, free_port, http

ROUTES = ["GET /pets/dog/1", "GET /pets/dog/{id}", "GET /pets/{proxy+}", "ANY /{proxy+}", "$default"]


def _echo_integration(backend: str, name: str) -> str:
    return f"""
      {name}:
        integrationType: HTTP_PROXY
        integrationUri: {backend}/echo/{name}
        integrationMethod: ANY
        timeoutInMillis: 2000"""


@pytest.fixture(scope="module")
def gateway(backend: BackendServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StagewayServer]:
    """AWS's worked routing example (spec §3.3), on `$default` and on stage `dev`, plus a second API."""
    folder = tmp_path_factory.mktemp("gateway")
    integrations = "".join(_echo_integration(backend.url, f"r{index}") for index in range(len(ROUTES)))
    routes = "".join(f"\n      {key}: r{index}" for index, key in enumerate(ROUTES))
    dead_port = free_port()
    (folder / "api.yaml").write_text(
        f"""
apis:
  routing:
    id: routing001
    integrations:{integrations}
      greedy-uri:
        integrationType: HTTP_PROXY
        integrationUri: {backend.url}/echo/greedy/{{proxy}}
      param-uri:
        integrationType: HTTP_PROXY
        integrationUri: {backend.url}/echo/param/{{id}}/x
        integrationMethod: POST
      default-path:
        integrationType: HTTP_PROXY
        integrationUri: {backend.url}
      dead:
        integrationType: HTTP_PROXY
        integrationUri: http://127.0.0.1:{dead_port}/nothing
      slow:
        integrationType: HTTP_PROXY
        integrationUri: {backend.url}/slow
        timeoutInMillis: 300
      raw:
        integrationType: HTTP_PROXY
        integrationUri: {backend.url}/test/raw
      cookies:
        integrationType: HTTP_PROXY
        integrationUri: {backend.url}/test/cookies
    routes:{routes}
      GET /greedy/{{proxy+}}: greedy-uri
      GET /param/{{id}}: param-uri
      GET /dead: dead
      GET /slow: slow
      POST /raw: raw
      GET /cookies: cookies
    stages:
      $default: {{autoDeploy: true}}
      dev: {{autoDeploy: true}}
  other:
    id: other00001
    integrations:
      everything:
        integrationType: HTTP_PROXY
        integrationUri: {backend.url}/echo
    routes:
      $default: everything
    stages:
      beta: {{}}
"""
    )
    with StagewayServer(folder / "api.yaml", args=("--no-admin", "--default-api", "routing")) as server:
        yield server


def get_json(url: str, method: str = "GET", **kwargs: object) -> tuple[int, dict[str, str], dict[str, object]]:
    status, headers, body, _ = http(method, url, **kwargs)  # type: ignore[arg-type]
    return status, headers, json.loads(body) if body else {}


@pytest.mark.parametrize(
    ("method", "path", "route_index", "backend_path"),
    [
        # Spec §3.3, AWS's worked example.
        ("GET", "/pets/dog/1", 0, "/echo/r0"),
        ("GET", "/pets/dog/2", 1, "/echo/r1"),
        ("GET", "/pets/cat/1", 2, "/echo/r2"),
        ("POST", "/test/5", 3, "/echo/r3"),
        ("POST", "/pets/dog/1", 3, "/echo/r3"),
        ("GET", "/pets", 3, "/echo/r3"),
        # The $default route appends the whole request path to the integration URI.
        ("GET", "/", 4, "/echo/r4/"),
        # Trailing slash is not stripped: `/pets/dog/1/` is not `GET /pets/dog/1`.
        ("GET", "/pets/dog/1/", 2, "/echo/r2"),
        # HEAD is not GET: the greedy GET route does not take it.
        ("DELETE", "/pets/dog/2", 3, "/echo/r3"),
    ],
)
def test_routes_are_selected_as_aws_selects_them(
    gateway: StagewayServer, method: str, path: str, route_index: int, backend_path: str
) -> None:
    status, _, echoed = get_json(gateway.url + path, method=method)
    assert status == 200
    assert echoed["method"] == method
    assert echoed["path"] == backend_path


def test_named_stage_strips_its_prefix_for_routing(gateway: StagewayServer) -> None:
    status, _, echoed = get_json(gateway.url + "/dev/pets/dog/2")
    assert status == 200 and echoed["path"] == "/echo/r1"


def test_default_route_forwards_the_full_path_with_stage_and_query(gateway: StagewayServer) -> None:
    # An HTTP integration with no path: $default sends the full request path, stage segment included (§2.2).
    status, _, echoed = get_json(gateway.url + "/dev/", method="GET")
    assert status == 200 and echoed["path"] == "/echo/r4/dev/"
    status, _, echoed = get_json(gateway.url + "/pets/dog/2?a=1&b=x%20y&a=2")
    assert echoed["query"] == "a=1&b=x%20y&a=2"


def test_path_parameters_are_substituted_into_the_uri(gateway: StagewayServer) -> None:
    status, _, echoed = get_json(gateway.url + "/greedy/a/b/c")
    assert status == 200 and echoed["path"] == "/echo/greedy/a/b/c"
    status, _, echoed = get_json(gateway.url + "/param/42")
    # integrationMethod POST overrides the client's GET.
    assert status == 200 and echoed["path"] == "/echo/param/42/x" and echoed["method"] == "POST"


def test_unmatched_path_is_aws_not_found(gateway: StagewayServer) -> None:
    status, headers, body, _ = http(
        "GET", gateway.url + "/anything", headers={"Host": "other00001.execute-api.localhost"}
    )
    # API `other` has no $default stage and no route for that: 404 with AWS's exact body.
    assert status == 404
    assert body == b'{"message":"Not Found"}'
    assert headers["content-type"] == "application/json"
    assert len(headers["apigw-requestid"]) == 16 and headers["apigw-requestid"].endswith("=")


def test_execute_api_host_selects_the_api(gateway: StagewayServer) -> None:
    host = {"Host": f"other00001.execute-api.localhost:{gateway.port}"}
    status, _, echoed = get_json(gateway.url + "/beta/hello", headers=host)
    assert status == 200 and echoed["path"] == "/echo/beta/hello"
    status, _, _ = get_json(gateway.url + "/hello", headers={"Host": "nosuchapi0.execute-api.localhost"})
    assert status == 404


def test_forwarding_headers_reach_the_backend(gateway: StagewayServer) -> None:
    _status, _, echoed = get_json(
        gateway.url + "/pets/dog/2", headers={"X-Forwarded-For": "203.0.113.9", "X-Custom": "kept"}
    )
    headers = {name.lower(): value for name, value in echoed["headers"].items()}  # type: ignore[attr-defined]
    assert headers["x-custom"] == "kept"
    assert headers["x-forwarded-for"] == "203.0.113.9, 127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-amzn-trace-id"].startswith("Root=1-")
    assert "host=" in headers["forwarded"]
    assert headers["host"].startswith("127.0.0.1:")


def test_bodies_and_repeated_headers_pass_through(gateway: StagewayServer) -> None:
    payload = bytes(range(256)) * 100
    status, _headers, body, _ = http(
        "POST", gateway.url + "/raw", body=payload, headers={"Content-Type": "application/octet-stream"}
    )
    assert status == 200 and body == payload
    status, _, _, pairs = http("GET", gateway.url + "/cookies")
    assert [value for name, value in pairs if name == "set-cookie"] == ["a=1; Path=/", "b=2; HttpOnly"]


def test_backend_down_is_500_and_slow_backend_is_503(gateway: StagewayServer) -> None:
    status, _, body, _ = http("GET", gateway.url + "/dead")
    assert (status, body) == (500, b'{"message":"Internal Server Error"}')
    started = time.monotonic()
    status, _, body, _ = http("GET", gateway.url + "/slow?ms=3000")
    assert (status, body) == (503, b'{"message":"Service Unavailable"}')
    assert time.monotonic() - started < 2.5
    # ...and the gateway keeps serving.
    assert http("GET", gateway.url + "/pets/dog/1")[0] == 200


def _read_response(sock: socket.socket) -> bytes:
    """Status line, headers and a content-length delimited body, however the server split its writes."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")),
        0,
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def _raw_exchange(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        return _read_response(sock)


def test_body_over_10_mb_is_refused(gateway: StagewayServer) -> None:
    # A declared length over the quota is answered before the body is read.
    answer = _raw_exchange(
        gateway.port, b"POST /raw HTTP/1.1\r\nHost: x\r\nContent-Length: 10485761\r\n\r\n" + b"x" * 1000
    )
    assert answer.startswith(b"HTTP/1.1 413")
    assert answer.endswith(b'{"message":"Request Entity Too Large"}')
    # A chunked body is counted as it arrives.
    chunk = b"x" * (1024 * 1024)
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
        sock.sendall(b"POST /raw HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        try:
            for _ in range(11):
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except OSError:
            pass  # the gateway may stop reading once it has answered
        answer = _read_response(sock)
    assert answer.startswith(b"HTTP/1.1 413")


def test_malformed_http_gets_400_and_no_traceback(gateway: StagewayServer) -> None:
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=5) as sock:
        sock.sendall(b"GARBAGE \x00\x01 NOT HTTP\r\n\r\n")
        answer = _read_response(sock)
    assert answer.startswith(b"HTTP/1.1 400")
    assert "Traceback" not in gateway.log()
    assert http("GET", gateway.url + "/pets/dog/1")[0] == 200


def test_each_request_writes_one_access_log_line(gateway: StagewayServer) -> None:
    _status, headers, _, _ = http("GET", gateway.url + "/pets/dog/1?x=1")
    request_id = headers["apigw-requestid"]
    time.sleep(0.3)
    lines = [line for line in gateway.log().splitlines() if request_id in line]
    assert len(lines) == 1
    assert '"GET /pets/dog/1?x=1 HTTP/1.1" 200' in lines[0] and '"GET /pets/dog/1"' in lines[0]


def test_in_flight_requests_finish_on_sigterm(backend: BackendServer, tmp_path: Path) -> None:
    (tmp_path / "api.yaml").write_text(
        f"""
apis:
  drain:
    routes:
      GET /slow:
        integration: {{integrationType: HTTP_PROXY, integrationUri: "{backend.url}/slow"}}
"""
    )
    server = StagewayServer(tmp_path / "api.yaml", args=("--no-admin",)).start()
    result: dict[str, object] = {}

    def slow_call() -> None:
        # urllib sends `Connection: close`: the pipeline answers it.
        result["status"] = http("GET", server.url + "/slow?ms=800")[0]

    caller = threading.Thread(target=slow_call)
    caller.start()
    # A keep-alive request without a body: the proxy lane answers it (tests/e2e/test_proxy_lane.py).
    lane_call = HTTPConnection("127.0.0.1", server.port, timeout=10)
    lane_call.putrequest("GET", "/slow?ms=800", skip_accept_encoding=True)
    lane_call.endheaders()
    time.sleep(0.3)
    assert server.process is not None
    server.process.send_signal(signal.SIGTERM)
    caller.join(10)
    assert result.get("status") == 200
    lane_answer = lane_call.getresponse()
    assert lane_answer.status == 200 and json.loads(lane_answer.read()) == {"slept_ms": 800}
    assert lane_answer.getheader("connection") == "close"  # the server is closing
    lane_call.close()
    assert server.process.wait(10) == 0


def test_an_invalid_file_is_refused_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("apis:\n  x:\n    routes:\n      GET /a/{b+}/c: nothing\n")
    completed = subprocess.run(
        [sys.executable, "-m", "stageway", "serve", str(path), "--port", str(free_port()), "--no-admin",
         "--store", "memory://"],
        capture_output=True, text=True, timeout=30, check=False,
    )
    assert completed.returncode == 2
    assert f"{path}:4" in completed.stderr
    assert "Traceback" not in completed.stderr
