"""`make bench`: one table, each row a ratio of stageway against a reference, measured in one run.

    .venv/bin/python bench/run.py [--quick] [--rounds N] [--duration S] [--only proxy,latency] [--list]

Each row's two sides are measured alternately (A B, B A, ...) for --rounds rounds and the medians are
reported. Prints the machine, the table (Markdown) and the command that repeats it; writes the same to
bench/results/latest.md. Installs Debian's nginx and wrk when missing. Every server it starts listens on
127.0.0.1 and is killed (its whole process group) when its row ends, on error and on Ctrl-C.
Misses are reported, not failed: the exit status is 1 only when a row could not be measured.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0]).resolve() == _ROOT / "bench":
    sys.path.pop(0)  # run as a script: import bench.* as a package, never its modules as top-level names
sys.path.insert(0, str(_ROOT))

from bench import servers
from bench.host_probe import probe
from bench.scenarios import SCENARIOS, Context, Row, Scenario
from bench.tools import (
    BenchError,
    ForeignLoad,
    ensure_tools,
    load_average,
    machine_summary,
    stop_everything,
    tool_version,
)

RESULTS = _ROOT / "bench" / "results" / "latest.md"

QUICK = {"rounds": 1, "duration": 2.0, "latency_duration": 3.0}
# Five short rounds rather than three long ones: on a shared (virtual) machine the speed drifts over
# seconds, and a median of more, closer-together A/B pairs is steadier than one of fewer, longer ones.
FULL = {"rounds": 5, "duration": 4.0, "latency_duration": 10.0}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run.py",
        description="Benchmark stageway against reference servers; prints a Markdown table of ratios.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 1 round, 2 s per throughput run, 3 s of latency (under ~90 s)",
    )
    parser.add_argument("--rounds", type=int, help="interleaved rounds per row (default 5; quick 1)")
    parser.add_argument(
        "--duration", type=float, help="seconds per throughput measurement (default 4; quick 2)"
    )
    parser.add_argument(
        "--latency-duration",
        type=float,
        help="seconds per fixed-rate latency measurement (default 10; quick 3)",
    )
    parser.add_argument(
        "--rate", type=float, default=500.0, help="requests/s of the latency rows (default 500)"
    )
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--connections", type=int, default=32, help="wrk keep-alive connections (default 32)")
    parser.add_argument(
        "--lambda-concurrency",
        type=int,
        default=2,
        help="reservedConcurrency of the Lambda row's function (default 2)",
    )
    parser.add_argument("--only", help="comma-separated scenario keys to run (see --list)")
    parser.add_argument("--skip", help="comma-separated scenario keys not to run")
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"Markdown copy (default {RESULTS})")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    args = parser.parse_args(argv)
    preset = QUICK if args.quick else FULL
    for name, value in preset.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.rounds < 1 or args.duration < 1 or args.latency_duration < 1 or args.rate <= 0:
        parser.error("--rounds must be >= 1, --duration and --latency-duration >= 1 s, --rate > 0")
    if args.lambda_concurrency < 1:
        parser.error("--lambda-concurrency must be >= 1")
    if args.threads < 1 or args.connections < args.threads:
        parser.error("--threads >= 1 and --connections >= --threads")
    keys = {s.key for s in SCENARIOS}
    for option in ("only", "skip"):
        chosen = getattr(args, option)
        if chosen:
            unknown = set(chosen.split(",")) - keys
            if unknown:
                parser.error(
                    f"--{option}: unknown scenario(s) {', '.join(sorted(unknown))}; known: {', '.join(keys)}"
                )
    return args


def selected(args: argparse.Namespace) -> list[Scenario]:
    only = set(args.only.split(",")) if args.only else None
    skip = set(args.skip.split(",")) if args.skip else set()
    return [s for s in SCENARIOS if (only is None or s.key in only) and s.key not in skip]


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def versions(tools: dict[str, str]) -> str:
    parts = []
    try:
        commit = subprocess.run(
            ["git", "-C", str(_ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(_ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
        parts.append(
            f"stageway {_version('stageway')} (git {commit or '?'}{', uncommitted changes' if dirty else ''})"
        )
    except (OSError, subprocess.TimeoutExpired):
        parts.append(f"stageway {_version('stageway')}")
    if "nginx" in tools:
        parts.append(tool_version([tools["nginx"], "-v"]).replace("nginx version: ", ""))
    if "wrk" in tools:
        parts.append(" ".join(tool_version([tools["wrk"], "-v"]).split()[:2]))
    parts.extend(f"{name} {_version(name)}" for name in ("uvicorn", "uvloop", "httptools"))
    return " · ".join(parts)


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def row_arguments(argv: list[str], key: str) -> list[str]:
    """The arguments that measure one row again as this run did: the run's own, less what picks rows
    (`--only`, `--skip`, `--output`: a one-row run should not overwrite the table it repeats), plus `--only KEY`."""
    kept: list[str] = []
    skipping = False
    for argument in argv:
        if skipping:
            skipping = False
            continue
        name = argument.split("=", 1)[0]
        if name in ("--only", "--skip", "--output"):
            skipping = "=" not in argument
            continue
        kept.append(argument)
    return [*kept, "--only", key]


def render(
    args: argparse.Namespace,
    argv: list[str],
    rows: list[tuple[str, Row]],
    keys: dict[str, str],
    tools: dict[str, str],
    elapsed: float,
    interrupted: bool,
    load_before: float,
    foreign: float,
    probes: list[float],
) -> str:
    machine = machine_summary()
    cores = len(os.sched_getaffinity(0))
    out = [f"## stageway benchmark — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC", ""]
    out.append(
        f"Machine: {machine['cpu']} · {machine['cores']} · {machine['memory']} · {machine['python']} · "
        f"{machine['kernel']}  "
    )
    out.append(f"Versions: {versions(tools)}  ")
    out.append(
        f"Settings: {args.rounds} round{'s' if args.rounds > 1 else ''} per row, the two sides alternating "
        f"(A B, B A, …), medians reported · {args.duration:g} s per throughput run, "
        f"wrk -t{args.threads} -c{args.connections} keep-alive · latency open-loop at {args.rate:g} req/s for "
        f"{args.latency_duration:g} s · stageway = 1 process (`serve --no-admin --no-access-log --store memory://"
        + (
            f" {' '.join(servers.quota_args())}`: account throttling quota raised, still checked per request)"
            if servers.quota_args()
            else "`)"
        )
        + (" · **quick smoke run: figures are indicative only**" if args.quick else "")
        + "  "
    )
    busy = load_before > 0.5 * cores or foreign > 0.10
    out.append(
        f"Other load: 1-min load average {load_before:.2f} before the run ({cores} cores); processes outside this "
        f"run used {foreign:.0%} of the machine's CPU during it"
        + (" — **the machine was busy: figures are noisy, rerun on a quiet machine**" if busy else "")
    )
    if probes:
        out.append(
            f"Host speed (bench/host_probe.py: ns per route match over row 4's 10,000-route table, taken before "
            f"each row; lower is faster, and a shared VM drifts): {min(probes):,.0f}–{max(probes):,.0f} ns over "
            f"the run, each row's in its details"
        )
    out += [
        "",
        "| # | row | stageway | reference | ratio | target | result | repeat it: `make bench BENCH_ARGS=…` |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for number, row in rows:
        repeat = shlex.join(row_arguments(argv, keys[number]))
        out.append(
            f"| {number} | {_cell(row.name)} | {_cell(row.stageway)} | {_cell(row.reference)} | "
            f"{_cell(row.ratio)} | {_cell(row.target)} | {_cell(row.result)} | `{_cell(repeat)}` |"
        )
    make_args = shlex.join(argv)
    out += [
        "",
        "Repeat with:",
        "",
        "```",
        f"make bench BENCH_ARGS={shlex.quote(make_args)}" if argv else "make bench",
        f"# or: .venv/bin/python bench/run.py {make_args}".rstrip(),
        "```",
    ]
    notes = [(number, note) for number, row in rows for note in row.notes]
    if notes:
        out += ["", "Notes:", ""] + [f"- {number}: {note}" for number, note in notes]
    details = [(number, detail) for number, row in rows for detail in row.details]
    if details:
        out += ["", "Per round (stageway / reference):", ""] + [
            f"- {number}: {detail}" for number, detail in details
        ]
    planned = [s for s in SCENARIOS if s.planned]
    if planned:
        out += [
            "",
            "Planned rows, not printed until the feature exists: "
            + "; ".join(f"`{s.key}` ({s.title})" for s in planned)
            + ".",
        ]
    out += ["", f"{'Interrupted after' if interrupted else 'Took'} {elapsed:.0f} s."]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.list:
        for s in SCENARIOS:
            state = "planned, not printed" if s.planned else f"target {s.target}"
            print(f"{s.key:<12} {s.title} ({state})\n{'':<13}{s.description}")
        return 0

    def terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGHUP, terminate)

    started = time.perf_counter()
    load_before = load_average()
    foreign_load = ForeignLoad()
    chosen = [s for s in selected(args) if not s.planned]
    rows: list[tuple[str, Row]] = []
    keys: dict[str, str] = {}
    """Row number -> the key of the scenario that measured it (`--only KEY` repeats it)."""
    probes: list[float] = []
    failed = False
    interrupted = False
    tools: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="stageway-bench-") as workdir:
        try:
            needed = sorted({tool for s in chosen for tool in s.needs})
            tool_error = None
            try:
                tools = ensure_tools(needed, log) if needed else {}
            except (BenchError, OSError, subprocess.SubprocessError) as error:
                tool_error = str(error)
                log(f"tools: {error}")
            # Any other exception (a bug here) propagates: the finally below still stops every process.
            ctx = Context(
                rounds=args.rounds,
                duration=args.duration,
                latency_duration=args.latency_duration,
                rate=args.rate,
                threads=args.threads,
                connections=args.connections,
                lambda_concurrency=args.lambda_concurrency,
                quick=args.quick,
                tools=tools,
                log=log,
                workdir=Path(workdir),
            )
            for scenario in chosen:
                number = str(SCENARIOS.index(scenario) + 1)
                reason = scenario.available(ctx) if scenario.available else None
                if reason is None and tool_error and any(t not in tools for t in scenario.needs):
                    reason = f"error: {tool_error.splitlines()[0]}"
                    failed = True
                if reason is not None:
                    text = reason if reason.startswith("error") else f"not measured: {reason}"
                    rows.append((number, Row(name=scenario.title, result=text)))
                    keys[number] = scenario.key
                    log(f"{scenario.key}: {text}")
                    continue
                assert scenario.run is not None
                log(f"{scenario.key}: {scenario.description}")
                speed = probe()
                probes.append(speed)
                begun = time.perf_counter()
                try:
                    produced = scenario.run(ctx)
                except (BenchError, OSError, RuntimeError, ValueError, subprocess.SubprocessError) as error:
                    failed = True
                    log(f"{scenario.key} failed:\n{traceback.format_exc()}")
                    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
                    first = lines[0] if lines else type(error).__name__
                    row = Row(name=scenario.title, result=f"error: {first[:120]} (see notes)")
                    row.notes.append(f"{type(error).__name__}: " + " ⏎ ".join(lines)[-1500:])
                    produced = [row]
                for position, row in enumerate(produced):
                    row.details.append(f"host probe just before this row: {speed:,.0f} ns per match (see Host speed above the table)")
                    suffix = "abcdefgh"[position] if len(produced) > 1 else ""
                    rows.append((number + suffix, row))
                    keys[number + suffix] = scenario.key
                    log(f"{scenario.key}: {row.stageway} vs {row.reference} -> {row.ratio} ({row.result})")
                log(f"{scenario.key}: took {time.perf_counter() - begun:.1f} s")
        except KeyboardInterrupt:
            interrupted = True
            log("interrupted: stopping every process this run started")
        finally:
            stop_everything()
    report = render(
        args,
        argv,
        rows,
        keys,
        tools,
        time.perf_counter() - started,
        interrupted,
        load_before,
        foreign_load.fraction(),
        probes,
    )
    print(report, end="")
    try:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(report)
        log(f"written to {args.output}")
    except OSError as error:
        log(f"could not write {args.output}: {error}")
    if interrupted:
        return 130
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
