"""The local Lambda service end to end: real worker processes, real Runtime API sockets, no mocks.

Each behaviour is Lambda's: the payload shapes are the ones Lambda's Invoke API answers with, the log
lines the ones CloudWatch shows.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvloop

from stageway.functions import (
    MAX_PAYLOAD_BYTES,
    MAX_RESPONSE_BYTES,
    FunctionConfig,
    FunctionNotFound,
    FunctionThrottled,
    InvocationResult,
    LocalRuntime,
    RequestTooLarge,
)
from stageway.functions.worker import BOOTSTRAP

CODE = Path(__file__).resolve().parents[1] / "fixtures" / "functions" / "basic"
AWSLAMBDARIC = (sys.executable, "-m", "awslambdaric", "{handler}")
T = TypeVar("T")


def fn(name: str, handler: str, code: Path = CODE, **options: Any) -> FunctionConfig:
    return FunctionConfig(name=name, handler=f"handlers.{handler}" if "." not in handler else handler,
                          code_dir=code, **options)


SHARED = [
    fn("echo", "echo"),
    fn("pid", "pid"),
    fn("raises", "raises"),
    fn("not-serialisable", "not_serialisable"),
    fn("sleepy", "sleepy", timeout_s=1.0),
    fn("exits", "exits"),
    fn("hard-exit", "hard_exit"),
    fn("crashes", "crashes"),
    fn("prints", "prints"),
    fn("big-response", "big_response"),
    fn("unicode", "unicode"),
    fn("nested", "pkg.nested.handler"),
    fn("bad-import", "bad_import.handler"),
    fn("missing-handler", "handlers.nope"),
    FunctionConfig("malformed-handler", "nodot", CODE),
    fn("ric-echo", "echo", worker_command=AWSLAMBDARIC),
    fn("ric-raises", "raises", worker_command=AWSLAMBDARIC),
    fn("ric-bad-import", "bad_import.handler", worker_command=AWSLAMBDARIC),
]


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = uvloop.new_event_loop()  # what `stageway serve` runs on
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def runtime(loop: asyncio.AbstractEventLoop) -> Iterator[LocalRuntime]:
    runtime = LocalRuntime()
    loop.run_until_complete(runtime.start())
    runtime.set_functions(SHARED)
    yield runtime
    loop.run_until_complete(runtime.close())


@pytest.fixture
def run(loop: asyncio.AbstractEventLoop) -> Callable[[Awaitable[T]], T]:
    def run(awaitable: Awaitable[T]) -> T:
        return loop.run_until_complete(awaitable)  # type: ignore[arg-type]

    return run


def invoke(runtime: LocalRuntime, name: str, event: Any = None, **options: Any) -> Awaitable[InvocationResult]:
    return runtime.invoke(name, json.dumps({} if event is None else event).encode(), **options)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def children() -> set[int]:
    """This process's children (Linux)."""
    found: set[int] = set()
    for task in Path("/proc/self/task").iterdir():
        found.update(int(pid) for pid in (task / "children").read_text().split())
    return found


# -- success ----------------------------------------------------------------------------------------------


def test_success_returns_the_response_and_the_log_tail(runtime: LocalRuntime, run: Callable) -> None:
    result = run(invoke(runtime, "echo", {"hello": "world", "n": [1, 2]}))
    assert json.loads(result.payload) == {"hello": "world", "n": [1, 2]}
    assert result.function_error is None
    assert result.duration_ms > 0
    rid = result.request_id
    lines = result.log_tail.splitlines()
    assert lines[0] == f"START RequestId: {rid} Version: $LATEST"
    assert lines[-2] == f"END RequestId: {rid}"
    assert re.fullmatch(
        rf"REPORT RequestId: {rid}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\tMemory Size: 128 MB"
        r"(\tMax Memory Used: \d+ MB)?(\tInit Duration: \d+\.\d\d ms)?",
        lines[-1],
    )


def test_request_id_given_by_the_caller_is_the_invocations(runtime: LocalRuntime, run: Callable) -> None:
    result = run(invoke(runtime, "echo", request_id="c0ffee00-0000-4000-8000-000000000001"))
    assert result.request_id == "c0ffee00-0000-4000-8000-000000000001"


def test_dotted_handler_module(runtime: LocalRuntime, run: Callable) -> None:
    result = run(invoke(runtime, "nested"))
    assert json.loads(result.payload) == {"module": "pkg.nested"}


