"""How fast the host is at the moment: a fixed piece of stageway's own Python, timed before each row.

A shared virtual machine's speed drifts as its neighbours come and go: on the machine of the README's table,
the same Python code ran 10-45% slower for minutes at a time (a matcher pass over the 10,000-route table took
1.1 µs a match in quiet spells, 1.6-1.8 in busy ones), while nginx, whose working set fits in the CPU's
caches, hardly moved. Every row alternates its two sides, so a ratio is fair within a spell; this probe
says which spell each row ran in, so that a reader can tell a slow machine from a slow change.
"""

from __future__ import annotations

import time
from functools import cache

from bench.scenarios.routing import build
from bench.tools import gc_paused
from stageway.core.routing import RouteMatcher

PASSES = 25
SETTLE_S = 1.0
"""Idle time before the probe: the previous row's processes are still exiting."""


@cache
def _table() -> tuple[RouteMatcher[str], list[tuple[str, str]]]:
    return build(10_000)


def probe() -> float:
    """Nanoseconds per `RouteMatcher.match` over row 4's 10,000-route table: the median of PASSES passes over
    its 2,000 requests (a memory-bound piece of the data plane's hot path), after SETTLE_S of rest."""
    matcher, requests = _table()
    time.sleep(SETTLE_S)
    match = matcher.match
    times = []
    with gc_paused():
        for _ in range(PASSES):
            start = time.perf_counter_ns()
            for method, path in requests:
                match(method, path)
            times.append((time.perf_counter_ns() - start) / len(requests))
    times.sort()
    return times[len(times) // 2]
