"""What a local function is: its code, handler, runtime and limits, validated where it is made."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

SUPPORTED_RUNTIMES = frozenset(
    {"python3.9", "python3.10", "python3.11", "python3.12", "python3.13", "python3.14"}
)

DEFAULT_CONCURRENCY = 10
"""Workers a function may run at once when `reserved_concurrency` is None.

Lambda's account default is 1000 concurrent executions; a local gateway shares a few cores, so ten
warm processes per function is the cap unless the function reserves more (or fewer)."""

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
"""Lambda's synchronous invocation request limit: "Request must be smaller than 6291456 bytes"."""

MAX_RESPONSE_BYTES = 6291556
"""Lambda's synchronous response limit, as its error message spells it ("... (6291556 bytes)")."""

# Lambda's own pattern for a function name (CreateFunction rejects anything else).
_FUNCTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _empty_environment() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True)
class FunctionConfig:
    """One function as the local runtime runs it; `environment` is frozen into a read-only mapping."""

    name: str
    handler: str
    """`module.function`; the module may be dotted (`pkg.mod.fn`), as Lambda's Python runtime allows."""
    code_dir: Path
    runtime: str = "python3.12"
    environment: Mapping[str, str] = field(default_factory=_empty_environment, hash=False)
    timeout_s: float = 3.0
    memory_mb: int = 128
    reserved_concurrency: int | None = None
    """Most workers running at once; None means `DEFAULT_CONCURRENCY`. Past it, invocations queue (FIFO).
    0 throttles every invocation, as Lambda's reserved concurrency of zero does."""
    region: str = "us-east-1"
    account_id: str = "123456789012"
    worker_command: tuple[str, ...] | None = None
    """None runs stageway's bootstrap; otherwise the command line of a Runtime API client, e.g.
    `(sys.executable, "-m", "awslambdaric", "{handler}")`, with `{handler}` replaced by `handler`."""

    def __post_init__(self) -> None:
        if not _FUNCTION_NAME.fullmatch(self.name):
            raise ValueError(f"invalid function name {self.name!r}: 1-64 of [A-Za-z0-9_-]")
        if not self.handler or any(ch.isspace() for ch in self.handler):
            raise ValueError(f"invalid handler {self.handler!r}")
        if self.runtime not in SUPPORTED_RUNTIMES:
            raise ValueError(f"unsupported runtime {self.runtime!r}; one of {sorted(SUPPORTED_RUNTIMES)}")
        # Lambda allows 1..900 s; fractions are accepted so tests need not wait whole seconds.
        if not 0 < self.timeout_s <= 900:
            raise ValueError(f"timeout_s must be in (0, 900], got {self.timeout_s}")
        if not 128 <= self.memory_mb <= 10240:
            raise ValueError(f"memory_mb must be in [128, 10240], got {self.memory_mb}")
        if self.reserved_concurrency is not None and self.reserved_concurrency < 0:
            raise ValueError("reserved_concurrency must not be negative")
        environment = dict(self.environment)
        for key, value in environment.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise TypeError(f"environment entries must be strings: {key!r}={value!r}")
        object.__setattr__(self, "environment", MappingProxyType(environment))
        object.__setattr__(self, "code_dir", Path(os.path.abspath(self.code_dir)))
        if self.worker_command is not None:
            if not self.worker_command:
                raise ValueError("worker_command must not be empty")
            object.__setattr__(self, "worker_command", tuple(self.worker_command))

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.name}"

    @property
    def concurrency(self) -> int:
        return DEFAULT_CONCURRENCY if self.reserved_concurrency is None else self.reserved_concurrency

    def command(self, interpreter: str, bootstrap: str) -> list[str]:
        """The worker's command line: `worker_command` with `{handler}` filled in, or the bootstrap."""
        if self.worker_command is None:
            return [interpreter, bootstrap, self.handler]
        return [part.replace("{handler}", self.handler) for part in self.worker_command]
