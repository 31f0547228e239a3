"""Lambda authorizer results are cached for `authorizerResultTtlInSeconds`, and ResetAuthorizersCache
(boto3, through the admin listener) flushes them on the data plane."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.control import ControlPlane, start_control_plane
from tests.support.stageway_server import http

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    folder = tmp_path_factory.mktemp("cache")
    shutil.copytree(FIXTURES / "gateway_functions", folder / "code")
    shutil.copytree(FIXTURES / "authorizers", folder / "authorizers")
    (folder / "api.yaml").write_text(
        """
functions:
  echo: {runtime: python3.11, handler: handlers.echo_event, code: code}
  gate: {runtime: python3.11, handler: handlers.simple, code: authorizers}
apis:
  cached:
    id: cached0001
    integrations:
      echo: {integrationType: AWS_PROXY, integrationUri: echo}
    authorizers:
      gate:
        authorizerType: REQUEST
        authorizerUri: gate
        authorizerPayloadFormatVersion: "2.0"
        enableSimpleResponses: true
        authorizerResultTtlInSeconds: 300
        identitySource: [$request.header.x-token]
    routes:
      GET /gate: {integration: echo, authorizer: gate}
"""
    )
    with start_control_plane(folder / "api.yaml") as running:
        yield running


def authorizer_saw(plane: ControlPlane) -> str:
    """The request id of the request the authorizer was invoked for (its context carries its event)."""
    status, _, body, _ = http("GET", plane.data_url + "/gate", headers={"X-Token": "allow"})
    assert status == 200
    context = json.loads(body)["requestContext"]["authorizer"]["lambda"]
    request_id: str = json.loads(context["event"])["requestContext"]["requestId"]
    return request_id


def test_results_are_cached_until_reset(plane: ControlPlane) -> None:
    first = authorizer_saw(plane)
    assert authorizer_saw(plane) == first  # answered from the cache: the function was not invoked again
    plane.client().reset_authorizers_cache(ApiId="cached0001", StageName="$default")
    deadline_polls = 40
    fresh = first
    while fresh == first and deadline_polls:
        fresh = authorizer_saw(plane)
        deadline_polls -= 1
    assert fresh != first
