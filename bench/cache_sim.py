"""Row 4's cache misses counted, not timed: valgrind's cachegrind runs the row's matcher passes in a simulated
cache, so the count is the same on any host and in any spell of a shared VM's neighbours.

What a 10,000-route match costs over a 10-route one is memory: the same instructions, more of them reaching
past the caches. How long a miss takes is the host's affair (a busy neighbour evicting the shared L3 turns
it from tens of nanoseconds into a trip to DRAM), which is why the timed ratio drifts with the host; the
number of misses is the matcher's.

The simulated caches: first level 32 KiB data, last level 512 KiB (the per-core L2 of the AMD EPYC host this
was first measured on, kept fixed so counts compare across hosts; 8-way, 64-byte lines). Misses per match are the difference between runs of 3 passes and 1 pass (same hash seed) over the row's lookups, so
that building the table (and starting Python) cancels out.

    python -m bench.cache_sim            # both tables, printed
    python -m bench.cache_sim 10000 3    # (a child run: build, then 3 passes)
"""

from __future__ import annotations

import gc
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from bench.tools import PYTHON, ROOT, BenchError

CACHES = ("--D1=32768,8,64", "--LL=524288,8,64")
PASSES = (1, 3)
_SUMMARY = re.compile(r"^==\d+== (D1  misses|LLd misses):\s+([\d,]+)", re.MULTILINE)


@dataclass(frozen=True)
class Misses:
    """Data-cache misses per match: first level, and last level (512 KiB)."""

    first_level: float
    last_level: float


def _child_misses(valgrind: str, count: int, passes: int) -> dict[str, int]:
    command = [
        valgrind, "--tool=cachegrind", "--cache-sim=yes", *CACHES, "--cachegrind-out-file=/dev/null",
        PYTHON, "-m", "bench.cache_sim", str(count), str(passes),
    ]  # fmt: skip
    # One hash seed for every run: the tables' dicts then lay out alike in the runs subtracted.
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False)
    found = {name: int(value.replace(",", "")) for name, value in _SUMMARY.findall(done.stderr)}
    if done.returncode != 0 or len(found) != 2:
        raise BenchError(f"cachegrind on {count} routes, {passes} passes: {done.stderr.strip()[-500:]}")
    return found


def misses_per_match(valgrind: str, counts: tuple[int, ...]) -> dict[int, Misses]:
    """Misses per match of each table size; the runs go two at a time (they are counted, not timed)."""
    from bench.scenarios.routing import LOOKUPS

    jobs = [(count, passes) for count in counts for passes in PASSES]
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = dict(zip(jobs, pool.map(lambda job: _child_misses(valgrind, *job), jobs), strict=True))
    matches = (PASSES[1] - PASSES[0]) * LOOKUPS
    result = {}
    for count in counts:
        few, more = runs[(count, PASSES[0])], runs[(count, PASSES[1])]
        result[count] = Misses(
            first_level=(more["D1  misses"] - few["D1  misses"]) / matches,
            last_level=(more["LLd misses"] - few["LLd misses"]) / matches,
        )
    return result


def _child(count: int, passes: int) -> None:
    from bench.scenarios.routing import build, one_pass

    matcher, requests = build(count)
    gc.collect()
    gc.disable()
    for _ in range(passes):
        one_pass(matcher, requests)


def main(argv: list[str]) -> int:
    if argv:
        _child(int(argv[0]), int(argv[1]))
        return 0
    from bench.tools import which

    valgrind = which("valgrind")
    if valgrind is None:
        print("valgrind is not installed (Debian: apt-get install valgrind)", file=sys.stderr)
        return 2
    for count, misses in misses_per_match(valgrind, (10_000, 10)).items():
        print(f"{count:>6} routes: {misses.first_level:.1f} first-level, {misses.last_level:.2f} last-level misses a match")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
