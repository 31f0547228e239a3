"""The scenario registry: each row of `make bench` is one registered scenario.

A scenario is a function `run(ctx) -> list[Row]` registered with `@scenario(...)` in a module imported at
the bottom of this file; rows are numbered and printed in ROW_ORDER. A scenario whose feature does not exist
yet is registered with `planned=True` and no `run`: it is listed by `bench/run.py --list` and never printed
as a row, so the table only ever shows things that were measured. `available(ctx)` returns None when the
scenario can run, else the reason it cannot (printed as "not measured: <reason>" unless the scenario is
planned).

To add a row when a feature lands (as featureful.py and jwt_route.py did): write `run` in a module here,
measure the stageway figure and its reference interleaved over `ctx.rounds` rounds (see `proxy.py` for the
pattern), return `Row`s, and drop `planned=True`.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Context:
    rounds: int
    duration: float
    """Seconds per throughput measurement (one wrk run)."""
    latency_duration: float
    """Seconds per fixed-rate latency measurement."""
    rate: float
    """Requests per second of the fixed-rate latency measurement."""
    threads: int
    connections: int
    lambda_concurrency: int
    quick: bool
    tools: dict[str, str]
    log: Callable[[str], None]
    workdir: Path


@dataclass
class Row:
    name: str
    stageway: str = "—"
    reference: str = "—"
    ratio: str = "—"
    target: str = "—"
    result: str = "—"
    notes: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)


@dataclass
class Scenario:
    key: str
    title: str
    target: str
    run: Callable[[Context], list[Row]] | None
    needs: tuple[str, ...] = ()
    """External tools (`wrk`, `nginx`) installed before the run."""
    available: Callable[[Context], str | None] | None = None
    planned: bool = False
    description: str = ""


SCENARIOS: list[Scenario] = []


def scenario(
    key: str,
    title: str,
    target: str,
    *,
    needs: Sequence[str] = (),
    available: Callable[[Context], str | None] | None = None,
    planned: bool = False,
    description: str = "",
) -> Callable[[Callable[[Context], list[Row]]], Callable[[Context], list[Row]]]:
    def register(run: Callable[[Context], list[Row]]) -> Callable[[Context], list[Row]]:
        doc = description or ((run.__doc__ or "").strip().splitlines() or [""])[0]
        SCENARIOS.append(
            Scenario(key, title, target, None if planned else run, tuple(needs), available, planned, doc)
        )
        return run

    return register


def planned(key: str, title: str, target: str, reason: str) -> None:
    """Register a row for a feature stageway does not have yet: listed, never printed."""

    SCENARIOS.append(Scenario(key, title, target, None, (), lambda ctx: reason, True, reason))


# --- shared helpers for scenarios ------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def orders(rounds: int) -> list[tuple[str, str]]:
    """Which of the pair goes first in each round: alternate (A B, B A, ...) so drift hits both alike."""
    return [("a", "b") if i % 2 == 0 else ("b", "a") for i in range(rounds)]


def verdict(ok: bool) -> str:
    return "pass" if ok else "**miss**"


def fmt_rps(value: float) -> str:
    return f"{value:,.0f} req/s"


def fmt_ms(value: float) -> str:
    return f"{value:.3f} ms" if abs(value) < 1 else f"{value:.2f} ms"


def fmt_us(value_ns: float) -> str:
    return f"{value_ns / 1000:.2f} µs"


def fmt_mb(value_bytes: float) -> str:
    return f"{value_bytes / 1024 / 1024:.1f} MB"


def fmt_ratio(value: float, target: float | None = None) -> str:
    """Two decimals, or three when two would print the target itself (1.204× is a miss of ≤ 1.2×)."""
    text = f"{value:.2f}"
    if target is not None and float(text) == target and value != target:
        text = f"{value:.3f}"
    return f"{text}×"


ROW_ORDER = [
    "proxy",
    "lambda",
    "latency",
    "routing",
    "memory",
    "startup",
    "workers",
    "featureful",
    "jwt",
    "bytecodes",
    "floor",
    "deploy",
]
"""Row numbers: a scenario's position here (others follow, in registration order)."""

# Importing a scenario module registers its rows (`@scenario`).
from bench.scenarios import (  # noqa: F401
    bytecodes,
    deploy,
    featureful,
    floor,
    future,
    jwt_route,
    lambda_route,
    latency,
    memory,
    proxy,
    routing,
    startup,
    workers,
)

SCENARIOS.sort(key=lambda s: ROW_ORDER.index(s.key) if s.key in ROW_ORDER else len(ROW_ORDER))
