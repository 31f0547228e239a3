"""The Redis throttle back end against a real Redis (127.0.0.1:6379, or STAGEWAY_TEST_REDIS_URL).

Two throttlers on one Redis stand for two gateway nodes: they must share one budget.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

redis_asyncio = pytest.importorskip("redis.asyncio", reason="the redis package is not installed")

from stageway.core.throttle import ThrottleLimit
from stageway.throttle import create_throttler
from stageway.throttle.redis import RedisThrottler

REDIS_URL = os.environ.get("STAGEWAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _redis_reachable() -> bool:
    async def ping() -> bool:
        client = redis_asyncio.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
        try:
            return bool(await client.ping())
        except Exception:  # noqa: BLE001 - any failure means "not reachable": skip
            return False
        finally:
            await client.aclose()

    return asyncio.run(ping())


pytestmark = pytest.mark.skipif(not _redis_reachable(), reason=f"Redis is not reachable at {REDIS_URL}")


def run(test: Callable[[str], Awaitable[Any]]) -> Any:
    """Run `test` with a key prefix of its own, deleting its keys afterwards."""
    prefix = f"{{stageway-test-{uuid.uuid4().hex}}}:"

    async def main() -> Any:
        try:
            return await test(prefix)
        finally:
            client = redis_asyncio.Redis.from_url(REDIS_URL)
            keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
            if keys:
                await client.delete(*keys)
            await client.aclose()

    return asyncio.run(main())


def node(prefix: str) -> RedisThrottler:
    return RedisThrottler(redis_asyncio.Redis.from_url(REDIS_URL), prefix=prefix)


def test_two_nodes_share_one_budget() -> None:
    async def scenario(prefix: str) -> None:
        a, b = node(prefix), node(prefix)
        limits = [ThrottleLimit("api/prod/GET /pets", 0.001, 5)]
        answers = [await (a if i % 2 else b).admit(limits, time.monotonic()) for i in range(10)]
        assert answers == [True] * 5 + [False] * 5
        await a.close()
        await b.close()

    run(scenario)


def test_concurrent_requests_never_overspend() -> None:
    async def scenario(prefix: str) -> None:
        nodes = [node(prefix) for _ in range(3)]
        limits = [ThrottleLimit("account", 0.001, 20)]
        answers = await asyncio.gather(*(nodes[i % 3].admit(limits, 0.0) for i in range(60)))
        assert sum(answers) == 20
        for each in nodes:
            await each.close()

    run(scenario)


def test_all_or_nothing_across_buckets() -> None:
    async def scenario(prefix: str) -> None:
        throttler = node(prefix)
        account = ThrottleLimit("account", 0.001, 3)
        closed_route = ThrottleLimit("api/prod/POST /pets", 0, 0)
        open_route = ThrottleLimit("api/prod/GET /pets", 0.001, 10)
        assert not await throttler.admit([account, closed_route], 0.0)
        # The refused request spent no account token: three are still there.
        assert [await throttler.admit([account, open_route], 0.0) for _ in range(4)] == [
            True,
            True,
            True,
            False,
        ]
        await throttler.close()

    run(scenario)


def test_buckets_refill_at_their_rate() -> None:
    async def scenario(prefix: str) -> None:
        throttler = node(prefix)
        limits = [ThrottleLimit("api/prod/$default", 20, 1)]
        assert await throttler.admit(limits, 0.0)
        assert not await throttler.admit(limits, 0.0)
        await asyncio.sleep(0.08)  # 1.6 tokens' worth at 20/s, capped at the burst of 1
        assert await throttler.admit(limits, 0.0)
        assert not await throttler.admit(limits, 0.0)
        await throttler.close()

    run(scenario)


def test_buckets_expire_once_they_would_be_full() -> None:
    async def scenario(prefix: str) -> None:
        throttler = node(prefix)
        await throttler.admit([ThrottleLimit("k", 10, 30)], 0.0)
        ttl = await throttler.client.ttl(f"{prefix}k")
        assert 0 < ttl <= 4  # 30 tokens at 10/s refill in 3 s
        await throttler.close()

    run(scenario)


def test_create_throttler_from_a_url() -> None:
    async def scenario(prefix: str) -> None:
        throttler = create_throttler(REDIS_URL)
        assert isinstance(throttler, RedisThrottler)
        assert await throttler.admit([ThrottleLimit(f"{prefix}x", 1, 1)], 0.0)
        await throttler.client.delete(f"{throttler.prefix}{prefix}x")
        await throttler.close()

    run(scenario)


def test_an_unreachable_redis_admits_requests() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on `port` now: connections are refused at once.

    async def scenario() -> None:
        throttler = RedisThrottler.from_url(f"redis://127.0.0.1:{port}/0")
        assert await throttler.admit([ThrottleLimit("account", 0, 0)], 0.0)
        await throttler.close()

    asyncio.run(scenario())
