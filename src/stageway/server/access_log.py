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
    route_key = exchange.route.route_key if exchange.route else "-"
    path = request.raw_path + ("?" + request.raw_query if request.raw_query else "")
    error = f' "{exchange.integration_error}"' if exchange.integration_error else ""
    return (
        f'{request.source_ip} - - [{clf_time(request.time_epoch_ms)}] "{request.method} {path} {request.protocol}" '
        f"{exchange.response.status} {len(exchange.response.body)} {request.request_id} "
        f'"{route_key}" {latency_ms:.1f}ms{error}\n'
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
