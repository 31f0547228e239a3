"""Throttling: token buckets with AWS's levels (spec §8), as pure arithmetic.

Pure module: nothing here reads the clock; callers pass `now` (seconds, any monotonic origin). AWS
(http-api-throttling): "API Gateway throttles requests to your API using the token bucket algorithm,
where a token counts for a request"; the burst is "the maximum bucket size". A bucket starts full, so
`burst` requests can arrive at once, then refills at `rate` tokens per second up to `burst`.

Levels: the account bucket (default 10,000 rps, burst 5,000) always applies; a stage's
`defaultRouteSettings` limits apply to each of its routes, and `routeSettings["GET /pets"]` replaces them
for that route. A request is admitted only if every bucket that applies has a token, and then takes one
from each (all or nothing: a request refused at the route does not spend account tokens).

`compile_stage_throttle` runs once per deployment; `StageThrottle.limits_for(route_key)` is the ready tuple
of limits a route's requests pass to a throttler (`stageway.throttle`), looked up once per deployment too
(the compiler keeps it on the route's plan).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final


@dataclass(frozen=True, slots=True)
class ThrottleLimit:
    """One bucket's identity and size: `key` names the bucket a throttler keeps."""

    key: str
    rate: float
    """Tokens added per second (steady-state requests per second)."""
    burst: int
    """Bucket capacity."""


# Account-level limits per region; af-south-1 and eu-south-1 default to 2,500 / 1,250 (spec §8).
ACCOUNT_RATE: Final = 10_000.0
ACCOUNT_BURST: Final = 5_000
_SMALL_REGIONS: Final = frozenset({"af-south-1", "eu-south-1"})


def account_limit(
    region: str = "us-east-1", rate: float | None = None, burst: int | None = None
) -> ThrottleLimit:
    """The account bucket of a region; `rate`/`burst` override AWS's defaults (a raised quota)."""
    default_rate, default_burst = (
        (2_500.0, 1_250) if region in _SMALL_REGIONS else (ACCOUNT_RATE, ACCOUNT_BURST)
    )
    return ThrottleLimit(
        "account", default_rate if rate is None else float(rate), default_burst if burst is None else burst
    )


# Refills add `elapsed * rate` in floating point, so a bucket that should hold exactly one token may hold
# 0.9999999999; anything this close to a whole token counts as one.
_WHOLE_TOKEN: Final = 1.0 - 1e-9


@dataclass(slots=True)
class TokenBucket:
    """A bucket's state. `tokens` may be fractional; a request needs a whole token."""

    rate: float
    burst: int
    tokens: float
    updated: float
    """The `now` of the last refill."""

    @classmethod
    def full(cls, rate: float, burst: int, now: float) -> TokenBucket:
        return cls(rate, burst, float(burst), now)

    def resize(self, rate: float, burst: int) -> None:
        """Take new limits (a redeployed stage), keeping the tokens it holds up to the new burst."""
        self.rate = rate
        self.burst = burst
        if self.tokens > burst:
            self.tokens = float(burst)

    def refill(self, now: float) -> None:
        # A clock that steps back never removes tokens; the bucket just waits for time to catch up.
        elapsed = now - self.updated
        if elapsed > 0:
            self.tokens = min(float(self.burst), self.tokens + elapsed * self.rate)
            self.updated = now

    def take(self, now: float) -> bool:
        """Refill to `now`, then take a token if there is one. (`refill` written out: this runs for every
        request, and a method call costs as much as the arithmetic.)"""
        tokens = self.tokens
        elapsed = now - self.updated
        if elapsed > 0:
            tokens = min(float(self.burst), tokens + elapsed * self.rate)
            self.updated = now
        if tokens >= _WHOLE_TOKEN:
            self.tokens = max(0.0, tokens - 1.0)
            return True
        self.tokens = tokens
        return False


def take_all(buckets: Sequence[TokenBucket], now: float) -> bool:
    """Take one token from every bucket if each has one; otherwise take none."""
    admitted = True
    for bucket in buckets:
        bucket.refill(now)
        if bucket.tokens < _WHOLE_TOKEN:
            admitted = False  # every bucket is still refilled: its clock moves on either way
    if not admitted:
        return False
    for bucket in buckets:
        bucket.tokens = max(0.0, bucket.tokens - 1.0)
    return True


@dataclass(frozen=True, slots=True)
class StageThrottle:
    """A stage's throttle limits by route key, computed once per deployment."""

    by_route: Mapping[str, tuple[ThrottleLimit, ...]]
    account_only: tuple[ThrottleLimit, ...]

    def limits_for(self, route_key: str) -> tuple[ThrottleLimit, ...]:
        """The buckets a request on this route must take a token from (the account bucket first)."""
        return self.by_route.get(route_key, self.account_only)


def _level(
    settings: Mapping[str, Any] | None, fallback: tuple[float, int], account: ThrottleLimit
) -> tuple[float, int] | None:
    """(rate, burst) of one level, or None when its settings set neither field. A field the level leaves
    unset comes from `fallback` (the stage default's value, else the account's) [INF: unset means no
    limit at this level]. Values above the account's are cut to it: "The default route throttling limits
    can't exceed account-level rate limits" (http-api-throttling)."""
    if not settings:
        return None
    rate = settings.get("throttlingRateLimit")
    burst = settings.get("throttlingBurstLimit")
    if rate is None and burst is None:
        return None
    return (
        fallback[0] if rate is None else min(float(rate), account.rate),
        fallback[1] if burst is None else min(int(burst), account.burst),
    )


def compile_stage_throttle(
    api_id: str,
    stage_name: str,
    route_keys: Iterable[str],
    default_route_settings: Mapping[str, Any] | None,
    route_settings: Mapping[str, Mapping[str, Any]] | None,
    *,
    account: ThrottleLimit | None = None,
) -> StageThrottle:
    """The throttle limits of one stage's routes from its `defaultRouteSettings` and `routeSettings`.

    `route_keys` are the deployed routes' keys (`$default` included). Each route with limits gets its own
    bucket, `{apiId}/{stage}/{routeKey}`: the stage default "applies to each route of the stage" rather
    than to the stage as a whole, and a bucket is shared by every client (HTTP APIs have no per-client
    throttling) [INF for the key, emulator consensus]. A rate of 0 admits nothing once the first `burst`
    requests are spent, and a burst of 0 admits nothing: both follow from the bucket arithmetic (spec
    §8: 0 and 0 block all traffic).
    """
    account = account if account is not None else account_limit()
    account_level = (account.rate, account.burst)
    stage_level = _level(default_route_settings, account_level, account)
    route_settings = route_settings or {}
    by_route: dict[str, tuple[ThrottleLimit, ...]] = {}
    for route_key in {*route_keys, *route_settings}:
        level = _level(route_settings.get(route_key), stage_level or account_level, account) or stage_level
        if level is not None:
            by_route[route_key] = (account, ThrottleLimit(f"{api_id}/{stage_name}/{route_key}", *level))
    return StageThrottle(by_route, (account,))
