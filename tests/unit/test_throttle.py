"""Token buckets and AWS's throttling levels (spec §8, http-api-throttling), and the in-memory back end."""

from __future__ import annotations

import asyncio
import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stageway.core.throttle import (
    ACCOUNT_BURST,
    ACCOUNT_RATE,
    ThrottleLimit,
    TokenBucket,
    account_limit,
    compile_stage_throttle,
    take_all,
)
from stageway.throttle import create_throttler
from stageway.throttle.memory import MemoryThrottler


def admitted(bucket: TokenBucket, times: list[float]) -> int:
    return sum(bucket.take(now) for now in times)


def test_burst_arrives_at_once_then_rate_per_second() -> None:
    # "A clone should implement the bucket so that burst requests can arrive at once and then rate/s are
    # admitted" (spec §8).
    bucket = TokenBucket.full(rate=10, burst=5, now=0.0)
    assert admitted(bucket, [0.0] * 8) == 5
    assert admitted(bucket, [0.05]) == 0  # half a token
    assert admitted(bucket, [0.1]) == 1
    # One second later: 10 tokens came back, but the bucket holds at most 5.
    assert admitted(bucket, [1.1] * 20) == 5


def test_a_clock_that_steps_back_never_adds_tokens() -> None:
    bucket = TokenBucket.full(rate=100, burst=1, now=10.0)
    assert bucket.take(10.0)
    assert not bucket.take(5.0)
    assert not bucket.take(10.0)
    assert bucket.take(10.01)


@pytest.mark.parametrize(
    ("rate", "burst", "expected"),
    [
        (0, 0, 0),  # rate 0 and burst 0 block all traffic (spec §8)
        (100, 0, 0),  # no bucket to hold a token
        (0, 3, 3),  # the first `burst` requests, then nothing ever again
        (1000, 1, 1001),
    ],
)
def test_zero_limits(rate: float, burst: int, expected: int) -> None:
    bucket = TokenBucket.full(rate, burst, 0.0)
    times = [i / 1000 for i in range(1001)]
    assert admitted(bucket, times) == expected


@settings(max_examples=200, deadline=None)
@given(
    rate=st.floats(min_value=0.5, max_value=300),
    burst=st.integers(min_value=2, max_value=200),
    seconds=st.floats(min_value=0.5, max_value=5),
    ticks_per_token=st.integers(min_value=1, max_value=4),
)
def test_admitted_over_time_is_rate_times_t_plus_burst(
    rate: float, burst: int, seconds: float, ticks_per_token: int
) -> None:
    """Clients that always want more (each tick, requests until one is refused; ticks at least as frequent
    as tokens): over [0, T] the bucket admits rate×T + burst, less the fraction of a token left at the end."""
    bucket = TokenBucket.full(rate, burst, 0.0)
    ticks = math.ceil(rate * ticks_per_token * seconds)
    count = 0
    for i in range(ticks + 1):
        while bucket.take(seconds * i / ticks):
            count += 1
    supply = rate * seconds + burst
    assert supply - 1 - 1e-6 < count <= supply + 1e-6


@settings(max_examples=200, deadline=None)
@given(
    rate=st.floats(min_value=0.1, max_value=1000),
    burst=st.integers(min_value=0, max_value=100),
    arrivals=st.lists(st.floats(min_value=0, max_value=10), max_size=400),
)
def test_never_more_than_rate_times_t_plus_burst(rate: float, burst: int, arrivals: list[float]) -> None:
    bucket = TokenBucket.full(rate, burst, 0.0)
    times = sorted(arrivals)
    count = admitted(bucket, times)
    horizon = times[-1] if times else 0.0
    assert count <= rate * horizon + burst + 1e-6


