"""Row: a Lambda route (payload 2.0, trivial Python handler) against a bare ASGI hello on the same stack."""

from __future__ import annotations

from bench import servers
from bench.scenarios import Context, Row, scenario
from bench.scenarios.proxy import measure_pair, throughput_row
from bench.tools import Processes

TARGET = 0.35


@scenario("lambda", "Lambda route vs bare ASGI hello", f"≥ {TARGET}×", needs=("wrk",))
def run(ctx: Context) -> list[Row]:
    """Requests/s of `GET /hello` (AWS_PROXY, payload 2.0, local runtime) vs uvicorn+uvloop+httptools hello."""
    with Processes(ctx.workdir / "lambda") as procs:
        api = servers.write_yaml(procs.workdir / "lambda.yaml", servers.lambda_api(ctx.lambda_concurrency))
        stageway = servers.start_stageway(procs, api, "/hello")
        hello = servers.start_hello(procs)
        results, problems = measure_pair(
            ctx, {"a": stageway.url("/hello"), "b": hello.url("/")}, servers_of={"a": stageway, "b": hello}
        )
    row = throughput_row(
        f"Lambda route (payload 2.0, trivial handler, reservedConcurrency {ctx.lambda_concurrency}), req/s "
        "vs bare ASGI hello (uvicorn + uvloop + httptools, 1 process)",
        results,
        problems,
        TARGET,
        ("stageway", "hello"),
    )
    row.notes.append(
        f"stageway = 1 gateway process + up to {ctx.lambda_concurrency} function worker processes; "
        f"wrk -t{ctx.threads} -c{ctx.connections}; stageway's default log level (function START/END/REPORT "
        "lines go to its log file)"
    )
    return [row]
