"""One invocation: what the caller gets back, and the state the worker keeps while it runs."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from stageway.core.forwarding import trace_id
from stageway.core.ids import random_bytes
from stageway.functions.logs import LogTail

# The variant digit of a version 4 UUID is 10xx in binary: 8, 9, a or b, chosen by two random bits.
_VARIANT_DIGITS = "89ab"


def new_invocation_id() -> str:
    """A random (version 4) UUID in its usual text form, as Lambda's request ids are.

    `str(uuid.uuid4())` costs a getrandom() system call and a UUID object per invocation; this takes its
    bytes from `core.ids`' buffer and only sets the version and variant digits.
    """
    digits = random_bytes(16).hex()
    variant = _VARIANT_DIGITS[int(digits[16], 16) & 3]
    return f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-{variant}{digits[17:20]}-{digits[20:]}"


def new_trace_id() -> str:
    """`Root=1-<8 hex epoch seconds>-<24 hex>;Sampled=0`, the X-Ray header Lambda hands its runtime."""
    return f"{trace_id(int(time.time() * 1000))};Sampled=0"


@dataclass(frozen=True, slots=True)
class InvocationResult:
    """What Lambda's Invoke API answers for a synchronous invocation."""

    request_id: str
    payload: bytes
    """The function's response, or Lambda's error JSON when `function_error` is set."""
    function_error: str | None
    """None on success, "Unhandled" on any error (Lambda's `X-Amz-Function-Error` header)."""
    log_tail: str
    """This invocation's log, START/END/REPORT lines included: its last 4 KB (Lambda's `LogType: Tail`)."""
    duration_ms: float


class Invocation:
    """An invocation from the moment it is handed to a worker until its result is known."""

    __slots__ = (
        "client_context",
        "future",
        "payload",
        "request_id",
        "started",
        "tail",
        "timed_out",
        "timer",
        "trace_id",
    )

    def __init__(
        self,
        request_id: str,
        payload: bytes,
        client_context: str | None,
        trace_id: str,
        future: asyncio.Future[InvocationResult],
    ) -> None:
        self.request_id = request_id
        self.payload = payload
        self.client_context = client_context
        self.trace_id = trace_id
        self.future = future
        """Resolved by the worker; a caller that stops waiting cancels it and the worker carries on."""
        self.tail = LogTail()
        self.started: float | None = None
        """Monotonic time the event was handed to the runtime (Lambda's invoke phase starts there)."""
        self.timer: asyncio.TimerHandle | None = None
        self.timed_out: str | None = None
        """Lambda's timeout message, once the function has run out of time."""