def test_unicode_response(runtime: LocalRuntime, run: Callable) -> None:
    # python3.12+ runtimes write non-ASCII characters as they are (older ones escape them).
    assert run(invoke(runtime, "unicode")).payload == '{"text": "héllo ☃"}'.encode()


def test_warm_worker_is_reused(runtime: LocalRuntime, run: Callable) -> None:
    pids = {json.loads(run(invoke(runtime, "pid")).payload)["pid"] for _ in range(5)}
    assert len(pids) == 1


def test_context_attributes_and_environment(run: Callable, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAGEWAY_TEST_SECRET", "gateway-only")
    runtime = LocalRuntime()
    runtime.set_functions(
        [fn("context", "context_info", environment={"GREETING": "hi"}, memory_mb=256, timeout_s=5,
            region="eu-west-1", account_id="111122223333")]
    )

    async def scenario() -> dict[str, Any]:
        try:
            result = await invoke(
                runtime, "context", client_context='{"custom": {"k": "v"}}', trace_id="Root=1-abc-def;Sampled=0"
            )
        finally:
            await runtime.close()
        return {"request_id": result.request_id, **json.loads(result.payload)}

    seen = run(scenario())
    arn = "arn:aws:lambda:eu-west-1:111122223333:function:context"
    assert seen["aws_request_id"] == seen["request_id"]
    assert seen["function_name"] == "context"
    assert seen["function_version"] == "$LATEST"
    assert seen["invoked_function_arn"] == arn
    assert seen["memory_limit_in_mb"] == "256"  # a string, as Lambda's Python runtime gives it
    assert seen["log_group_name"] == "/aws/lambda/context"
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", seen["log_stream_name"])
    assert 4000 < seen["remaining_ms"] <= 5000
    assert seen["identity"] is None
    assert seen["client_context_custom"] == {"k": "v"}
    assert seen["cwd"] == str(CODE)
    assert seen["sys_path_0"] == str(CODE)  # the code first, not the runtime's own directory
    env = seen["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "context"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/context"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"] == seen["log_stream_name"]
    assert re.fullmatch(r"127\.0\.0\.1:\d+", env["AWS_LAMBDA_RUNTIME_API"])
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert env["_HANDLER"] == "handlers.context_info"
    assert env["LAMBDA_TASK_ROOT"] == str(CODE)
    assert env["LAMBDA_RUNTIME_DIR"] == os.path.dirname(BOOTSTRAP)
    assert env["TZ"] == ":UTC"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(CODE)
    assert env["_X_AMZN_TRACE_ID"] == "Root=1-abc-def;Sampled=0"
    assert env["GREETING"] == "hi"
    assert env["STAGEWAY_TEST_SECRET"] is None  # the gateway's environment is not handed down


# -- errors, in Lambda's shapes -----------------------------------------------------------------------------


def test_handler_exception(runtime: LocalRuntime, run: Callable) -> None:
    result = run(invoke(runtime, "raises"))
    assert result.function_error == "Unhandled"
    error = json.loads(result.payload)
    source = (CODE / "handlers.py").read_text().splitlines()
    line = source.index('    raise ValueError("something went wrong")') + 1
    assert error == {
        "errorMessage": "something went wrong",
        "errorType": "ValueError",
        "requestId": result.request_id,
        "stackTrace": [
            f'  File "{CODE / "handlers.py"}", line {line}, in raises\n    raise ValueError("something went wrong")\n'
        ],
    }
    assert "[ERROR] ValueError: something went wrong\nTraceback (most recent call last):" in result.log_tail


def test_response_that_is_not_json_serialisable(runtime: LocalRuntime, run: Callable) -> None:
    result = run(invoke(runtime, "not-serialisable"))
    assert result.function_error == "Unhandled"
    assert json.loads(result.payload) == {
        "errorMessage": "Unable to marshal response: Object of type set is not JSON serializable",
        "errorType": "Runtime.MarshalError",
        "requestId": result.request_id,
        "stackTrace": [],
    }


@pytest.mark.parametrize(
    ("name", "error_type", "message"),
    [
        ("bad-import", "Runtime.ImportModuleError",
         "Unable to import module 'bad_import': No module named 'module_that_does_not_exist'"),
        ("missing-handler", "Runtime.HandlerNotFound", "Handler 'nope' missing on module 'handlers'"),
        ("malformed-handler", "Runtime.MalformedHandlerName",
         "Bad handler 'nodot': not enough values to unpack (expected 2, got 1)"),
        ("ric-bad-import", "Runtime.ImportModuleError",
         "Unable to import module 'bad_import': No module named 'module_that_does_not_exist'"),
    ],
)
def test_init_errors(runtime: LocalRuntime, run: Callable, name: str, error_type: str, message: str) -> None:
    for _ in range(2):  # every invocation tries the init again, in a fresh worker, as Lambda does
        result = run(invoke(runtime, name))
        assert result.function_error == "Unhandled"
        assert json.loads(result.payload) == {
            "errorMessage": message, "errorType": error_type, "requestId": "", "stackTrace": []
        }
        assert f"Phase: init\tStatus: error\tError Type: {error_type}" in result.log_tail
    assert json.loads(run(invoke(runtime, "echo", {"still": "fine"})).payload) == {"still": "fine"}


def test_syntax_error_in_the_handler_module(run: Callable, tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("def handler(event, context)\n    return 1\n")
    runtime = LocalRuntime()
    runtime.set_functions([fn("broken", "broken.handler", code=tmp_path)])

    async def scenario() -> InvocationResult:
        try:
            return await invoke(runtime, "broken")
        finally:
            await runtime.close()

    error = json.loads(run(scenario()).payload)
    assert error["errorType"] == "Runtime.UserCodeSyntaxError"
    assert error["errorMessage"].startswith("Syntax error in module 'broken': ")
    assert error["stackTrace"] == [f'  File "{tmp_path / "broken.py"}" Line 1\n    def handler(event, context)\n']


def test_timeout_kills_the_worker(runtime: LocalRuntime, run: Callable) -> None:
    started = time.monotonic()
    result = run(invoke(runtime, "sleepy", {"seconds": 30}))
    assert 1.0 <= time.monotonic() - started < 2.5
    assert result.function_error == "Unhandled"
    error = json.loads(result.payload)
    assert list(error) == ["errorMessage"]
    assert re.fullmatch(
        rf"\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z {result.request_id} Task timed out after 1\.00 seconds",
        error["errorMessage"],
    )
    assert result.duration_ms == 1000.0
    assert "\tStatus: timeout" in result.log_tail
    pid = int(re.search(r"pid=(\d+)", result.log_tail).group(1))  # type: ignore[union-attr]
    assert not pid_alive(pid)
    # The next invocation gets a fresh worker.
    assert json.loads(run(invoke(runtime, "sleepy", {"seconds": 0})).payload) == "woke up"


@pytest.mark.parametrize(
    ("name", "reason"),
    [("exits", "exit status 1"), ("hard-exit", "exit status 3"), ("crashes", "signal: segmentation fault")],
)
def test_worker_exiting_mid_invocation(runtime: LocalRuntime, run: Callable, name: str, reason: str) -> None:
    result = run(invoke(runtime, name))
    assert result.function_error == "Unhandled"
    assert json.loads(result.payload) == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {result.request_id} Error: Runtime exited with error: {reason}",
    }
    assert "\tStatus: error\tError Type: Runtime.ExitError" in result.log_tail
    # The gateway is fine, and so is the function's next invocation (in a new worker).
    assert json.loads(run(invoke(runtime, "echo", {"after": name})).payload) == {"after": name}
    assert run(invoke(runtime, name)).function_error == "Unhandled"


def test_response_over_6_mb(runtime: LocalRuntime, run: Callable) -> None:
    result = run(invoke(runtime, "big-response", {"size": MAX_RESPONSE_BYTES}))
    assert result.function_error == "Unhandled"
    size = MAX_RESPONSE_BYTES + 2  # the JSON string's quotes
    assert json.loads(result.payload) == {
        "errorType": "Function.ResponseSizeTooLarge",
        "errorMessage": f"Response payload size ({size} bytes) exceeded maximum allowed payload size "
        f"({MAX_RESPONSE_BYTES} bytes).",
    }
    ok = run(invoke(runtime, "big-response", {"size": 5 * 1024 * 1024}))
    assert ok.function_error is None
    assert len(ok.payload) == 5 * 1024 * 1024 + 2


def test_request_over_6_mb_is_refused(runtime: LocalRuntime, run: Callable) -> None:
    with pytest.raises(RequestTooLarge):
        run(runtime.invoke("echo", b"[" + b" " * MAX_PAYLOAD_BYTES + b"]"))


def test_unknown_function(runtime: LocalRuntime, run: Callable) -> None:
    with pytest.raises(FunctionNotFound):
        run(invoke(runtime, "no-such-function"))


# -- awslambdaric as the worker ------------------------------------------------------------------------------


def test_awslambdaric_worker_success_and_exception(runtime: LocalRuntime, run: Callable) -> None:
    ok = run(invoke(runtime, "ric-echo", {"via": "awslambdaric"}))
    assert (ok.function_error, json.loads(ok.payload)) == (None, {"via": "awslambdaric"})
    again = run(invoke(runtime, "ric-echo", {"n": 2}))
    assert json.loads(again.payload) == {"n": 2}
    failed = run(invoke(runtime, "ric-raises"))
    assert failed.function_error == "Unhandled"
    error = json.loads(failed.payload)
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "something went wrong"
    assert error["requestId"] == failed.request_id
    assert 'in raises\n    raise ValueError("something went wrong")\n' in error["stackTrace"][-1]


@pytest.mark.skipif(not Path("/root/.pyenv/versions/3.9.18/bin/python3.9").exists(), reason="no Python 3.9")
def test_bootstrap_runs_on_the_oldest_supported_python(run: Callable) -> None:
    runtime = LocalRuntime()
    command = ("/root/.pyenv/versions/3.9.18/bin/python3.9", BOOTSTRAP, "{handler}")
    runtime.set_functions([fn("old-echo", "echo", worker_command=command),
                           fn("old-raises", "raises", worker_command=command)])

    async def scenario() -> tuple[InvocationResult, InvocationResult]:
        try:
            return await invoke(runtime, "old-echo", {"py": 39}), await invoke(runtime, "old-raises")
        finally:
            await runtime.close()

    ok, failed = run(scenario())
    assert json.loads(ok.payload) == {"py": 39}
    assert json.loads(failed.payload)["errorType"] == "ValueError"


# -- concurrency ---------------------------------------------------------------------------------------------


def _parallel_slow(run: Callable, concurrency: int, calls: int, seconds: float) -> tuple[list[int], float]:
    runtime = LocalRuntime()
    runtime.set_functions([fn("slow", "slow", reserved_concurrency=concurrency)])

    async def scenario() -> tuple[list[int], float]:
        try:
            await invoke(runtime, "slow", {"seconds": 0})  # one warm worker; the others start on demand
            started = time.monotonic()
            results = await asyncio.gather(*(invoke(runtime, "slow", {"seconds": seconds}) for _ in range(calls)))
            return [json.loads(r.payload)["pid"] for r in results], time.monotonic() - started
        finally:
            await runtime.close()

    return run(scenario())  # type: ignore[no-any-return]


def test_parallel_invocations_start_workers_up_to_the_concurrency(run: Callable) -> None:
    pids, elapsed = _parallel_slow(run, concurrency=3, calls=3, seconds=0.5)
    assert len(set(pids)) == 3
    assert elapsed < 1.0


def test_invocations_past_the_concurrency_wait_for_a_worker(run: Callable) -> None:
    pids, elapsed = _parallel_slow(run, concurrency=2, calls=3, seconds=0.4)
    assert len(set(pids)) == 2
    assert pids[2] in pids[:2]  # the third waited (first come, first served) for one of the two
    assert elapsed >= 0.8


def test_reserved_concurrency_zero_throttles(run: Callable) -> None:
    runtime = LocalRuntime()
    runtime.set_functions([fn("off", "echo", reserved_concurrency=0)])
    with pytest.raises(FunctionThrottled):
        run(invoke(runtime, "off"))
    run(runtime.close())


def test_caller_cancellation_leaves_the_invocation_running(run: Callable, tmp_path: Path) -> None:
    runtime = LocalRuntime()
    runtime.set_functions([fn("slow", "slow", reserved_concurrency=1)])
    marker = tmp_path / "finished"

    async def scenario() -> None:
        try:
            first = json.loads((await invoke(runtime, "slow", {"seconds": 0})).payload)["pid"]
            tasks_before = len(asyncio.all_tasks())
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.1):
                    await invoke(runtime, "slow", {"seconds": 0.5, "marker": str(marker)})
            assert not marker.exists()
            # The function runs on to its end in its worker; then the worker serves the next invocation.
            started = time.monotonic()
            after = json.loads((await invoke(runtime, "slow", {"seconds": 0})).payload)["pid"]
            assert time.monotonic() - started > 0.25
            assert marker.exists()
            assert after == first
            assert len(asyncio.all_tasks()) == tasks_before
            # A caller that gives up while queued leaves the queue and breaks nothing either.
            busy = asyncio.ensure_future(invoke(runtime, "slow", {"seconds": 0.3}))
            await asyncio.sleep(0.05)
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.05):
                    await invoke(runtime, "slow", {"seconds": 0})
            assert json.loads((await busy).payload)["pid"] == first
            assert json.loads((await invoke(runtime, "slow", {"seconds": 0})).payload)["pid"] == first
        finally:
            await runtime.close()

    run(scenario())


