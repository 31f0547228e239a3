"""Errors of the local Lambda service: the exceptions `invoke` raises and the payloads Lambda returns.

An invocation that fails inside the function is not an exception: it is an `InvocationResult` whose
payload is Lambda's error JSON and whose `function_error` is "Unhandled", exactly what Lambda's Invoke
API answers (with `X-Amz-Function-Error: Unhandled`). Only problems with the call itself raise.
"""

from __future__ import annotations

import signal
import time

import orjson

from stageway.functions.config import MAX_PAYLOAD_BYTES, MAX_RESPONSE_BYTES


class FunctionNotFound(LookupError):
    """No function of that name (Lambda: ResourceNotFoundException, 404)."""


class FunctionThrottled(RuntimeError):
    """The function's reserved concurrency is zero (Lambda: TooManyRequestsException, 429)."""


class RequestTooLarge(ValueError):
    """The invocation payload exceeds Lambda's 6 MB limit (Lambda: RequestTooLargeException, 413)."""

    def __init__(self, size: int) -> None:
        super().__init__(f"{size} byte payload: request must be smaller than {MAX_PAYLOAD_BYTES} bytes")


def rfc3339_now() -> str:
    """`2024-05-01T12:00:00.123Z`: the timestamp Lambda prefixes to a timeout message."""
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"


def timeout_message(request_id: str, timeout_s: float) -> str:
    return f"{rfc3339_now()} {request_id} Task timed out after {timeout_s:.2f} seconds"


def timeout_payload(message: str) -> bytes:
    # Lambda's timeout answer carries only the message: {"errorMessage": "<time> <id> Task timed out ..."}.
    return orjson.dumps({"errorMessage": message})


def exit_reason(returncode: int) -> str:
    """Go's `exec.ExitError` wording, which Lambda's runtime supervisor (written in Go) reports."""
    if returncode < 0:
        try:
            name = signal.strsignal(-returncode) or f"signal {-returncode}"
        except ValueError:
            name = f"signal {-returncode}"
        return f"signal: {name.lower()}"
    return f"exit status {returncode}"


def exit_error_message(request_id: str, returncode: int) -> str:
    if returncode == 0:
        return f"RequestId: {request_id} Error: Runtime exited without providing a reason"
    return f"RequestId: {request_id} Error: Runtime exited with error: {exit_reason(returncode)}"


def exit_error_payload(message: str) -> bytes:
    return orjson.dumps({"errorType": "Runtime.ExitError", "errorMessage": message})


def response_too_large_payload(size: int) -> bytes:
    return orjson.dumps(
        {
            "errorType": "Function.ResponseSizeTooLarge",
            "errorMessage": f"Response payload size ({size} bytes) exceeded maximum allowed payload size "
            f"({MAX_RESPONSE_BYTES} bytes).",
        }
    )


def invalid_entrypoint_payload(request_id: str, reason: str) -> bytes:
    """The worker could not be started at all (Lambda: a missing or unrunnable bootstrap)."""
    return orjson.dumps(
        {"errorType": "Runtime.InvalidEntrypoint", "errorMessage": f"RequestId: {request_id} Error: {reason}"}
    )


def posted_error_payload(body: bytes, error_type: str | None) -> bytes:
    """What the runtime posted to `/error` or `/init/error`, passed through as Lambda does.

    A runtime that posts no body still produces an error: Lambda then reports the type from the
    `Lambda-Runtime-Function-Error-Type` header.
    """
    if body:
        return body
    return orjson.dumps({"errorType": error_type or "Runtime.Unknown", "errorMessage": ""})
