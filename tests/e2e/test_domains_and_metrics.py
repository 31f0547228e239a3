"""Custom domain names with API mappings (spec §9) and the Prometheus metrics, through a real server:
domains and mappings made with boto3, requests sent with the domain's Host header."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.backend import BackendServer
from tests.support.control import ControlPlane, start_control_plane
from tests.support.stageway_server import http


@pytest.fixture(scope="module")
def plane() -> Iterator[ControlPlane]:
    with start_control_plane() as running:
        yield running


def make_api(client: Any, backend: BackendServer, name: str, stage: str = "$default") -> str:
    """An API whose `$default` route echoes the path it was given, under `/echo/<name>`."""
    api_id: str = client.create_api(Name=name, ProtocolType="HTTP")["ApiId"]
    integration = client.create_integration(
        ApiId=api_id,
        IntegrationType="HTTP_PROXY",
        IntegrationMethod="ANY",
        IntegrationUri=f"{backend.url}/echo/{name}",
        PayloadFormatVersion="1.0",
    )["IntegrationId"]
    client.create_route(ApiId=api_id, RouteKey="$default", Target=f"integrations/{integration}")
    client.create_stage(ApiId=api_id, StageName=stage, AutoDeploy=True)
    return api_id


def wait_until(predicate: Any, timeout_s: float = 3) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def echoed_path(plane: ControlPlane, host: str, path: str) -> tuple[int, str]:
    status, _, body, _ = http("GET", plane.data_url + path, headers={"Host": host})
    return status, json.loads(body)["path"] if status == 200 else ""


def test_api_mappings_route_by_longest_key(plane: ControlPlane, backend: BackendServer) -> None:
    client = plane.client()
    api1 = make_api(client, backend, "api1")
    api2 = make_api(client, backend, "api2")
    api3 = make_api(client, backend, "api3", stage="v2")
    api4 = make_api(client, backend, "api4")
    client.create_domain_name(DomainName="api.example.com")
    for key, api_id, stage in [
        ("", api1, "$default"),
        ("orders/v1/items", api2, "$default"),
        ("orders/v2/items", api3, "v2"),
        ("orders/v2/items/categories", api4, "$default"),
    ]:
        client.create_api_mapping(DomainName="api.example.com", ApiId=api_id, Stage=stage, ApiMappingKey=key)
    host = "api.example.com"
    wait_until(lambda: echoed_path(plane, host, "/customers")[0] == 200)
    # AWS's worked example (spec §9): the matched key is removed before routing.
    assert echoed_path(plane, host, "/orders/v1/items/123") == (200, "/echo/api2/123")
    assert echoed_path(plane, host, "/orders/v2/items/categories/5") == (200, "/echo/api4/5")
    assert echoed_path(plane, host, "/orders/v2/items/7") == (200, "/echo/api3/7")
    assert echoed_path(plane, host, "/customers") == (200, "/echo/api1/customers")
    # A request for another host is not routed through the mappings.
    status, _, _, _ = http("GET", plane.data_url + "/orders/v1/items/123", headers={"Host": "other.example.org"})
    assert status == 404  # several APIs and no --default-api: nothing to serve


def test_deleting_a_mapping_stops_routing(plane: ControlPlane, backend: BackendServer) -> None:
    client = plane.client()
    api_id = make_api(client, backend, "solo")
    client.create_domain_name(DomainName="solo.example.com")
    mapping_id = client.create_api_mapping(DomainName="solo.example.com", ApiId=api_id, Stage="$default")[
        "ApiMappingId"
    ]
    wait_until(lambda: echoed_path(plane, "solo.example.com", "/x")[0] == 200)
    client.delete_api_mapping(DomainName="solo.example.com", ApiMappingId=mapping_id)
    wait_until(lambda: echoed_path(plane, "solo.example.com", "/x")[0] == 404)


def test_disabled_execute_api_endpoint_leaves_only_the_domain(plane: ControlPlane, backend: BackendServer) -> None:
    client = plane.client()
    api_id = make_api(client, backend, "private")
    client.update_api(ApiId=api_id, DisableExecuteApiEndpoint=True)
    client.create_domain_name(DomainName="private.example.com")
    client.create_api_mapping(DomainName="private.example.com", ApiId=api_id, Stage="$default")
    wait_until(lambda: echoed_path(plane, "private.example.com", "/x")[0] == 200)
    assert echoed_path(plane, f"{api_id}.execute-api.localhost", "/x")[0] == 404


def test_metrics_count_requests_by_api_and_stage(plane: ControlPlane, backend: BackendServer) -> None:
    client = plane.client()
    api_id = make_api(client, backend, "counted")
    host = f"{api_id}.execute-api.localhost"
    wait_until(lambda: echoed_path(plane, host, "/a")[0] == 200)
    for _ in range(4):
        http("GET", plane.data_url + "/b", headers={"Host": host})
    with urllib.request.urlopen(f"{plane.admin_url}/metrics", timeout=10) as response:
        text = response.read().decode()
    line = next(
        line
        for line in text.splitlines()
        if line.startswith("stageway_requests_total{") and f'api_id="{api_id}"' in line
    )
    assert 'stage="$default"' in line and 'route=""' in line
    assert float(line.rsplit(" ", 1)[1]) >= 5
    assert f'stageway_latency_milliseconds_count{{api_id="{api_id}"' in text
    assert "stageway_data_processed_bytes_total" in text


def test_domains_from_the_yaml_file(backend: BackendServer, tmp_path: Path) -> None:
    from tests.support.stageway_server import StagewayServer

    (tmp_path / "api.yaml").write_text(
        f"""
apis:
  orders:
    routes:
      $default: {{integration: {{integrationType: HTTP_PROXY, integrationUri: "{backend.url}/echo/orders"}}}}
    stages:
      v1: {{autoDeploy: true}}
  rest:
    routes:
      $default: {{integration: {{integrationType: HTTP_PROXY, integrationUri: "{backend.url}/echo/rest"}}}}
domainNames:
  shop.example.com:
    mappings:
      "": {{api: rest}}
      orders/v1: {{api: orders, stage: v1}}
"""
    )
    with StagewayServer(tmp_path / "api.yaml", args=("--no-admin",)) as server:
        host = {"Host": "shop.example.com"}
        status, _, body, _ = http("GET", server.url + "/orders/v1/42", headers=host)
        assert status == 200 and json.loads(body)["path"] == "/echo/orders/42"
        status, _, body, _ = http("GET", server.url + "/about", headers=host)
        assert status == 200 and json.loads(body)["path"] == "/echo/rest/about"
