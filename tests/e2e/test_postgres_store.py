"""Two `stageway serve` nodes on one PostgreSQL store (the real server at 127.0.0.1:5432), as two machines
behind a load balancer would run: what one node's admin API changes, the other serves."""

from __future__ import annotations

import json
import time
from pathlib import Path

import boto3

from tests.support.backend import start_backend
from tests.support.postgres import postgres_store_url
from tests.support.stageway_server import StagewayServer, free_port, http


def test_two_nodes_serve_what_either_deploys(tmp_path: Path) -> None:
    with start_backend() as backend, postgres_store_url() as store:
        (tmp_path / "api.yaml").write_text(
            f"""
apis:
  shared:
    routes:
      $default: {{integration: {{integrationType: HTTP_PROXY, integrationUri: "{backend.url}/echo"}}}}
"""
        )
        admin_port = free_port()
        first = StagewayServer(
            tmp_path / "api.yaml", args=("--admin-port", str(admin_port), "--no-access-log"), store=store
        )
        # The second node has no file and no admin listener: everything it serves comes from the store.
        second = StagewayServer(args=("--no-admin", "--no-access-log"), store=store)
        with first, second:
            status, _, body, _ = http("GET", second.url + "/x")
            assert status == 200 and json.loads(body)["path"] == "/echo/x"

            client = boto3.client(
                "apigatewayv2", endpoint_url=f"http://127.0.0.1:{admin_port}", region_name="us-east-1",
                aws_access_key_id="x", aws_secret_access_key="x",
            )
            api_id = client.get_apis()["Items"][0]["ApiId"]
            integration = client.create_integration(
                ApiId=api_id, IntegrationType="HTTP_PROXY", IntegrationMethod="GET",
                IntegrationUri=f"{backend.url}/pets/1", PayloadFormatVersion="1.0",
            )["IntegrationId"]
            client.create_route(ApiId=api_id, RouteKey="GET /one", Target=f"integrations/{integration}")
            # The second node polls the store's version twice a second: the route reaches it within a moment.
            for node in (first, second):
                deadline = time.monotonic() + 10
                while True:
                    status, _, body, _ = http("GET", node.url + "/one")
                    if status == 200 and json.loads(body).get("id") == 1:
                        break
                    assert time.monotonic() < deadline, f"{node.url} never served GET /one: {status} {body!r}"
                    time.sleep(0.1)


def test_an_unreachable_postgres_store_stops_serve_with_a_clear_error(tmp_path: Path) -> None:
    server = StagewayServer(store="postgresql://stageway:secret@127.0.0.1:1/nowhere?connect_timeout=2")
    try:
        server.start(timeout_s=20)
    except RuntimeError as error:
        message = str(error)
    else:
        server.stop()
        raise AssertionError("serve started without its store")
    assert "cannot open the store postgresql://stageway:***@127.0.0.1:1/nowhere" in message
    assert "secret" not in message and "Traceback" not in message
