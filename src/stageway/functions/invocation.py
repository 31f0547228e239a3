"""One invocation: what the caller gets back, and the state the worker keeps while it runs."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from stageway.functions.logs import LogTail


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
