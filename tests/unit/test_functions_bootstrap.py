"""stageway's runtime loop, worker side: handler loading, error shapes, marshalling, the Runtime API client.

The functions are called in this process against a recording stand-in for the Runtime API client (and,
for the client itself, a real socket); the whole loop in a worker process is covered end to end.
"""

from __future__ import annotations

import decimal
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stageway.functions import bootstrap, runtime_api
from stageway.functions.bootstrap import (
    FaultError,
    LambdaContext,
    RuntimeApiClient,
    load_handler,
    marshal_response,
)


@pytest.fixture
def code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        del sys.modules[name]


def fault(handler: str) -> FaultError:
    with pytest.raises(FaultError) as caught:
        load_handler(handler)
    return caught.value


def test_loads_a_dotted_handler(code: Path) -> None:
    (code / "bspkg").mkdir()
    (code / "bspkg" / "__init__.py").write_text("")
    (code / "bspkg" / "app.py").write_text("def handler(event, context):\n    return 'hi'\n")
    assert load_handler("bspkg.app.handler")({}, None) == "hi"


def test_init_errors_have_lambdas_types_and_messages(code: Path) -> None:
    (code / "bs_needs_missing.py").write_text("import bs_not_installed\n")
    (code / "bs_ok.py").write_text("x = 1\n")
    (code / "bs_syntax.py").write_text("def handler(:\n")

    missing = fault("bs_absent.handler")
    assert (missing.error_type, missing.message) == (
        "Runtime.ImportModuleError", "Unable to import module 'bs_absent': No module named 'bs_absent'"
    )
    inner = fault("bs_needs_missing.handler")
    assert inner.message == "Unable to import module 'bs_needs_missing': No module named 'bs_not_installed'"
    not_found = fault("bs_ok.handler")
    assert (not_found.error_type, not_found.message) == (
        "Runtime.HandlerNotFound", "Handler 'handler' missing on module 'bs_ok'"
    )
    malformed = fault("nodot")
    assert (malformed.error_type, malformed.message) == (
        "Runtime.MalformedHandlerName", "Bad handler 'nodot': not enough values to unpack (expected 2, got 1)"
    )
    builtin = fault("sys.handler")
    assert (builtin.error_type, builtin.message) == (
        "Runtime.BuiltInModuleConflict", "Cannot use built-in module sys as a handler module"
    )
    syntax = fault("bs_syntax.handler")
    assert syntax.error_type == "Runtime.UserCodeSyntaxError"
    assert syntax.message.startswith("Syntax error in module 'bs_syntax': ")
    assert syntax.stack_trace == [f'  File "{code / "bs_syntax.py"}" Line 1\n    def handler(:\n']


def test_marshalling() -> None:
    assert marshal_response({"n": decimal.Decimal(2), "f": decimal.Decimal("1.5")}) == (
        b'{"n": 2, "f": 1.5}', "application/json"
    )
    assert marshal_response(b"\x00raw") == (b"\x00raw", "application/unknown")
    assert marshal_response(None) == (b"null", "application/json")
    with pytest.raises(FaultError) as caught:
        marshal_response({"s": {1}})
    assert caught.value.error_type == "Runtime.MarshalError"
    assert caught.value.message == "Unable to marshal response: Object of type set is not JSON serializable"


def test_context_remaining_time() -> None:
    context = LambdaContext("rid", "arn", int(time.time() * 1000) + 2000, None, None)
    assert 1900 <= context.get_remaining_time_in_millis() <= 2000
    assert LambdaContext("rid", "arn", 0, None, None).get_remaining_time_in_millis() == 0


class RecordingClient:
    def __init__(self) -> None:
        self.posted: list[tuple[str, Any]] = []

    def post_response(self, request_id: str, body: bytes, content_type: str) -> None:
        self.posted.append(("response", body))

    def post_error(self, request_id: str, error: dict[str, Any]) -> None:
        self.posted.append(("error", error))


def _invocation(body: bytes, **headers: str) -> bootstrap.Invocation:
    return bootstrap.Invocation.from_headers(
        {"lambda-runtime-aws-request-id": "rid-1", "lambda-runtime-deadline-ms": str(int(time.time() * 1000) + 3000),
         "lambda-runtime-invoked-function-arn": "arn:fn", **headers},
        body,
    )


def _run(handler: Any, invocation: bootstrap.Invocation) -> tuple[str, Any]:
    client = RecordingClient()
    bootstrap.run_invocation(client, handler, invocation)  # type: ignore[arg-type]
    assert len(client.posted) == 1
    return client.posted[0]


def test_context_reads_the_function_variables_at_each_invocation(monkeypatch: pytest.MonkeyPatch) -> None:
    """As awslambdaric's LambdaContext: what a handler sets in these variables shows in the next context."""
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "first")
    monkeypatch.setenv("AWS_LAMBDA_LOG_STREAM_NAME", "stream-1")
    assert LambdaContext("rid", "arn", 0, None, None).function_name == "first"
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "second")
    monkeypatch.setenv("AWS_LAMBDA_LOG_STREAM_NAME", "stream-2")
    context = LambdaContext("rid", "arn", 0, None, None)
    assert (context.function_name, context.log_stream_name) == ("second", "stream-2")


