"""Row: what a deployment costs the traffic being served — p99 latency while admin writes land.

A write through this node's admin API is compiled before its answer leaves (a client that changed a route and
calls it next finds it changed). On a large API that compile takes tens of milliseconds; it runs in the
writer's thread, so requests wait only for what the serving loop cannot do meanwhile: the interpreter's
switch interval (1 ms while serving) and garbage collection (the plans being served are frozen out of it).
This row puts a number on it: open-loop GET /pets at the fixed rate of row 3 on an API of 2,000 routes,
once while an `UpdateRoute` (the stage auto-deploys, so each is a new deployment) lands every 100 ms, once
with no writes, interleaved; and the time one such write takes, as boto3 sees it.
"""

from __future__ import annotations

import statistics
import threading
import time
from typing import Any

from bench import servers
from bench.loadgen import LoadResult, open_loop
from bench.scenarios import Context, Row, fmt_ms, median, orders, scenario
from bench.tools import Processes, free_port, wait_http_ok

ROUTES = 2000
WRITES = 20
WRITE_EVERY_S = 0.1
WARMUP_S = 1.0


def _admin_client(port: int) -> Any:
    import boto3

    return boto3.client(
        "apigatewayv2",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )


@scenario("deploy", "p99 latency while deployments land, 2,000-route API", "(info)")
def run(ctx: Context) -> list[Row]:
    """Open-loop GET /pets at the row-3 rate while UpdateRoute + auto-deploy lands every 100 ms, vs no writes."""
    with Processes(ctx.workdir / "deploy") as procs:
        backend = servers.start_backend(procs)
        document, _ = servers.many_routes_api(ROUTES, backend.port)
        document["apis"]["bench"]["routes"]["GET /pets"] = "backend0"  # type: ignore[index]
        api_file = servers.write_yaml(procs.workdir / "deploy.yaml", document)
        port, admin_port = free_port(), free_port()
        argv = [
            servers.PYTHON, "-m", "stageway", "serve", str(api_file), "--port", str(port),
            "--admin-port", str(admin_port), "--no-access-log",
            "--store", f"sqlite:///{procs.workdir / 'deploy.db'}", *servers.quota_args(),
        ]
        child = procs.start("stageway", argv, cwd=procs.workdir)
        wait_http_ok(child, port, "/pets", timeout=60)
        client = _admin_client(admin_port)
        api_id = client.get_apis()["Items"][0]["ApiId"]
        route_id = client.get_routes(ApiId=api_id, MaxResults="5")["Items"][0]["RouteId"]
        write_ms: list[float] = []
        serial = iter(range(1_000_000))

        def write() -> None:
            started = time.perf_counter()
            client.update_route(ApiId=api_id, RouteId=route_id, OperationName=f"op{next(serial)}")
            write_ms.append((time.perf_counter() - started) * 1000)

        def writes() -> None:
            time.sleep(WARMUP_S + 0.5)  # into the measured part of the run
            for _ in range(WRITES):
                write()
                time.sleep(WRITE_EVERY_S)

        write()  # the first compile of the admin's own code paths is not what this row is about
        write_ms.clear()
        duration = WARMUP_S + 0.5 + WRITES * WRITE_EVERY_S * 2 + 1.0
        results: dict[str, list[LoadResult]] = {"a": [], "b": []}
        for first, second in orders(ctx.rounds):
            for side in (first, second):
                writer = threading.Thread(target=writes) if side == "a" else None
                if writer is not None:
                    writer.start()
                results[side].append(
                    open_loop(port, "/pets", rate=ctx.rate, duration=duration, warmup=WARMUP_S, connections=16)
                )
                if writer is not None:
                    writer.join()
    rows = []
    for q in (99, 100):
        during = [r.percentile(q) for r in results["a"]]
        quiet = [r.percentile(q) for r in results["b"]]
        label = "max" if q == 100 else f"p{q}"
        rows.append(
            Row(
                name=f"{label} latency of GET /pets at {ctx.rate:g} req/s while UpdateRoute (auto-deployed) lands "
                f"every {WRITE_EVERY_S * 1000:.0f} ms on an API of {ROUTES:,} routes, vs no writes",
                stageway=fmt_ms(median(during)),
                reference=fmt_ms(median(quiet)),
                ratio=f"+{fmt_ms(median([x - y for x, y in zip(during, quiet)]))}",
                target="(info)",
                result="(info)",
            )
        )
    rows[0].details.append(
        f"one UpdateRoute as boto3 sees it (write, deployment, compile, served): median "
        f"{statistics.median(write_ms):.1f} ms, max {max(write_ms):.1f} ms over {len(write_ms)} writes"
    )
    errors = [r for side in results.values() for r in side if r.error_fraction > 0.01]
    if errors:
        for row in rows:
            row.result = "invalid (errors > 1%)"
    rows[-1].notes.append(
        f"SQLite store; {WRITES} writes per measured run; open-loop generator as row 3, 16 connections, "
        f"{WARMUP_S:g} s warm-up; ratio column = median over rounds of the per-round difference"
    )
    return rows
