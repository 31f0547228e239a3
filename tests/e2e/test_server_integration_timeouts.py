"""Integration timeouts when many requests are in flight: the HTTP client keeps all their deadlines on one
loop timer, which must still end each request at its own deadline, whatever the order they were set in."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from stageway.core.errors import IntegrationTimeout
from stageway.integrations.http_proxy import HttpProxyClient
from tests.support.backend import BackendServer, start_backend


@pytest.fixture(scope="module")
def backend() -> Iterator[BackendServer]:
    with start_backend() as server:
        yield server


async def _timed(client: HttpProxyClient, backend: BackendServer, ms: int, timeout_s: float) -> tuple[str, float]:
    started = time.monotonic()
    try:
        response = await client.send(
            "GET", f"{backend.url}/slow?ms={ms}", [("host", f"127.0.0.1:{backend.port}")], b"", timeout_s
        )
    except IntegrationTimeout:
        return "timeout", time.monotonic() - started
    return str(response.status), time.monotonic() - started


def test_a_shorter_timeout_set_later_still_ends_first(backend: BackendServer) -> None:
    async def scenario() -> list[tuple[str, float]]:
        client = HttpProxyClient()
        try:
            long = asyncio.ensure_future(_timed(client, backend, 3000, 2.0))
            await asyncio.sleep(0.05)
            short = asyncio.ensure_future(_timed(client, backend, 3000, 0.2))
            answered = asyncio.ensure_future(_timed(client, backend, 100, 5.0))
            return list(await asyncio.gather(short, answered, long))
        finally:
            await client.close()

    (short, short_s), (answered, _), (long, long_s) = asyncio.run(scenario())
    assert short == "timeout" and 0.19 <= short_s < 0.5
    assert answered == "200"
    assert long == "timeout" and 1.9 <= long_s < 2.4


def test_many_finished_requests_do_not_delay_a_timeout(backend: BackendServer) -> None:
    # Thousands of answered requests leave entries behind for the shared timer; a slow one still ends on time.
    async def scenario() -> tuple[list[str], tuple[str, float]]:
        client = HttpProxyClient()
        try:
            fast = [await _timed(client, backend, 0, 30.0) for _ in range(1500)]
            return [status for status, _ in fast], await _timed(client, backend, 3000, 0.3)
        finally:
            await client.close()

    statuses, (slow, slow_s) = asyncio.run(scenario())
    assert set(statuses) == {"200"}
    assert slow == "timeout" and 0.29 <= slow_s < 0.6
