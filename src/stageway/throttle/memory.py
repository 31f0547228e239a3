"""In-process token buckets: one dict lookup and a little arithmetic per bucket, no locks (the event
loop runs one request's `admit` at a time)."""

from __future__ import annotations

from collections.abc import Sequence

from stageway.core.throttle import ThrottleLimit, TokenBucket, take_all


class MemoryThrottler:
    """Buckets by `ThrottleLimit.key`, created full on first use. A bucket whose limits changed (a new
    deployment) is resized in place, keeping the tokens it has up to the new burst."""

    def __init__(self) -> None:
        self._buckets: dict[str, TokenBucket] = {}

    def _bucket(self, limit: ThrottleLimit, now: float) -> TokenBucket:
        bucket = self._buckets.get(limit.key)
        if bucket is None:
            bucket = self._buckets[limit.key] = TokenBucket.full(limit.rate, limit.burst, now)
        elif bucket.rate != limit.rate or bucket.burst != limit.burst:
            bucket.resize(limit.rate, limit.burst)
        return bucket

    def admit_now(self, limits: Sequence[ThrottleLimit], now: float) -> bool:
        """`admit` without the coroutine, for callers that know the back end is in-process."""
        if len(limits) == 1:  # the common case: only the account bucket applies
            return self._bucket(limits[0], now).take(now)
        return take_all([self._bucket(limit, now) for limit in limits], now)

    async def admit(self, limits: Sequence[ThrottleLimit], now: float) -> bool:
        return self.admit_now(limits, now)

    def bucket(self, key: str) -> TokenBucket | None:
        """The state of one bucket (for tests and diagnostics)."""
        return self._buckets.get(key)

    async def close(self) -> None:
        self._buckets.clear()
