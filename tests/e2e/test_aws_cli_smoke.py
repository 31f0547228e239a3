"""The real AWS CLI against stageway's admin listener: create an API, an integration, a route and a stage,
then call the route on the data plane."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.backend import BackendServer
from tests.support.control import ControlPlane, start_control_plane
from tests.support.stageway_server import http

pytest.importorskip("awscli", reason="the AWS CLI (awscli from PyPI) is a dev dependency")


@pytest.fixture(scope="module")
def plane() -> Iterator[ControlPlane]:
    with start_control_plane() as running:
        yield running


def aws(plane: ControlPlane, *args: str) -> Any:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    completed = subprocess.run(
        [sys.executable, "-m", "awscli", "--endpoint-url", plane.admin_url, "--output", "json", *args],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout) if completed.stdout.strip() else None


def test_aws_cli_builds_an_api_that_serves(plane: ControlPlane, backend: BackendServer) -> None:
    api = aws(plane, "apigatewayv2", "create-api", "--name", "cli-made", "--protocol-type", "HTTP")
    api_id = api["ApiId"]
    assert api["ApiEndpoint"] == f"http://{api_id}.execute-api.localhost:{plane.data_port}"
    integration = aws(
        plane, "apigatewayv2", "create-integration", "--api-id", api_id,
        "--integration-type", "HTTP_PROXY", "--integration-method", "GET",
        "--integration-uri", f"{backend.url}/pets/{{id}}", "--payload-format-version", "1.0",
    )
    route = aws(
        plane, "apigatewayv2", "create-route", "--api-id", api_id, "--route-key", "GET /pets/{id}",
        "--target", f"integrations/{integration['IntegrationId']}",
    )
    assert route["RouteKey"] == "GET /pets/{id}"
    stage = aws(plane, "apigatewayv2", "create-stage", "--api-id", api_id, "--stage-name", "prod", "--auto-deploy")
    assert stage["StageName"] == "prod"
    host = {"Host": f"{api_id}.execute-api.localhost"}
    deadline = time.monotonic() + 3
    status = 0
    while time.monotonic() < deadline and status != 200:
        status, _, body, _ = http("GET", f"{plane.data_url}/prod/pets/1", headers=host)
        time.sleep(0.05)
    assert status == 200
    assert json.loads(body)["type"] == "dog"
    listed = aws(plane, "apigatewayv2", "get-routes", "--api-id", api_id)
    assert [item["RouteKey"] for item in listed["Items"]] == ["GET /pets/{id}"]