def test_run_invocation_success_sets_the_trace_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("_X_AMZN_TRACE_ID", raising=False)
    seen = {}

    def handler(event: Any, context: Any) -> Any:
        seen["trace"] = os.environ.get("_X_AMZN_TRACE_ID")
        seen["custom"] = context.client_context.custom
        return {"got": event, "id": context.aws_request_id, "arn": context.invoked_function_arn}

    kind, body = _run(handler, _invocation(b'{"a": 1}', **{"lambda-runtime-trace-id": "Root=1-x",
                                                           "lambda-runtime-client-context": '{"custom": {"k": 1}}'}))
    assert kind == "response"
    assert json.loads(body) == {"got": {"a": 1}, "id": "rid-1", "arn": "arn:fn"}
    assert seen == {"trace": "Root=1-x", "custom": {"k": 1}}


def test_run_invocation_error_trace_starts_in_user_code(capsys: pytest.CaptureFixture[str]) -> None:
    def handler(event: Any, context: Any) -> Any:
        raise KeyError("missing")

    kind, error = _run(handler, _invocation(b"{}"))
    assert kind == "error"
    assert error["errorType"] == "KeyError"
    assert error["errorMessage"] == "'missing'"
    assert error["requestId"] == "rid-1"
    assert len(error["stackTrace"]) == 1
    assert "in handler\n" in error["stackTrace"][0]
    assert capsys.readouterr().out.startswith("[ERROR] KeyError: 'missing'\rTraceback (most recent call last):\r")


def test_run_invocation_unmarshal_and_marshal_errors(capsys: pytest.CaptureFixture[str]) -> None:
    kind, error = _run(lambda event, context: event, _invocation(b"{not json"))
    assert (kind, error["errorType"]) == ("error", "Runtime.UnmarshalError")
    assert error["errorMessage"].startswith("Unable to unmarshal input: ")
    kind, error = _run(lambda event, context: object(), _invocation(b"{}"))
    assert (kind, error["errorType"], error["stackTrace"]) == ("error", "Runtime.MarshalError", [])


def test_system_exit_is_not_caught() -> None:
    def handler(event: Any, context: Any) -> Any:
        sys.exit(1)

    with pytest.raises(SystemExit):
        bootstrap.run_invocation(RecordingClient(), handler, _invocation(b"{}"))  # type: ignore[arg-type]


def test_runtime_api_client_reads_answers_split_anywhere() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    client = RuntimeApiClient(f"127.0.0.1:{listener.getsockname()[1]}")
    server, _ = listener.accept()
    body = b'{"event": "' + b"x" * 200_000 + b'"}'
    answer = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: rid-9\r\n"
        b"Lambda-Runtime-Deadline-Ms: 1700000000000\r\nLambda-Runtime-Invoked-Function-Arn: arn:fn\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    ) + body + b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}"
    for i in range(0, len(answer), 50_000):
        server.sendall(answer[i : i + 50_000])
    invocation = client.wait_next_invocation()
    assert (invocation.request_id, invocation.deadline_ms, invocation.function_arn) == ("rid-9", 1700000000000,
                                                                                      "arn:fn")
    assert invocation.body == body
    assert server.recv(65536).startswith(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n")
    client.post_response("rid-9", b'"ok"', "application/json")  # reads past the 100 Continue
    request = server.recv(65536)
    assert request.startswith(b"POST /2018-06-01/runtime/invocation/rid-9/response HTTP/1.1\r\n")
    assert request.endswith(b'Content-Length: 4\r\n\r\n"ok"')
    server.close()
    with pytest.raises(ConnectionError):
        client.wait_next_invocation()
    listener.close()


def test_pipelined_result_and_next_are_sent_as_the_gateway_expects_them() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    client = RuntimeApiClient(f"127.0.0.1:{listener.getsockname()[1]}", pipelined=True)
    server, _ = listener.accept()
    client.post_response("rid-1", b'"ok"', "application/json")
    event = b'{"n": 2}'
    server.sendall(
        runtime_api.ACCEPTED
        + runtime_api.next_invocation_head(request_id="rid-2", deadline_ms=1700000000000, function_arn="arn:fn",
                                           trace_id="Root=1-x", client_context=None, content_length=len(event))
        + event
    )
    invocation = client.wait_next_invocation()  # reads the 202 (stageway's exact bytes), then the event
    assert (invocation.request_id, invocation.body) == ("rid-2", event)
    sent = b""
    while not sent.endswith(b"\r\n\r\n"):
        sent += server.recv(65536)
    # The result and the next `GET .../next` leave in one send, in the shape the endpoint reads without httptools.
    assert runtime_api.match_result_then_next(sent) == ("rid-1", b'"ok"')
    server.close()
    listener.close()


def test_the_client_speaks_over_an_inherited_socket_as_over_tcp() -> None:
    # What stageway's own workers do: the Runtime API on a Unix socket pair, the child's end passed by number.
    gateway_end, worker_end = socket.socketpair()
    client = RuntimeApiClient("127.0.0.1:9001", pipelined=True, inherited_fd=worker_end.detach())
    event = b'{"n": 1}'
    gateway_end.sendall(
        runtime_api.next_invocation_head(request_id="rid-1", deadline_ms=1700000000000, function_arn="arn:fn",
                                         trace_id="Root=1-x", client_context=None, content_length=len(event))
        + event
    )
    invocation = client.wait_next_invocation()
    assert (invocation.request_id, invocation.body) == ("rid-1", event)
    assert gateway_end.recv(65536) == b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: 127.0.0.1:9001\r\n\r\n"
    client.post_response("rid-1", b'"ok"', "application/json")
    gateway_end.sendall(runtime_api.ACCEPTED)
    gateway_end.close()
    with pytest.raises(ConnectionError):  # the 202 is read, then the gateway is gone
        client.wait_next_invocation()