# -- hot reload, configuration changes -------------------------------------------------------------------------


def test_editing_the_code_reloads_it(run: Callable, tmp_path: Path) -> None:
    source = tmp_path / "app.py"
    source.write_text("import os\n\ndef handler(event, context):\n    return ['v1', os.getpid()]\n")
    runtime = LocalRuntime()

    async def scenario() -> None:
        await runtime.start()
        runtime.set_functions([fn("app", "app.handler", code=tmp_path)])
        try:
            version, first_pid = json.loads((await invoke(runtime, "app")).payload)
            assert version == "v1"
            source.write_text("import os\n\ndef handler(event, context):\n    return ['v2', os.getpid()]\n")
            await asyncio.sleep(1.0)
            version, second_pid = json.loads((await invoke(runtime, "app")).payload)
            assert version == "v2"
            assert second_pid != first_pid
            assert not pid_alive(first_pid)
        finally:
            await runtime.close()

    run(scenario())


def test_changed_configuration_replaces_the_workers(run: Callable) -> None:
    runtime = LocalRuntime()

    async def scenario() -> None:
        runtime.set_functions([fn("context", "context_info", environment={"GREETING": "one"})])
        try:
            first = json.loads((await invoke(runtime, "context")).payload)
            runtime.set_functions([fn("context", "context_info", environment={"GREETING": "one"})])  # unchanged
            same = json.loads((await invoke(runtime, "context")).payload)
            assert same["log_stream_name"] == first["log_stream_name"]  # the same worker
            runtime.set_functions([fn("context", "context_info", environment={"GREETING": "two"})])
            second = json.loads((await invoke(runtime, "context")).payload)
            assert second["env"]["GREETING"] == "two"
            runtime.set_functions([])
            assert runtime.function("context") is None
            with pytest.raises(FunctionNotFound):
                await invoke(runtime, "context")
        finally:
            await runtime.close()

    run(scenario())


