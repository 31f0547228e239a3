"""Events sent ahead (`functions/worker.py`): while invocations queue for a busy function whose runs are
short, its workers of stageway's own runtime are sent some before they ask. Real worker processes, no mocks. What must hold:
every invocation runs exactly once, one at a time per worker, in order; its output is logged with its own
request id between its START and END; a worker that dies, times out or is replaced loses none of the
events it never started; with `events_ahead=0`, or to a worker whose last run was not short, nothing is
sent ahead."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvloop

from stageway.functions import FunctionConfig, InvocationResult, LocalRuntime
from tests.support.lane_pair import metric
from tests.support.stageway_server import StagewayServer, free_port, http

CODE = Path(__file__).resolve().parents[1] / "fixtures" / "functions" / "basic"
T = TypeVar("T")


@pytest.fixture
def run() -> Iterator[Callable[[Awaitable[T]], T]]:
    loop = uvloop.new_event_loop()  # what `stageway serve` runs on

    def run(awaitable: Awaitable[T]) -> T:
        return loop.run_until_complete(awaitable)  # type: ignore[arg-type]

    yield run
    loop.close()


def journal_fn(name: str = "journal", *, concurrency: int = 1, timeout_s: float = 10.0) -> FunctionConfig:
    return FunctionConfig(
        name=name, handler="handlers.journal", code_dir=CODE, reserved_concurrency=concurrency, timeout_s=timeout_s
    )


def burst(
    run: Callable, runtime: LocalRuntime, events: list[dict[str, Any]], name: str = "journal"
) -> list[InvocationResult]:
    """All the events invoked at once (after one invocation that starts the worker), results in order."""

    async def scenario() -> list[InvocationResult]:
        try:
            await runtime.invoke(name, json.dumps({**events[0], "n": -1}).encode())
            calls = [runtime.invoke(name, json.dumps(event).encode()) for event in events]
            return list(await asyncio.gather(*calls))
        finally:
            await runtime.close()

    return run(scenario())  # type: ignore[no-any-return]


def journal_runs(path: Path) -> list[tuple[int, int, float]]:
    """(n, pid, start time) of each run the function journaled, the warm-up run left out."""
    runs = [line.split() for line in path.read_text().splitlines()]
    return [(int(n), int(pid), float(at)) for n, pid, at in runs if n != "-1"]


def test_queued_invocations_are_sent_ahead_and_each_runs_once_in_order(run: Callable, tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    runtime = LocalRuntime(events_ahead=2)
    runtime.set_functions([journal_fn()])
    events = [{"journal": str(journal), "n": n} for n in range(40)]
    results = burst(run, runtime, events)
    answers = [json.loads(result.payload) for result in results]
    assert [answer["n"] for answer in answers] == list(range(40))  # each caller got its own answer
    assert len({answer["pid"] for answer in answers}) == 1  # one worker (concurrency 1) ...
    assert [n for n, _, _ in journal_runs(journal)] == list(range(40))  # ... ran each once, first come first served
    assert runtime.events_sent_ahead >= 20  # and most were sent before the worker asked
    # An event sent ahead carries a deadline counted from when it was sent: never more than the timeout.
    assert all(0 < answer["remaining_ms"] <= 10_000 for answer in answers)


def test_with_none_ahead_each_event_waits_for_the_worker_to_ask(run: Callable, tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    runtime = LocalRuntime(events_ahead=0)
    runtime.set_functions([journal_fn()])
    results = burst(run, runtime, [{"journal": str(journal), "n": n} for n in range(20)])
    assert [json.loads(result.payload)["n"] for result in results] == list(range(20))
    assert runtime.events_sent_ahead == 0


def test_no_event_is_sent_ahead_to_a_worker_whose_last_run_was_not_short(run: Callable, tmp_path: Path) -> None:
    # An event sent ahead would wait behind a slow run while another worker of the function might be free.
    journal = tmp_path / "journal"
    runtime = LocalRuntime(events_ahead=2)
    runtime.set_functions([journal_fn()])
    results = burst(run, runtime, [{"journal": str(journal), "n": n, "seconds": 0.01} for n in range(10)])
    assert [json.loads(result.payload)["n"] for result in results] == list(range(10))
    assert runtime.events_sent_ahead == 0


def test_output_is_logged_with_the_invocation_that_printed_it(
    run: Callable, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = tmp_path / "journal"
    runtime = LocalRuntime(events_ahead=2)
    runtime.set_functions([journal_fn()])
    # Some end with an unterminated line: it is still theirs, not glued to the next invocation's first line.
    events = [{"journal": str(journal), "n": n, "unterminated": n % 3 == 0} for n in range(60)]
    with caplog.at_level(logging.INFO, logger="stageway.functions"):
        results = burst(run, runtime, events)
    assert runtime.events_sent_ahead >= 20
    lines = [(record.request_id, record.getMessage().split("] ", 1)[1]) for record in caplog.records
             if getattr(record, "function_name", None) == "journal"]
    for result in results:
        rid = result.request_id
        mine = [text for owner, text in lines if owner == rid]
        assert mine[0] == f"START RequestId: {rid} Version: $LATEST"
        assert mine[1:3] == [f"begin {rid}", f"end {rid}"]
        assert mine[3] == f"END RequestId: {rid}"
        assert mine[4].startswith(f"REPORT RequestId: {rid}\t") and len(mine) == 5
        assert f"begin {rid}\nend {rid}" in result.log_tail
        # And in the process log, nothing of another invocation between its START and its END.
        start = lines.index((rid, mine[0]))
        assert lines[start : start + 5] == [(rid, text) for text in mine]
    assert not any("stageway:invocation" in text for _, text in lines)


def _burst_with_one_failure(
    run: Callable, tmp_path: Path, count: int, failing: int, failure: dict[str, Any], timeout_s: float = 10.0
) -> tuple[dict[str, Any], list[tuple[int, int, float]]]:
    """`count` short invocations at once, number `failing` with `failure` in its event: the failing one's
    answer and the journal's runs, once every other caller is checked to have got its own answer."""
    journal = tmp_path / "journal"
    runtime = LocalRuntime(events_ahead=2)
    runtime.set_functions([journal_fn(timeout_s=timeout_s)])
    events = [
        {"journal": str(journal), "n": n, "seconds": 0.001, **(failure if n == failing else {})} for n in range(count)
    ]
    answers = [json.loads(result.payload) for result in burst(run, runtime, events)]
    assert [answer["n"] for n, answer in enumerate(answers) if n != failing] == [
        n for n in range(count) if n != failing
    ]
    return answers[failing], journal_runs(journal)


