"""In-process token buckets: one dict lookup and a little arithmetic per bucket, no locks (the event
loop runs one request's `admit` at a time)."""

from __future__ import annotations

from collections.abc import Sequence

from stageway.core.throttle import ThrottleLimit, TokenBucket, take_all

_Resolved = tuple[Sequence[ThrottleLimit], tuple[TokenBucket, ...], TokenBucket | None]


class MemoryThrottler:
    """Buckets by `ThrottleLimit.key`, created full on first use. A bucket whose limits changed (a new
    deployment) is resized in place, keeping the tokens it has up to the new burst."""

    # Resolved bucket lists are kept per limits tuple; a few deployments' worth is plenty.
    _MAX_RESOLVED = 4096

    def __init__(self) -> None:
        self._buckets: dict[str, TokenBucket] = {}
        self._resolved: dict[int, _Resolved] = {}
        """By `id()` of a stage's limits tuple (compiled once per deployment): its buckets, checked for size
        once, and the bucket itself when there is only one. The tuple is kept in the entry, so its id cannot
        be reused while the entry exists."""

    def _bucket(self, limit: ThrottleLimit, now: float) -> TokenBucket:
        bucket = self._buckets.get(limit.key)
        if bucket is None:
            bucket = self._buckets[limit.key] = TokenBucket.full(limit.rate, limit.burst, now)
        elif bucket.rate != limit.rate or bucket.burst != limit.burst:
            bucket.resize(limit.rate, limit.burst)
        return bucket

    def admit_now(self, limits: Sequence[ThrottleLimit], now: float) -> bool:
        """The answer, always: the buckets are in this process."""
        entry = self._resolved.get(id(limits))
        if entry is None or entry[0] is not limits:
            if len(self._resolved) >= self._MAX_RESOLVED:
                self._resolved.clear()
            buckets = tuple(self._bucket(limit, now) for limit in limits)
            entry = self._resolved[id(limits)] = (limits, buckets, buckets[0] if len(buckets) == 1 else None)
        only = entry[2]
        if only is not None:  # the common case: only the account bucket applies
            return only.take(now)
        return take_all(entry[1], now)

    async def admit(self, limits: Sequence[ThrottleLimit], now: float) -> bool:
        return self.admit_now(limits, now)

    def bucket(self, key: str) -> TokenBucket | None:
        """The state of one bucket (for tests and diagnostics)."""
        return self._buckets.get(key)

    async def close(self) -> None:
        self._buckets.clear()
