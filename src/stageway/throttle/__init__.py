"""Throttle back ends: where token buckets live (spec §8).

The pipeline holds one `Throttler` for the life of the process (buckets outlive deployments) and calls
`throttler.admit_now(...)`, or when that has no answer `await throttler.admit(...)`, with
`stage_throttle.limits_for(route_key)` once per request; False means 429.
`MemoryThrottler` keeps buckets in this process; `RedisThrottler` keeps them in Redis so that several
gateway nodes share one budget. The arithmetic is `stageway.core.throttle`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from stageway.core.throttle import ThrottleLimit


class Throttler(Protocol):
    def admit_now(self, limits: Sequence[ThrottleLimit], now: float) -> bool | None:
        """`admit`'s answer when the back end can give it without I/O (in-process buckets), else None: the
        caller then awaits `admit`. Spares the per-request coroutine where there is nothing to wait for."""
        ...

    async def admit(self, limits: Sequence[ThrottleLimit], now: float) -> bool:
        """Take a token from every bucket in `limits` if each has one (all or nothing). `now` is seconds
        on the caller's monotonic clock; a back end shared between processes may use its own clock."""
        ...

    async def close(self) -> None: ...


def create_throttler(url: str | None) -> Throttler:
    """The back end a `--throttle` option names: None or `memory://` for in-process buckets,
    `redis://host:port/db` (or `rediss://`, `unix://`) for buckets shared through Redis."""
    if not url or url == "memory://":
        from stageway.throttle.memory import MemoryThrottler

        return MemoryThrottler()
    if url.startswith(("redis://", "rediss://", "unix://")):
        from stageway.throttle.redis import RedisThrottler

        return RedisThrottler.from_url(url)
    raise ValueError(f"unknown throttle back end {url!r}: use memory:// or redis://host:port")
