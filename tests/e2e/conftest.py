"""Fixtures the end-to-end modules share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.backend import BackendServer, start_backend


@pytest.fixture(scope="module")
def backend() -> Iterator[BackendServer]:
    """The test backend (tests/support/backend.py), one per test module."""
    with start_backend() as server:
        yield server