class NaiveBuckets:
    """The bucket rule with exact fractions, written out without TokenBucket: the reference model."""

    def __init__(self) -> None:
        self.state: dict[str, tuple[Fraction, Fraction]] = {}

    def admit(self, limits: list[ThrottleLimit], now: Fraction) -> bool:
        levels = {}
        for limit in limits:
            tokens, last = self.state.get(limit.key, (Fraction(limit.burst), now))
            tokens = (
                min(Fraction(limit.burst), tokens + max(Fraction(0), now - last) * Fraction(limit.rate))
                if now > last
                else tokens
            )
            levels[limit.key] = (tokens, max(last, now))
        if all(tokens >= 1 for tokens, _ in levels.values()):
            for key, (tokens, last) in levels.items():
                self.state[key] = (tokens - 1, last)
            return True
        for key, level in levels.items():
            self.state[key] = level
        return False


LIMIT_SETS = [
    [ThrottleLimit("account", 8, 4)],
    [ThrottleLimit("account", 8, 4), ThrottleLimit("api/prod/GET /a", 2, 2)],
    [ThrottleLimit("account", 8, 4), ThrottleLimit("api/prod/GET /b", 4, 1)],
]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=6), st.integers(min_value=0, max_value=2)), max_size=200
    )
)
def test_memory_throttler_agrees_with_the_reference_model(steps: list[tuple[int, int]]) -> None:
    # Time advances in eighths of a second and rates are whole: floats are exact, so decisions must agree.
    throttler = MemoryThrottler()
    model = NaiveBuckets()
    now = Fraction(0)
    for eighths, which in steps:
        now += Fraction(eighths, 8)
        limits = LIMIT_SETS[which]
        assert throttler.admit_now(limits, float(now)) == model.admit(limits, now)


def test_all_or_nothing() -> None:
    # A request refused at the route level spends no account token.
    account = TokenBucket.full(rate=0, burst=2, now=0.0)
    route = TokenBucket.full(rate=0, burst=0, now=0.0)
    assert not take_all([account, route], 0.0)
    assert account.tokens == 2
    assert take_all([account], 0.0)
    assert account.tokens == 1


def test_memory_throttler_shares_buckets_by_key_and_follows_new_limits() -> None:
    throttler = MemoryThrottler()
    first = [ThrottleLimit("k", 0, 3)]
    assert [throttler.admit_now(first, 0.0) for _ in range(4)] == [True, True, True, False]
    # A redeployment with a bigger bucket keeps what was spent; a smaller one cuts what is left.
    bucket = throttler.bucket("k")
    assert bucket is not None and bucket.tokens == 0
    assert not throttler.admit_now([ThrottleLimit("k", 0, 10)], 0.0)
    throttler2 = MemoryThrottler()
    assert throttler2.admit_now([ThrottleLimit("k", 0, 10)], 0.0)
    assert throttler2.admit_now([ThrottleLimit("k", 0, 1)], 0.0)  # 9 left, cut to 1, taken
    assert not throttler2.admit_now([ThrottleLimit("k", 0, 1)], 0.0)
    assert asyncio.run(throttler.admit([ThrottleLimit("other", 1, 1)], 0.0))


# --------------------------------------------------------------------------------------------------
# Levels


ROUTES = ["GET /pets", "POST /pets", "$default"]
ACCOUNT = account_limit()


def test_account_limits() -> None:
    assert (ACCOUNT.rate, ACCOUNT.burst) == (ACCOUNT_RATE, ACCOUNT_BURST) == (10_000, 5_000)
    small = account_limit("af-south-1")
    assert (small.rate, small.burst) == (2_500, 1_250)
    raised = account_limit("us-east-1", rate=20_000)
    assert (raised.rate, raised.burst) == (20_000, 5_000)


def test_no_settings_only_the_account_bucket_applies() -> None:
    throttle = compile_stage_throttle("api", "prod", ROUTES, None, None)
    for route_key in [*ROUTES, "GET /unknown"]:
        assert throttle.limits_for(route_key) == (ACCOUNT,)


