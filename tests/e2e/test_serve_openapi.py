"""`stageway serve` takes an OpenAPI 3.0 document with AWS's extensions as it is, beside YAML files."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.backend import start_backend
from tests.support.stageway_server import StagewayServer, free_port, http


def openapi_document(backend_url: str) -> dict[str, object]:
    return {
        "openapi": "3.0.1",
        "info": {"title": "pets from openapi", "version": "1"},
        "paths": {
            "/pets/{petId}": {
                "get": {
                    "parameters": [{"name": "petId", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "x-amazon-apigateway-integration": {
                        "type": "http_proxy",
                        "httpMethod": "GET",
                        "uri": f"{backend_url}/pets/{{petId}}",
                        "payloadFormatVersion": "1.0",
                    },
                }
            }
        },
        "x-amazon-apigateway-cors": {"allowOrigins": ["https://app.example.com"]},
    }


def test_an_openapi_file_is_served_with_its_cors(tmp_path: Path) -> None:
    with start_backend() as backend:
        path = tmp_path / "pets.json"
        path.write_text(json.dumps(openapi_document(backend.url)))
        with StagewayServer(path, args=("--no-admin",)) as server:
            status, headers, body, _ = http(
                "GET", server.url + "/pets/2", headers={"Origin": "https://app.example.com"}
            )
            assert status == 200 and json.loads(body)["type"] == "cat"
            assert headers["access-control-allow-origin"] == "https://app.example.com"
            assert "pets from openapi" in server.log()


def test_an_invalid_openapi_file_is_refused(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "swagger.yaml"
    path.write_text("swagger: '2.0'\ninfo: {title: old, version: '1'}\npaths: {}\n")
    completed = subprocess.run(
        [sys.executable, "-m", "stageway", "serve", str(path), "--port", str(free_port()), "--no-admin",
         "--store", "memory://"],
        capture_output=True, text=True, timeout=30, check=False,
    )
    assert completed.returncode == 2
    assert f"{path}:1: OpenAPI import" in completed.stderr