def test_idle_workers_are_reaped(run: Callable) -> None:
    runtime = LocalRuntime(idle_timeout_s=0.3, watch_interval_s=0.1)

    async def scenario() -> None:
        await runtime.start()
        runtime.set_functions([fn("pid", "pid")])
        try:
            first = json.loads((await invoke(runtime, "pid")).payload)["pid"]
            await asyncio.sleep(1.0)
            assert not pid_alive(first)
            assert json.loads((await invoke(runtime, "pid")).payload)["pid"] != first
        finally:
            await runtime.close()

    run(scenario())


# -- logs -------------------------------------------------------------------------------------------------------


def test_worker_output_is_logged_with_the_request_id(
    runtime: LocalRuntime, run: Callable, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="stageway.functions"):
        result = run(invoke(runtime, "prints"))
    rid = result.request_id
    mine = [r for r in caplog.records if getattr(r, "request_id", None) == rid]
    assert all(r.function_name == "prints" for r in mine)  # type: ignore[attr-defined]
    lines = [r.getMessage().split("] ", 1)[1] for r in mine]
    assert lines[0] == f"START RequestId: {rid} Version: $LATEST"
    assert "hello from stdout" in lines
    assert "hello from stderr" in lines
    assert any(re.fullmatch(rf"\[INFO\]\t\S+Z\t{rid}\ta log record", line) for line in lines)
    assert lines[-2] == f"END RequestId: {rid}"
    assert lines[-1].startswith(f"REPORT RequestId: {rid}\t")
    assert "hello from stdout\nhello from stderr\n" in result.log_tail


