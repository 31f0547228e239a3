"""The payloads Lambda answers with when a function fails, built without running anything."""

from __future__ import annotations

import json
import re
import signal

from stageway.functions.config import MAX_RESPONSE_BYTES
from stageway.functions.errors import (
    exit_error_message,
    exit_error_payload,
    exit_reason,
    posted_error_payload,
    response_too_large_payload,
    timeout_message,
    timeout_payload,
)


def test_exit_reasons_read_like_gos_exec_errors() -> None:
    assert exit_reason(1) == "exit status 1"
    assert exit_reason(137) == "exit status 137"
    assert exit_reason(-signal.SIGKILL) == "signal: killed"
    assert exit_reason(-signal.SIGSEGV) == "signal: segmentation fault"
    assert exit_reason(-signal.SIGTERM) == "signal: terminated"


def test_exit_error() -> None:
    message = exit_error_message("abc", 1)
    assert message == "RequestId: abc Error: Runtime exited with error: exit status 1"
    assert json.loads(exit_error_payload(message)) == {"errorType": "Runtime.ExitError", "errorMessage": message}
    assert exit_error_message("abc", 0) == "RequestId: abc Error: Runtime exited without providing a reason"


def test_timeout() -> None:
    message = timeout_message("abc", 3)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z abc Task timed out after 3\.00 seconds", message)
    assert json.loads(timeout_payload(message)) == {"errorMessage": message}


def test_response_too_large() -> None:
    assert json.loads(response_too_large_payload(7_000_000)) == {
        "errorType": "Function.ResponseSizeTooLarge",
        "errorMessage": f"Response payload size (7000000 bytes) exceeded maximum allowed payload size "
        f"({MAX_RESPONSE_BYTES} bytes).",
    }


def test_posted_errors_pass_through() -> None:
    body = b'{"errorMessage": "x", "errorType": "KeyError", "requestId": "abc", "stackTrace": []}'
    assert posted_error_payload(body, "KeyError") == body
    assert json.loads(posted_error_payload(b"", "Runtime.Custom")) == {"errorType": "Runtime.Custom", "errorMessage": ""}
    assert json.loads(posted_error_payload(b"", None))["errorType"] == "Runtime.Unknown"
