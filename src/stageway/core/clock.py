"""Time as AWS writes it in events and access logs.

Pure module: callers pass the epoch time, nothing here reads the clock.
"""

from __future__ import annotations

import time
from email.utils import formatdate

# English month names whatever the process locale is: `strftime("%b")` would follow LC_TIME.
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# (epoch second, its text): one tuple, so a reader never pairs a second with another second's text.
_last: tuple[int, str] = (-1, "")


def clf_time(epoch_ms: int) -> str:
    """Common Log Format time in UTC, `12/Mar/2020:19:03:58 +0000`.

    AWS uses it for `requestContext.time` (payload 2.0), `requestContext.requestTime` (1.0) and
    `$context.requestTime`. Requests arrive many per second, so the last second's text is kept.
    """
    global _last
    second = epoch_ms // 1000
    cached = _last
    if cached[0] == second:
        return cached[1]
    t = time.gmtime(second)
    text = (
        f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year:04d}:"
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
    )
    _last = (second, text)
    return text


_date_line: tuple[int, str, bytes] = (-1, "", b"")


def date_header_line(epoch_second: int) -> tuple[str, bytes]:
    """The `date: ...` header line (RFC 9110 IMF-fixdate) and its line break, as text and as bytes; the last
    second's is kept, as answers go out many per second."""
    global _date_line
    cached = _date_line
    if cached[0] != epoch_second:
        text = f"date: {formatdate(epoch_second, usegmt=True)}\r\n"
        cached = _date_line = (epoch_second, text, text.encode())
    return cached[1], cached[2]
