"""Row: time per route match with 10,000 routes vs 10 (pure, in-process)."""

from __future__ import annotations

import random
import time

from bench.cache_sim import misses_per_match
from bench.scenarios import Context, Row, fmt_ratio, fmt_us, median, orders, scenario, verdict
from bench.servers import route_at, route_mix
from bench.tools import BenchError, ensure_tools, gc_paused
from stageway.core.route_keys import parse_route_key
from stageway.core.routing import RouteMatcher

TARGET = 1.2
LOOKUPS = 2000
"""Distinct request paths per table (drawn from its routes, plus misses)."""


def build(count: int) -> tuple[RouteMatcher[str], list[tuple[str, str]]]:
    routes = route_mix(count)
    pairs = [(parse_route_key(key), key) for key, _, _ in routes]
    pairs.append((parse_route_key("$default"), "$default"))
    matcher = RouteMatcher.compile(pairs)
    rng = random.Random(count)
    requests = []
    for _ in range(LOOKUPS):
        if rng.random() < 0.05:  # 5% match no route: they fall to $default after a failed walk
            requests.append(("GET", f"/v{rng.randint(1, 3)}/nothing{rng.randint(0, 99)}/x"))
        else:
            # A fresh path per lookup, ids drawn at random: both tables see equally varied request strings.
            # Same shape mix in both tables: a shape uniformly, then one of the table's routes of that shape.
            shape = rng.randrange(8)
            position = 8 * rng.randrange((count - 1 - shape) // 8 + 1) + shape
            _, method, path = route_at(position, ids=lambda: str(rng.randint(1, 10**6)))
            requests.append((method, path))
    for method, path in requests[:200]:  # the workload really matches what it is meant to
        if matcher.match(method, path) is None:
            raise BenchError(f"route table of {count}: {method} {path} matched nothing")
    return matcher, requests


def one_pass(matcher: RouteMatcher[str], requests: list[tuple[str, str]]) -> float:
    match = matcher.match
    start = time.perf_counter_ns()
    for method, path in requests:
        match(method, path)
    return (time.perf_counter_ns() - start) / len(requests)


def compare(
    a: tuple[RouteMatcher[str], list[tuple[str, str]]],
    b: tuple[RouteMatcher[str], list[tuple[str, str]]],
    seconds: float,
) -> tuple[float, float]:
    """Nanoseconds per match of each table: passes over the request list alternate A, B, A, B, ... for
    `seconds` (so noise from the rest of the machine hits both alike); the median pass of each."""
    times_a: list[float] = []
    times_b: list[float] = []
    deadline = time.perf_counter() + seconds
    with gc_paused():
        while time.perf_counter() < deadline or len(times_a) < 5:
            times_a.append(one_pass(*a))
            times_b.append(one_pass(*b))
    return median(times_a), median(times_b)


@scenario("routing", "Route matching: 10,000 routes vs 10", f"≤ {TARGET}×")
def run(ctx: Context) -> list[Row]:
    """Time per RouteMatcher.match over a realistic literal/param/greedy mix, 10,000 vs 10 routes."""
    tables = {"a": build(10_000), "b": build(10)}
    seconds = max(0.5, min(ctx.duration, 3.0))
    compare(tables["a"], tables["b"], 0.2)  # warm up
    results: dict[str, list[float]] = {"a": [], "b": []}
    for first, second in orders(ctx.rounds):
        times = dict(zip((first, second), compare(tables[first], tables[second], seconds)))
        for side in ("a", "b"):
            results[side].append(times[side])
    ratios = [x / y for x, y in zip(results["a"], results["b"])]
    ratio = median(ratios)
    row = Row(
        name="Route matching, time per match: 10,000 routes vs 10 (in-process, RouteMatcher.match)",
        stageway=fmt_us(median(results["a"])),
        reference=fmt_us(median(results["b"])),
        ratio=fmt_ratio(ratio, TARGET),
        target=f"≤ {TARGET:g}×",
        result=verdict(ratio <= TARGET),
    )
    row.notes.append(
        f"routes in resources of 8 (list/create, get/put/delete by {{id}}, nested collection and item, greedy "
        f"{{proxy+}}) + $default; {LOOKUPS} lookups per table (same shape mix, random ids), 5% misses; passes over them alternate between "
        f"the tables for {seconds:g} s per round, median pass, GC paused"
    )
    row.details.append(
        "per round " + ", ".join(f"{x:.0f}/{y:.0f} ns" for x, y in zip(results["a"], results["b"]))
    )
    row.details.append(_counted_misses(ctx))
    return [row]


def _counted_misses(ctx: Context) -> str:
    """The row's misses per match from cachegrind (bench/cache_sim.py): what the timed ratio is made of, in a
    count no host's state changes."""
    try:
        valgrind = ensure_tools(["valgrind"], ctx.log)["valgrind"]
        misses = misses_per_match(valgrind, (10_000, 10))
    except BenchError as error:
        return f"cache misses not counted: {error}"
    big, small = misses[10_000], misses[10]
    return (
        f"cache misses per match, counted by cachegrind (python -m bench.cache_sim; 32 KiB first level, 512 KiB "
        f"last level as the EPYC host's L2): 10,000 routes {big.first_level:.1f} first-level, {big.last_level:.2f} "
        f"last-level; 10 routes {small.first_level:.1f}, {small.last_level:.2f}"
    )
