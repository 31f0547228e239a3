"""Rows: p50 and p99 latency stageway adds to an HTTP_PROXY call, at a fixed moderate rate (not saturation)."""

from __future__ import annotations

from bench import servers
from bench.loadgen import LoadResult, open_loop
from bench.scenarios import Context, Row, fmt_ms, median, orders, scenario, verdict
from bench.tools import Processes, tree_cpu_seconds

TARGET_P99_MS = 1.0
WARMUP_S = 1.0


def _measure(ctx: Context, port: int, path: str) -> LoadResult:
    return open_loop(port, path, rate=ctx.rate, duration=ctx.latency_duration, warmup=WARMUP_S, connections=16)


@scenario("latency", "Latency added at a fixed rate", f"p99 < {TARGET_P99_MS:g} ms")
def run(ctx: Context) -> list[Row]:
    """Open-loop GET /pets at a fixed rate: through stageway vs the backend directly; p50/p99 difference."""
    with Processes(ctx.workdir / "latency") as procs:
        backend = servers.start_backend(procs)
        api = servers.write_yaml(procs.workdir / "proxy.yaml", servers.proxy_api(backend.port))
        stageway = servers.start_stageway(procs, api, "/pets")
        ports = {"a": stageway.port, "b": backend.port}
        results: dict[str, list[LoadResult]] = {"a": [], "b": []}
        # stageway's CPU per answered request at this rate (µs, user + system): at a moderate rate each request
        # pays for its own event-loop turn, unlike at saturation (rows 1 and 11), so the two can move apart.
        cpu_us: list[tuple[float, float]] = []
        for first, second in orders(ctx.rounds):
            for side in (first, second):
                before = tree_cpu_seconds(stageway.child.pid)
                result = _measure(ctx, ports[side], "/pets")
                results[side].append(result)
                if side == "a" and result.answered:
                    after = tree_cpu_seconds(stageway.child.pid)
                    # Open loop: every scheduled request is sent, the 1 s warm-up's included.
                    sent = ctx.rate * (WARMUP_S + ctx.latency_duration)
                    cpu_us.append(((after[0] - before[0]) / sent * 1e6, (after[1] - before[1]) / sent * 1e6))
    problems = [
        f"{'stageway' if side == 'a' else 'direct'}: {r.errors} errors, {r.non_2xx} non-2xx, "
        f"{r.sent - r.answered - r.errors} unanswered of {r.sent} ({r.error_fraction:.1%})"
        for side, runs in results.items()
        for r in runs
        if r.error_fraction > 0.01
    ]
    rows = []
    for q, target in ((50, None), (99, TARGET_P99_MS)):
        sg = [r.percentile(q) for r in results["a"]]
        direct = [r.percentile(q) for r in results["b"]]
        added = median([x - y for x, y in zip(sg, direct)])
        row = Row(
            name=f"p{q} latency added by stageway over calling the backend directly, "
            f"{ctx.rate:g} req/s open-loop for {ctx.latency_duration:g} s",
            stageway=fmt_ms(median(sg)),
            reference=fmt_ms(median(direct)),
            ratio=f"+{fmt_ms(added)}" if added >= 0 else f"−{fmt_ms(-added)}",
            target="—" if target is None else f"added < {target:g} ms",
            result="(info)" if target is None else verdict(added < target),
        )
        row.details.append(
            "per round (stageway − direct) "
            + ", ".join(f"{x:.3f} − {y:.3f}" for x, y in zip(sg, direct))
            + " ms"
        )
        if problems:
            row.result = "invalid (errors > 1%)"
            row.notes.extend(problems)
        rows.append(row)
    if cpu_us:
        rows[0].details.append(
            f"stageway CPU per request at {ctx.rate:g} req/s (median of rounds): "
            f"{median([u + s for u, s in cpu_us]):.1f} µs (user {median([u for u, _ in cpu_us]):.1f}, "
            f"system {median([s for _, s in cpu_us]):.1f})"
        )
    runs = results["a"] + results["b"]
    generator = (
        "bench/openloop.c (C, timerfd)" if runs[0].generator == "c" else "bench/loadgen.py (Python threads)"
    )
    rows[-1].notes.append(
        f"latency from each request's scheduled send time (no coordinated omission); generator {generator}, "
        f"16 keep-alive connections, 1 s warm-up; ratio column = added latency (median over rounds of the "
        f"per-round difference); worst generator send lag "
        f"{max(r.max_send_lag_ms for r in runs):.2f} ms (VM timer wake-ups: noise shared by both sides)"
    )
    extra = sum(r.extra_connections for r in runs)
    if extra:
        rows[-1].notes.append(f"{extra} extra connections were opened: the server fell behind the schedule")
    return rows
