"""Log output that costs the request path no system call: records are formatted when they are made and
written together a moment later, from a background thread.

Every Lambda invocation logs its START / END / REPORT lines and whatever the handler prints; written one
by one (format, write, flush), that was over a quarter of the gateway's CPU on a busy Lambda route.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import deque
from typing import TextIO

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class SecondCachingFormatter(logging.Formatter):
    """`logging.Formatter` whose date-time text is made once a second: records come by the thousand a
    second (three per Lambda invocation), and `strftime` was most of the cost of formatting one."""

    def __init__(self, fmt: str | None = None) -> None:
        super().__init__(fmt)
        self._second = -1
        self._second_text = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        # What `logging.Formatter.formatTime` writes without a datefmt.
        return self.time_text(record.created, record.msecs)

    def time_text(self, created: float, msecs: float) -> str:
        """`%(asctime)s` of a record made at `created` (whose `msecs` logging computed from it)."""
        second = int(created)
        if second != self._second:
            self._second_text = time.strftime(self.default_time_format, self.converter(created))
            self._second = second
        return f"{self._second_text},{int(msecs):03d}"  # logging's default_msec_format, "%s,%03d"


class BatchingStreamHandler(logging.Handler):
    def __init__(self, stream: TextIO | None = None, interval_s: float = 0.05) -> None:
        super().__init__()
        self.stream = stream or sys.stderr
        self.interval_s = interval_s
        self._pending: deque[str] = deque()
        """Formatted text waiting for the writer. A deque: appending and popping from its two ends are atomic,
        so the request path appends without a lock."""
        self._stop = threading.Event()
        self._writer = threading.Thread(target=self._write_periodically, name="stageway-log-writer", daemon=True)
        self._writer.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:  # noqa: BLE001 - logging must never raise into the caller
            self.handleError(record)
            return
        self._pending.append(line)

    def emit_info_lines(self, logger_name: str, prefix: str, messages: tuple[str, ...]) -> bool:
        """Queue what `emit` would write for INFO records of `logger_name` whose messages are `prefix` and each
        of `messages`, made now, without making the records: the local Lambda runtime logs three or more lines
        an invocation (END and REPORT together), and a LogRecord, the handler's lock and the general formatter
        cost more than a line. False (nothing written) unless this handler formats with LOG_FORMAT and has no
        filters; the caller logs the usual way then."""
        formatter = self.formatter
        if self.filters or not isinstance(formatter, SecondCachingFormatter) or formatter._fmt != LOG_FORMAT:
            return False
        now = time.time()
        head = f"{formatter.time_text(now, (now - int(now)) * 1000)} INFO {logger_name} {prefix}"
        if len(messages) == 1:
            self._pending.append(head + messages[0])
        else:
            self._pending.append("\n".join([head + message for message in messages]))
        return True

    def flush(self) -> None:
        pending = self._pending
        # Only this method takes from the left; lines appended meanwhile wait for the next flush.
        lines = [pending.popleft() for _ in range(len(pending))]
        if not lines:
            return
        try:
            self.stream.write("\n".join(lines) + "\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass  # a closed stderr must not take the gateway down

    def close(self) -> None:
        self._stop.set()
        self.flush()
        super().close()

    def _write_periodically(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.flush()


def configure_logging(level: str) -> None:
    """The process's logging: one batching handler on stderr at `level`."""
    handler = BatchingStreamHandler()
    handler.setFormatter(SecondCachingFormatter(LOG_FORMAT))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
