"""A running control plane for end-to-end tests: `stageway serve --admin-port` and a boto3 client for it.

    with start_control_plane(yaml_file, ...) as plane:
        client = plane.client()            # boto3 apigatewayv2, endpoint_url = the admin listener
        plane.data_url                     # the data plane, http://127.0.0.1:<port>
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from tests.support.stageway_server import StagewayServer, free_port

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"


@dataclass
class ControlPlane:
    server: StagewayServer
    admin_port: int

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    @property
    def data_url(self) -> str:
        return self.server.url

    @property
    def data_port(self) -> int:
        return self.server.port

    def client(self, **config: Any) -> Any:
        """A boto3 apigatewayv2 client with dummy credentials, pointed at the admin listener."""
        return boto3.client(
            "apigatewayv2",
            endpoint_url=self.admin_url,
            region_name=REGION,
            aws_access_key_id="AKIDEXAMPLE",
            aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            config=Config(retries={"max_attempts": 1}, **config),
        )


@contextmanager
def start_control_plane(*files: Path, store: str = "memory://") -> Iterator[ControlPlane]:
    """Both listeners of one `stageway serve`, serving `files` (YAML) besides what the tests create
    through the admin listener."""
    admin_port = free_port()
    server = StagewayServer(*files, args=("--admin-port", str(admin_port), "--no-access-log"), store=store)
    server.start()
    try:
        _wait_for_port(admin_port)
        yield ControlPlane(server, admin_port)
    finally:
        server.stop()


def _wait_for_port(port: int, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the admin listener did not open port {port}") from None
            time.sleep(0.05)
