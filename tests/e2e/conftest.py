"""Fixtures the end-to-end modules share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.backend import BackendServer, start_backend
from tests.support.jwks_server import JwksServer


@pytest.fixture(scope="module")
def backend() -> Iterator[BackendServer]:
    """The test backend (tests/support/backend.py), one per test module."""
    with start_backend() as server:
        yield server


@pytest.fixture(scope="module")
def issuer() -> Iterator[JwksServer]:
    """An OpenID Connect issuer (tests/support/jwks_server.py) with one RS256 key, kid "rsa", one per module."""
    with JwksServer() as server:
        server.add_key("RS256", kid="rsa")
        yield server