# -- shutdown ----------------------------------------------------------------------------------------------------


def test_close_leaves_no_process_behind(run: Callable) -> None:
    runtime = LocalRuntime(stop_grace_s=0.5)
    runtime.set_functions([fn("pid", "pid"), fn("sleepy", "sleepy", timeout_s=30)])

    async def scenario() -> tuple[list[int], InvocationResult]:
        pids = [json.loads((await invoke(runtime, "pid")).payload)["pid"]]
        busy = asyncio.ensure_future(invoke(runtime, "sleepy", {"seconds": 60}))
        await asyncio.sleep(0.3)
        await runtime.close()
        return pids, await busy

    pids, interrupted = run(scenario())
    assert all(not pid_alive(pid) for pid in pids)
    pids.append(int(re.search(r"pid=(\d+)", interrupted.log_tail).group(1)))  # type: ignore[union-attr]
    assert not pid_alive(pids[-1])
    assert json.loads(interrupted.payload)["errorType"] == "Runtime.ExitError"
    assert not children() & set(pids)


def test_default_event_loop_works_too() -> None:
    """The same runtime on asyncio's own loop (the gateway may run without uvloop)."""

    async def scenario() -> tuple[InvocationResult, InvocationResult]:
        runtime = LocalRuntime()
        runtime.set_functions([fn("echo", "echo"), fn("exits", "exits")])
        try:
            return await invoke(runtime, "echo", {"loop": "asyncio"}), await invoke(runtime, "exits")
        finally:
            await runtime.close()

    ok, failed = asyncio.run(scenario())
    assert json.loads(ok.payload) == {"loop": "asyncio"}
    assert json.loads(failed.payload)["errorType"] == "Runtime.ExitError"


