"""One invocation: what the caller gets back, and the state the worker keeps while it runs."""

from __future__ import annotations

import asyncio
import os
import re
import time

from stageway.core.forwarding import trace_id
from stageway.core.ids import BATCH, batched
from stageway.functions.logs import LogTail

# A version 4 UUID has the version digit 4 (byte 6's high nibble) and the variant bits 10 (byte 8's top two
# bits); these tables set them in every byte at that position at once.
_VERSION_4 = bytes((byte & 0x0F) | 0x40 for byte in range(256))
_VARIANT_RFC_4122 = bytes((byte & 0x3F) | 0x80 for byte in range(256))
_UUID_FIELDS = re.compile("(.{8})(.{4})(.{4})(.{4})(.{12})")
"""The usual text form's groups of 8-4-4-4-12 digits, from each 32 of a run of hex digits."""


def _invocation_ids() -> list[str]:
    raw = bytearray(os.urandom(16 * BATCH))
    raw[6::16] = raw[6::16].translate(_VERSION_4)
    raw[8::16] = raw[8::16].translate(_VARIANT_RFC_4122)
    # One regex pass cuts every id's groups (three times faster than slicing each with `map`).
    return [f"{a}-{b}-{c}-{d}-{e}" for a, b, c, d, e in _UUID_FIELDS.findall(raw.hex())]


new_invocation_id = batched(_invocation_ids)
"""A random (version 4) UUID in its usual text form, as Lambda's request ids are (`str(uuid.uuid4())` would
cost a getrandom() system call and a UUID object per invocation)."""


def new_trace_id() -> str:
    """`Root=1-<8 hex epoch seconds>-<24 hex>;Sampled=0`, the X-Ray header Lambda hands its runtime."""
    return f"{trace_id(int(time.time() * 1000))};Sampled=0"


class InvocationResult:
    """What Lambda's Invoke API answers for a synchronous invocation."""

    __slots__ = ("_log", "duration_ms", "function_error", "payload", "request_id")

    def __init__(
        self,
        request_id: str,
        payload: bytes,
        function_error: str | None,
        log_tail: str | LogTail,
        duration_ms: float,
    ) -> None:
        self.request_id = request_id
        self.payload = payload
        """The function's response, or Lambda's error JSON when `function_error` is set."""
        self.function_error = function_error
        """None on success, "Unhandled" on any error (Lambda's `X-Amz-Function-Error` header)."""
        self._log = log_tail
        self.duration_ms = duration_ms

    @property
    def log_tail(self) -> str:
        """This invocation's log, START/END/REPORT lines included: its last 4 KB (Lambda's `LogType: Tail`).

        A local invocation's is made from its `LogTail` when first asked for: most callers (the gateway)
        never ask."""
        log = self._log
        if not isinstance(log, str):
            log = self._log = log.text()
        return log

    # Compared, hashed and shown by its fields, as the frozen dataclass it used to be.
    def _fields(self) -> tuple[str, bytes, str | None, str, float]:
        return self.request_id, self.payload, self.function_error, self.log_tail, self.duration_ms

    def __eq__(self, other: object) -> bool:
        if type(other) is not InvocationResult:
            return NotImplemented
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        request_id, payload, function_error, log_tail, duration_ms = self._fields()
        return (
            f"InvocationResult(request_id={request_id!r}, payload={payload!r}, "
            f"function_error={function_error!r}, log_tail={log_tail!r}, duration_ms={duration_ms!r})"
        )


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
