"""Where stage access logs go: AWS sends them to a CloudWatch log group; stageway writes them to a stream or a
file (there is no CloudWatch here).

`accessLogSettings.destinationArn` may be `stdout`, `stderr`, a file path, or a CloudWatch log group ARN
(`arn:aws:logs:REGION:ACCOUNT:log-group:NAME`), whose lines go to `<log dir>/NAME.log` so that templates
written for AWS work unchanged.
"""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path
from typing import TextIO

from stageway.server.access_log import AccessLog

log = logging.getLogger("stageway.server")

_LOG_GROUP_ARN = re.compile(r"^arn:aws[a-z-]*:logs:[^:]*:[^:]*:log-group:(?P<name>[^:]+)(:\*)?$")


def destination_path(destination: str, log_dir: Path) -> Path | None:
    """The file a destination writes to, or None for stdout / stderr."""
    if destination in ("stdout", "stderr"):
        return None
    match = _LOG_GROUP_ARN.match(destination)
    if match:
        # Log group names may hold "/" (`/aws/apigateway/petstore`): flatten them into one file name.
        return log_dir / (match.group("name").strip("/").replace("/", "_") + ".log")
    return Path(destination)


class LogSinks:
    """One batched writer per destination, opened on first use and kept for the node's life."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self._sinks: dict[str, AccessLog | None] = {}
        self._files: list[TextIO] = []

    def sink(self, destination: str) -> AccessLog | None:
        """The writer for a destination; None (remembered, logged once) when it cannot be opened."""
        if destination not in self._sinks:
            self._sinks[destination] = self._open(destination)
        return self._sinks[destination]

    def _open(self, destination: str) -> AccessLog | None:
        path = destination_path(destination, self.log_dir)
        if path is None:
            return AccessLog(sys.stdout if destination == "stdout" else sys.stderr)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            stream = path.open("a", encoding="utf-8")
        except OSError as error:
            log.error("access log destination %s cannot be opened: %s", destination, error)
            return None
        self._files.append(stream)
        return AccessLog(stream)

    def close(self) -> None:
        for sink in self._sinks.values():
            if sink is not None:
                sink.flush()
        for stream in self._files:
            stream.close()
        self._sinks.clear()
        self._files.clear()
