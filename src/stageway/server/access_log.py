"""One access-log line per request, written in batches so that logging costs no syscall per request."""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from stageway.core.clock import clf_time
from stageway.gateway.exchange import Exchange


def default_line(exchange: Exchange, latency_ms: float) -> str:
    """`ip - - [time] "METHOD path PROTOCOL" status length requestId routeKey latency`, CLF with AWS extras."""
    request = exchange.request
    return line_of(
        request.source_ip,
        request.time_epoch_ms,
        f"{request.method} {request.raw_path}{'?' + request.raw_query if request.raw_query else ''} {request.protocol}",
        exchange.response.status,
        len(exchange.response.body),
        request.request_id,
        exchange.route.route_key if exchange.route else "-",
        latency_ms,
        exchange.integration_error,
    )


def line_of(
    source_ip: str,
    time_epoch_ms: int,
    request_line: str,
    status: int,
    body_bytes: int,
    request_id: str,
    route_key: str,
    latency_ms: float,
    integration_error: str,
) -> str:
    """`default_line` from its parts, for a caller without an Exchange (the proxy lane)."""
    error = f' "{integration_error}"' if integration_error else ""
    return (
        f'{source_ip} - - [{clf_time(time_epoch_ms)}] "{request_line}" '
        f'{status} {body_bytes} {request_id} "{route_key}" {latency_ms:.1f}ms{error}\n'
    )


class AccessLog:
    """Collects lines and writes them together a moment later (or at close)."""

    def __init__(self, stream: TextIO | None = None, flush_interval_s: float = 0.05) -> None:
        self.stream = stream or sys.stderr
        self.flush_interval_s = flush_interval_s
        self._pending: list[str] = []
        self._scheduled = False

    def write(self, line: str) -> None:
        self._pending.append(line)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_later(self.flush_interval_s, self.flush)

    def flush(self) -> None:
        self._scheduled = False
        if self._pending:
            lines, self._pending = self._pending, []
            try:
                self.stream.write("".join(lines))
                self.stream.flush()
            except (OSError, ValueError):
                pass  # a closed stderr must not take requests down with it
