"""Worker output as Lambda logs it: lines split from a byte stream, START/END/REPORT lines, a 4 KB tail.

Pure module: bytes and numbers in, strings out.
"""

from __future__ import annotations

import math

TAIL_BYTES = 4096
"""Lambda's `LogType: Tail` returns "the last 4 KB of the execution log"."""

_TRIM_AT = 4 * TAIL_BYTES
"""A tail drops its older lines once it holds this many characters, not on every line."""

INVOCATION_MARK = "\x1estageway:invocation "
"""Starts the line `INVOCATION_MARK + request id + "\x1e"` that stageway's runtime prints before it starts
an event while its previous result may not have been read yet (events sent ahead, `functions/worker.py`):
what follows belongs to that invocation. bootstrap.py spells it too (it imports nothing of stageway's)."""


def invocation_mark(line: str) -> tuple[str, str] | None:
    """(text before the mark, request id) if `line` ends with an invocation mark; the text is the rest of
    an unterminated line of the invocation before."""
    if not line.endswith("\x1e"):
        return None
    at = line.rfind(INVOCATION_MARK)
    if at < 0:
        return None
    return line[:at], line[at + len(INVOCATION_MARK) : -1]

MAX_LINE_BYTES = 256 * 1024
"""CloudWatch Logs caps an event at 256 KB; a longer unterminated line is cut into pieces of this size."""


class LineSplitter:
    """Bytes in, complete text lines out; a partial line waits for its newline (or `flush`)."""

    __slots__ = ("partial",)

    def __init__(self) -> None:
        self.partial = b""
        """The bytes of a line still waiting for its newline."""

    def feed(self, data: bytes) -> list[str]:
        data = self.partial + data if self.partial else data
        if b"\n" not in data:
            self.partial = data
            return self._split_overlong()
        *lines, self.partial = data.split(b"\n")
        return [_decode(line) for line in lines] + self._split_overlong()

    def flush(self) -> list[str]:
        """The unterminated rest (a `print(..., end="")` before the invocation ended)."""
        rest, self.partial = self.partial, b""
        return [_decode(rest)] if rest else []

    def _split_overlong(self) -> list[str]:
        if len(self.partial) < MAX_LINE_BYTES:
            return []
        pieces = []
        while len(self.partial) >= MAX_LINE_BYTES:
            pieces.append(_decode(self.partial[:MAX_LINE_BYTES]))
            self.partial = self.partial[MAX_LINE_BYTES:]
        return pieces


def _decode(line: bytes) -> str:
    # Lambda's runtimes join a multi-line record (an error with its traceback) with "\r" so that it
    # stays one CloudWatch event; shown here as the lines they are.
    return line.decode("utf-8", "replace").rstrip("\r").replace("\r", "\n")


class LogTail:
    """The last `TAIL_BYTES` of one invocation's log, kept without holding the whole log."""

    __slots__ = ("_size", "lines")

    def __init__(self) -> None:
        self.lines: list[str] = []
        """The log's lines, oldest first. The runtime's own few short lines (START, END, REPORT) may be added
        to it directly: only the function's output, added with `append`, can grow it without end, and
        `append` keeps that in check."""
        self._size = 0
        """Characters appended with `append` since the last trim, counting one newline a line."""

    def append(self, line: str) -> None:
        self.lines.append(line)
        self._size += len(line) + 1
        if self._size > _TRIM_AT:
            self._trim()

    def _trim(self) -> None:
        """Drop the oldest lines that are certainly outside the tail; trimmed only now and then, when
        the log has grown to four times the tail."""
        if len(self.lines) < 2:
            return
        keep: list[str] = []
        size = 0
        for kept in reversed(self.lines):
            keep.append(kept)
            size += len(kept) + 1
            if size >= TAIL_BYTES:
                break
        keep.reverse()
        self.lines, self._size = keep, size

    def text(self) -> str:
        text = "\n".join(self.lines) + "\n" if self.lines else ""
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


_REPORT = "REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %s ms\tMemory Size: %s MB"


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
    line = _REPORT % (request_id, duration_ms, max(1, math.ceil(duration_ms)), memory_mb)
    if max_memory_used_mb is not None:
        line += f"\tMax Memory Used: {max_memory_used_mb} MB"
    if init_duration_ms is not None:
        line += f"\tInit Duration: {init_duration_ms:.2f} ms"
    if status is not None:
        line += f"\tStatus: {status}"
    if error_type is not None:
        line += f"\tError Type: {error_type}"
    return line