def test_stage_default_applies_to_each_route_on_its_own() -> None:
    throttle = compile_stage_throttle(
        "api", "prod", ROUTES, {"throttlingRateLimit": 100, "throttlingBurstLimit": 50}, {}
    )
    assert throttle.limits_for("GET /pets") == (ACCOUNT, ThrottleLimit("api/prod/GET /pets", 100, 50))
    assert throttle.limits_for("POST /pets") == (ACCOUNT, ThrottleLimit("api/prod/POST /pets", 100, 50))
    assert throttle.limits_for("$default") == (ACCOUNT, ThrottleLimit("api/prod/$default", 100, 50))


def test_route_settings_override_the_stage_default() -> None:
    # The AWS CLI example: --route-settings '{"GET /pets":{"ThrottlingBurstLimit":100,"ThrottlingRateLimit":2000}}'
    throttle = compile_stage_throttle(
        "api",
        "dev",
        ROUTES,
        {"throttlingRateLimit": 10, "throttlingBurstLimit": 5},
        {
            "GET /pets": {"throttlingBurstLimit": 100, "throttlingRateLimit": 2000},
            "POST /pets": {"detailedMetricsEnabled": True},
        },
    )
    assert throttle.limits_for("GET /pets") == (ACCOUNT, ThrottleLimit("api/dev/GET /pets", 2000, 100))
    # Route settings without throttling fields leave the stage default in force.
    assert throttle.limits_for("POST /pets") == (ACCOUNT, ThrottleLimit("api/dev/POST /pets", 10, 5))


def test_a_field_a_level_leaves_unset_comes_from_the_level_above() -> None:
    throttle = compile_stage_throttle(
        "api",
        "prod",
        ROUTES,
        {"throttlingRateLimit": 50},
        {"GET /pets": {"throttlingBurstLimit": 7}},
    )
    assert throttle.limits_for("GET /pets")[1] == ThrottleLimit("api/prod/GET /pets", 50, 7)
    assert throttle.limits_for("POST /pets")[1] == ThrottleLimit("api/prod/POST /pets", 50, ACCOUNT_BURST)


def test_limits_never_exceed_the_account() -> None:
    throttle = compile_stage_throttle(
        "api", "prod", ROUTES, {"throttlingRateLimit": 1e9, "throttlingBurstLimit": 10**9}, None
    )
    assert throttle.limits_for("GET /pets")[1] == ThrottleLimit(
        "api/prod/GET /pets", ACCOUNT_RATE, ACCOUNT_BURST
    )


def test_zero_route_limits_throttle_that_route_only() -> None:
    throttle = compile_stage_throttle(
        "api", "prod", ROUTES, None, {"POST /pets": {"throttlingRateLimit": 0, "throttlingBurstLimit": 0}}
    )
    throttler = MemoryThrottler()
    assert not throttler.admit_now(throttle.limits_for("POST /pets"), 0.0)
    assert throttler.admit_now(throttle.limits_for("GET /pets"), 0.0)
    account = throttler.bucket("account")
    assert account is not None and account.tokens == ACCOUNT_BURST - 1


def test_route_buckets_are_per_stage() -> None:
    settings_ = {"throttlingRateLimit": 0, "throttlingBurstLimit": 1}
    prod = compile_stage_throttle("api", "prod", ROUTES, settings_, None)
    dev = compile_stage_throttle("api", "dev", ROUTES, settings_, None)
    throttler = MemoryThrottler()
    assert throttler.admit_now(prod.limits_for("GET /pets"), 0.0)
    assert not throttler.admit_now(prod.limits_for("GET /pets"), 0.0)
    assert throttler.admit_now(dev.limits_for("GET /pets"), 0.0)
    assert throttler.admit_now(prod.limits_for("POST /pets"), 0.0)


def test_create_throttler() -> None:
    assert isinstance(create_throttler(None), MemoryThrottler)
    assert isinstance(create_throttler("memory://"), MemoryThrottler)
    with pytest.raises(ValueError, match="unknown throttle back end"):
        create_throttler("memcached://localhost")
