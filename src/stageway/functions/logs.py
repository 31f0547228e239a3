"""Worker output as Lambda logs it: lines split from a byte stream, START/END/REPORT lines, a 4 KB tail.

Pure module: bytes and numbers in, strings out.
"""

from __future__ import annotations

import math

TAIL_BYTES = 4096
"""Lambda's `LogType: Tail` returns "the last 4 KB of the execution log"."""

MAX_LINE_BYTES = 256 * 1024
"""CloudWatch Logs caps an event at 256 KB; a longer unterminated line is cut into pieces of this size."""


class LineSplitter:
    """Bytes in, complete text lines out; a partial line waits for its newline (or `flush`)."""

    __slots__ = ("_partial",)

    def __init__(self) -> None:
        self._partial = b""

    def feed(self, data: bytes) -> list[str]:
        data = self._partial + data if self._partial else data
        if b"\n" not in data:
            self._partial = data
            return self._split_overlong()
        *lines, self._partial = data.split(b"\n")
        return [_decode(line) for line in lines] + self._split_overlong()

    def flush(self) -> list[str]:
        """The unterminated rest (a `print(..., end="")` before the invocation ended)."""
        rest, self._partial = self._partial, b""
        return [_decode(rest)] if rest else []

    def _split_overlong(self) -> list[str]:
        if len(self._partial) < MAX_LINE_BYTES:
            return []
        pieces = []
        while len(self._partial) >= MAX_LINE_BYTES:
            pieces.append(_decode(self._partial[:MAX_LINE_BYTES]))
            self._partial = self._partial[MAX_LINE_BYTES:]
        return pieces


def _decode(line: bytes) -> str:
    # Lambda's runtimes join a multi-line record (an error with its traceback) with "\r" so that it
    # stays one CloudWatch event; shown here as the lines they are.
    return line.decode("utf-8", "replace").rstrip("\r").replace("\r", "\n")


class LogTail:
    """The last `TAIL_BYTES` of one invocation's log, kept without holding the whole log."""

    __slots__ = ("_lines", "_size")

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._size = 0

    def append(self, line: str) -> None:
        self._lines.append(line)
        self._size += len(line) + 1
        if self._size > 4 * TAIL_BYTES and len(self._lines) > 1:
            keep: list[str] = []
            size = 0
            for kept in reversed(self._lines):
                keep.append(kept)
                size += len(kept) + 1
                if size >= TAIL_BYTES:
                    break
            keep.reverse()
            self._lines, self._size = keep, size

    def text(self) -> str:
        text = "\n".join(self._lines) + "\n" if self._lines else ""
        if len(text) <= TAIL_BYTES // 4:  # at most 4 bytes a character: certainly within 4 KB
            return text
        encoded = text.encode()
        if len(encoded) <= TAIL_BYTES:
            return text
        return encoded[-TAIL_BYTES:].decode("utf-8", "ignore")


def start_line(request_id: str) -> str:
    return f"START RequestId: {request_id} Version: $LATEST"


def end_line(request_id: str) -> str:
    return f"END RequestId: {request_id}"


def report_line(
    request_id: str,
    *,
    duration_ms: float,
    memory_mb: int,
    max_memory_used_mb: int | None,
    init_duration_ms: float | None,
    status: str | None,
    error_type: str | None,
) -> str:
    """Lambda's REPORT line; tab-separated, fields it cannot know are left out rather than invented."""
    # Lambda bills in 1 ms increments, rounding up.
    line = (
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
        f"Billed Duration: {max(1, math.ceil(duration_ms))} ms\tMemory Size: {memory_mb} MB"
    )
    if max_memory_used_mb is not None:
        line += f"\tMax Memory Used: {max_memory_used_mb} MB"
    if init_duration_ms is not None:
        line += f"\tInit Duration: {init_duration_ms:.2f} ms"
    if status is not None:
        line += f"\tStatus: {status}"
    if error_type is not None:
        line += f"\tError Type: {error_type}"
    return line
