"""Row: a featureful route (CORS, parameter mapping, a route throttle, a JSON access log) against a plain one.

Both are HTTP_PROXY routes to the same backend URL on one `stageway serve` (one file, two APIs picked by Host):
the plain API has no CORS, no mapping, no route settings and no access log; the featureful API has them all,
and its requests carry an `Origin` the configuration allows. Both sides send the same headers (Host differs
only in the API id), and the backend receives the same request from both (the plain side sends the query
string the featured side's mapping sets), so the ratio is the cost of the features alone.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench import servers
from bench.scenarios import Context, Row, scenario
from bench.scenarios.proxy import measure_pair, throughput_row
from bench.tools import BenchError, Processes, http_request

TARGET = 0.8


def check_featured(port: int, host: str) -> None:
    """One request before measuring: 200, and CORS headers on the answer (the features are really on)."""
    status, headers, body = http_request(
        port, "/featured", host=host, headers={"Origin": servers.CORS_ORIGIN}
    )
    if status != 200:
        raise BenchError(f"GET /featured answered {status}: {body[:200]!r}")
    allowed = headers.get("access-control-allow-origin")
    if allowed != servers.CORS_ORIGIN:
        raise BenchError(
            f"GET /featured with Origin: no CORS answer (access-control-allow-origin {allowed!r})"
        )


def access_log_lines(path: Path) -> int:
    """How many lines the stage access log holds; the first and last must be JSON objects for the route."""
    count = 0
    first = last = ""
    try:
        with path.open(encoding="utf-8") as log_file:
            for line in log_file:
                if not count:
                    first = line
                last = line
                count += 1
    except OSError as error:
        raise BenchError(f"no stage access log at {path}: {error}") from error
    for line in (first, last) if count else ():
        try:
            entry = json.loads(line)
        except ValueError as error:
            raise BenchError(f"access log line is not JSON: {line[:200]!r}") from error
        if not isinstance(entry, dict) or entry.get("routeKey") != "GET /featured":
            raise BenchError(f"unexpected access log line: {line[:200]!r}")
    return count


@scenario(
    "featureful",
    "Featureful route (CORS, parameter mapping, route throttle, access log) vs a plain route",
    f"≥ {TARGET}×",
    needs=("wrk",),
)
def run(ctx: Context) -> list[Row]:
    """Requests/s of `GET /featured` (CORS, 2 mappings, route throttle, JSON access log) vs a plain proxy route.

    Same backend, one stageway process; see the module docstring."""
    plain_host = servers.execute_api_host(servers.PLAIN_API_ID)
    featured_host = servers.execute_api_host(servers.FEATURED_API_ID)
    with Processes(ctx.workdir / "featureful") as procs:
        access_log = procs.workdir / "logs" / "featured-access.log"
        backend = servers.start_backend(procs)
        api = servers.write_yaml(
            procs.workdir / "featureful.yaml", servers.featureful_api(backend.port, access_log)
        )
        stageway = servers.start_stageway(procs, api, "/pets", host=plain_host)
        check_featured(stageway.port, featured_host)
        results, problems = measure_pair(
            ctx,
            # The plain side asks for the query the featured side's mapping sets: the backend answers the
            # same request on both sides, so its share of the machine is the same.
            {"a": stageway.url("/featured"), "b": stageway.url("/pets?limit=10")},
            headers={
                "a": {"Host": featured_host, "Origin": servers.CORS_ORIGIN},
                "b": {"Host": plain_host, "Origin": servers.CORS_ORIGIN},
            },
            servers_of={"a": stageway, "b": stageway},  # one process: its CPU during each side's runs
        )
        procs.stop(stageway.child)  # SIGTERM: stageway flushes its access log before it exits
        written = access_log_lines(access_log)
    measured = sum(r.requests for r in results["a"])
    row = throughput_row(
        "Featureful route (CORS with Origin, 2 request parameter mappings, route throttle, JSON access log to "
        "a file), req/s vs a plain HTTP_PROXY route, same stageway process and backend",
        results,
        problems,
        TARGET,
        ("featureful", "plain"),
    )
    if written < measured:
        row.result = "invalid (access log short)"
        row.notes.append(f"access log: {written:,} lines for {measured:,} measured requests")
    row.notes.append(
        "two APIs in one file, picked by Host: the plain one has no CORS, mapping, route settings or access log; "
        '`append:header.x-request-id: $context.requestId`, `overwrite:querystring.limit: "10"`; route throttle '
        "100,000 rps / burst 50,000 (never refuses); both sides send the same Origin, and the plain side asks for "
        "`/pets?limit=10`, so the backend gets the same request from both; "
        f"access log: {written:,} JSON lines written (warm-up included) for {measured:,} measured requests; "
        f"wrk -t{ctx.threads} -c{ctx.connections}"
    )
    return [row]