def test_stagesways_bootstrap_speaks_over_an_inherited_unix_socket(runtime: LocalRuntime, run: Callable) -> None:
    pid = json.loads(run(invoke(runtime, "pid")).payload)["pid"]
    # `python bootstrap.py handler FD`: FD is the worker's end of the socket pair, a Unix socket, and the only
    # connection the worker has (its TCP endpoint, AWS_LAMBDA_RUNTIME_API, stays for anything else).
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]
    assert argv[1].endswith(b"bootstrap.py") and argv[3].isdigit()
    assert os.readlink(f"/proc/{pid}/fd/{int(argv[3])}").startswith("socket:")
    tcp_sockets = {line.split()[9] for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]}
    worker_sockets = {os.readlink(f"/proc/{pid}/fd/{fd}")[8:-1] for fd in os.listdir(f"/proc/{pid}/fd")
                      if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")}
    assert worker_sockets and not worker_sockets & tcp_sockets


def test_programs_a_function_starts_do_not_inherit_its_runtime_socket(run: Callable, tmp_path: Path) -> None:
    (tmp_path / "spawns.py").write_text(
        "import os, subprocess, sys\n"
        "LIST = 'import os; print([os.readlink(\"/proc/self/fd/\" + fd) for fd in os.listdir(\"/proc/self/fd\")'\n"
        "LIST += ' if os.path.exists(\"/proc/self/fd/\" + fd)])'\n"
        "def handler(event, context):\n"
        "    own = os.readlink(f'/proc/self/fd/{sys.argv[2]}')\n"
        "    child = subprocess.run([sys.executable, '-c', LIST], capture_output=True, text=True, close_fds=False)\n"
        "    return {'own': own, 'child': child.stdout}\n"
    )
    runtime = LocalRuntime()
    runtime.set_functions([fn("spawns", "spawns.handler", code=tmp_path)])
    try:
        answer = json.loads(run(invoke(runtime, "spawns")).payload)
        assert answer["own"].startswith("socket:")  # the worker's end of its Runtime API socket pair ...
        assert answer["own"] not in answer["child"]  # ... stays in the worker, even with close_fds=False
    finally:
        run(runtime.close())


def test_a_worker_sleeps_once_an_invocation(runtime: LocalRuntime, run: Callable) -> None:
    # Blocked in recv, the worker would also be woken each time the gateway read its result (the kernel wakes a
    # socket's sleepers when its send buffer drains); it waits in poll(POLLIN) instead. Counted, not timed.
    pid = json.loads(run(invoke(runtime, "pid")).payload)["pid"]

    def sleeps() -> int:
        status = Path(f"/proc/{pid}/status").read_text()
        return int(status.split("voluntary_ctxt_switches:")[1].split()[0])

    before = sleeps()
    for _ in range(200):
        run(invoke(runtime, "pid"))
    assert sleeps() - before <= 1.3 * 200
