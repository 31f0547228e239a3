"""Which Python runs a function: the runtime's own interpreter when one works, else the gateway's."""

from __future__ import annotations

import asyncio
import logging
import shutil
import sys

_PROBE = "import sys; print('%d.%d' % sys.version_info[:2]); print(sys.executable)"
_PROBE_TIMEOUT_S = 10.0


class InterpreterResolver:
    """Finds `python3.X` for a runtime `python3.X` once, and remembers the answer.

    The candidate on PATH is run once to check that it works and is that version (a pyenv shim for a
    version that is not active fails here); the worker then runs the real executable it reports, so a
    shim's start-up cost is not paid by every worker. Otherwise the gateway's own interpreter runs the
    function, and that is logged once per runtime.
    """

    def __init__(self, logger: logging.Logger, *, search_path: str | None = None) -> None:
        self._logger = logger
        self._search_path = search_path
        self._resolved: dict[str, asyncio.Future[str]] = {}

    async def resolve(self, runtime: str) -> str:
        pending = self._resolved.get(runtime)
        if pending is None:
            pending = self._resolved[runtime] = asyncio.ensure_future(self._find(runtime))
        return await asyncio.shield(pending)

    async def _find(self, runtime: str) -> str:
        wanted = runtime.removeprefix("python")
        if wanted == f"{sys.version_info[0]}.{sys.version_info[1]}":
            return sys.executable
        candidate = shutil.which(runtime, path=self._search_path)
        found = await self._probe(candidate, wanted) if candidate else None
        if found:
            return found
        self._logger.warning(
            "%s is not available on PATH%s; running %s functions with %s (Python %d.%d)",
            runtime,
            f" ({candidate} does not work)" if candidate else "",
            runtime,
            sys.executable,
            *sys.version_info[:2],
        )
        return sys.executable

    @staticmethod
    async def _probe(candidate: str, wanted: str) -> str | None:
        try:
            process = await asyncio.create_subprocess_exec(
                candidate,
                "-c",
                _PROBE,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
            )
        except OSError:
            return None
        try:
            output, _ = await asyncio.wait_for(process.communicate(), _PROBE_TIMEOUT_S)
        except (TimeoutError, asyncio.CancelledError) as exc:
            process.kill()
            await process.wait()
            if isinstance(exc, asyncio.CancelledError):
                raise
            return None
        lines = output.decode(errors="replace").splitlines()
        if process.returncode != 0 or len(lines) != 2 or lines[0] != wanted:
            return None
        return lines[1]

    async def close(self) -> None:
        """Stops probes still running (their interpreters are killed, not left behind)."""
        for pending in self._resolved.values():
            pending.cancel()
        await asyncio.gather(*self._resolved.values(), return_exceptions=True)
        self._resolved.clear()
