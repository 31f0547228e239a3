"""Several serving processes on one store: an API file they start from, and a route added through an admin
listener afterwards, which every process must come to serve (the `/one` route answers the backend's pet 1)."""

from __future__ import annotations

from pathlib import Path

import boto3

NEW_ROUTE_PATH = "/one"


def write_echo_api(path: Path, backend_url: str, name: str) -> Path:
    """An API file whose `$default` route proxies everything to the backend's `/echo`."""
    path.write_text(
        f"""
apis:
  {name}:
    routes:
      $default: {{integration: {{integrationType: HTTP_PROXY, integrationUri: "{backend_url}/echo"}}}}
"""
    )
    return path


def add_route_through_admin(admin_port: int, backend_url: str) -> None:
    """`GET /one` on the store's only API, made with boto3 against the admin listener."""
    client = boto3.client(
        "apigatewayv2", endpoint_url=f"http://127.0.0.1:{admin_port}", region_name="us-east-1",
        aws_access_key_id="x", aws_secret_access_key="x",
    )
    api_id = client.get_apis()["Items"][0]["ApiId"]
    integration = client.create_integration(
        ApiId=api_id, IntegrationType="HTTP_PROXY", IntegrationMethod="GET",
        IntegrationUri=f"{backend_url}/pets/1", PayloadFormatVersion="1.0",
    )["IntegrationId"]
    client.create_route(ApiId=api_id, RouteKey=f"GET {NEW_ROUTE_PATH}", Target=f"integrations/{integration}")