def test_a_worker_that_dies_hands_back_the_events_it_never_started(run: Callable, tmp_path: Path) -> None:
    failed, runs = _burst_with_one_failure(run, tmp_path, 12, 5, {"exit": True})
    assert failed["errorType"] == "Runtime.ExitError"
    assert sorted(n for n, _, _ in runs) == list(range(12))  # each once, the one that died included
    assert len({pid for n, pid, _ in runs if n > 5}) == 1 and runs[-1][1] != runs[0][1]  # the rest: a new worker


def test_a_timeout_loses_none_of_the_events_sent_ahead(run: Callable, tmp_path: Path) -> None:
    failed, runs = _burst_with_one_failure(run, tmp_path, 8, 3, {"seconds": 5}, timeout_s=0.5)
    assert "Task timed out after 0.50 seconds" in failed["errorMessage"]
    assert sorted(n for n, _, _ in runs) == list(range(8))


def test_a_worker_retired_for_an_oversized_response_runs_what_it_was_sent_first(
    run: Callable, tmp_path: Path
) -> None:
    # Lambda's runtime exits after a refused response; the events already sent to it may be running, so the
    # worker stops once they have run, rather than being killed under one of them.
    failed, runs = _burst_with_one_failure(run, tmp_path, 8, 2, {"oversized": True})
    assert failed["errorType"] == "Function.ResponseSizeTooLarge"
    assert sorted(n for n, _, _ in runs) == list(range(8))
    assert len({pid for _, pid, _ in runs}) == 2  # the worker that refused it, then a new one


def test_a_replaced_worker_runs_the_events_it_was_sent_before_it_stops(run: Callable, tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    runtime = LocalRuntime(events_ahead=2)
    runtime.set_functions([journal_fn()])

    async def scenario() -> list[InvocationResult]:
        try:
            await runtime.invoke("journal", json.dumps({"journal": str(journal), "n": -1}).encode())
            calls = [
                asyncio.ensure_future(
                    runtime.invoke("journal", json.dumps({"journal": str(journal), "n": n, "seconds": 0.001}).encode())
                )
                for n in range(300)
            ]
            while runtime.events_sent_ahead < 10:  # some done, some sent ahead, the rest queued
                await asyncio.sleep(0.005)
            runtime.set_functions([journal_fn(timeout_s=9.0)])  # a new configuration: new workers
            return list(await asyncio.gather(*calls))
        finally:
            await runtime.close()

    results = run(scenario())
    assert [json.loads(result.payload)["n"] for result in results] == list(range(300))
    runs = journal_runs(journal)
    assert sorted(n for n, _, _ in runs) == list(range(300))
    assert len({pid for _, pid, _ in runs}) == 2  # the old worker finished what it had been sent, a new one the rest


def _serve_journal(tmp_path: Path, *args: str) -> tuple[StagewayServer, int]:
    api = tmp_path / "api.yaml"
    api.write_text(
        f"functions:\n  journal:\n    runtime: python3.11\n    handler: handlers.journal\n    code: {CODE}\n"
        "    reservedConcurrency: 1\n"
        "apis:\n  app:\n    integrations:\n      journal: {integrationType: AWS_PROXY, integrationUri: journal}\n"
        "    routes: {'POST /run': journal}\n    stages: {$default: {autoDeploy: true}}\n"
    )
    admin = free_port()
    return StagewayServer(api, args=("--admin-port", str(admin), *args)), admin


@pytest.mark.parametrize("ahead", ["4", "0"])
def test_through_the_server_every_request_gets_its_own_answer(tmp_path: Path, ahead: str) -> None:
    journal = tmp_path / "journal"
    server, admin = _serve_journal(tmp_path, "--events-ahead", ahead)
    with server:

        def call(n: int) -> tuple[int, bytes]:
            event = json.dumps({"journal": str(journal), "n": n}).encode()
            status, _, body, _ = http(
                "POST", f"{server.url}/run", body=event, headers={"Content-Type": "application/json"}
            )
            return status, body

        call(-1)  # the worker is warm, and its last run was short
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(call, range(200)))
        sent_ahead = metric(admin, "stageway_function_events_sent_ahead_total")
    assert [status for status, _ in answers] == [200] * 200
    assert [json.loads(body)["n"] for _, body in answers] == list(range(200))
    assert sorted(n for n, _, _ in journal_runs(journal)) == list(range(200))
    if ahead == "0":
        assert sent_ahead == 0
    else:
        assert sent_ahead > 0  # 16 callers, one worker: there was a queue


def test_events_ahead_must_be_a_small_whole_number() -> None:
    for value in ("-1", "101", "two"):
        command = [sys.executable, "-m", "stageway", "serve", "--events-ahead", value]
        done = subprocess.run(command, check=False, capture_output=True, text=True)
        assert done.returncode == 2
        assert "argument --events-ahead:" in done.stderr
