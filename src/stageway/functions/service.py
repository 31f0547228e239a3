"""`LocalRuntime`: Lambda's Invoke for functions whose code is on this machine.

The gateway process never runs user code. Each function gets a pool of worker processes, each speaking
AWS's Lambda Runtime API to an endpoint of its own in this process; one background task polls the code
directories (hot reload) and reaps idle workers.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import time
from collections.abc import Iterable

from stageway.functions.config import MAX_PAYLOAD_BYTES, FunctionConfig
from stageway.functions.errors import FunctionNotFound, RequestTooLarge
from stageway.functions.interpreter import InterpreterResolver
from stageway.functions.invocation import Invocation, InvocationResult, new_invocation_id, new_trace_id
from stageway.functions.pool import FunctionPool
from stageway.functions.watch import CodeWatcher
from stageway.functions.worker import WorkerSettings
from stageway.running_loop import running_loop

DEFAULT_IDLE_TIMEOUT_S = 300.0
"""Lambda keeps an idle execution environment for minutes, not forever; five here."""


def _runtime_client_path() -> tuple[str, ...]:
    """Where awslambdaric is installed, for custom worker commands that run it (empty if it is not)."""
    spec = importlib.util.find_spec("awslambdaric")
    if spec is None or not spec.submodule_search_locations:
        return ()
    return (os.path.dirname(next(iter(spec.submodule_search_locations))),)


class LocalRuntime:
    """Runs functions in local worker processes, the way Lambda runs them in execution environments."""

    def __init__(
        self,
        *,
        logger: logging.Logger | None = None,
        idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
        watch_interval_s: float = 0.3,
        stop_grace_s: float = 2.0,
        events_ahead: int = 4,
    ) -> None:
        self._logger = logger or logging.getLogger("stageway.functions")
        self._idle_timeout_s = idle_timeout_s
        self._watch_interval_s = watch_interval_s
        self._settings = WorkerSettings(
            logger=self._logger,
            resolver=InterpreterResolver(self._logger),
            stop_grace_s=stop_grace_s,
            events_ahead=events_ahead,
            extra_python_path=_runtime_client_path(),
        )
        self._pools: dict[str, FunctionPool] = {}
        self._watcher = CodeWatcher()
        self._housekeeping: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def events_sent_ahead(self) -> int:
        """Queued events sent to a busy worker before it asked (`functions/worker.py`), since start."""
        return self._settings.sent_ahead

    async def start(self) -> None:
        """Start hot reload and idle reaping (invocations work without it; workers start on demand)."""
        if self._housekeeping is None and not self._closed:
            self._housekeeping = asyncio.get_running_loop().create_task(self._housekeep())

    async def close(self) -> None:
        """Stop every worker (SIGTERM, then SIGKILL after the grace period) and wait until all are gone."""
        self._closed = True
        if self._housekeeping is not None:
            self._housekeeping.cancel()
            try:
                await self._housekeeping
            except asyncio.CancelledError:
                pass
            self._housekeeping = None
        for pool in self._pools.values():
            pool.remove()
        self._pools.clear()
        workers = list(self._settings.live)
        for worker in workers:
            worker.retire(now=True)
        await asyncio.gather(*(worker.wait_closed() for worker in workers))
        await self._settings.resolver.close()

    def set_functions(self, configs: Iterable[FunctionConfig]) -> None:
        """Make these the functions there are: new ones are added, changed ones replaced (their
        workers retire: idle ones now, busy ones after their invocation), missing ones removed."""
        wanted = {config.name: config for config in configs}
        for name in list(self._pools):
            if name not in wanted:
                self._pools.pop(name).remove()
        for name, config in wanted.items():
            pool = self._pools.get(name)
            if pool is None:
                self._pools[name] = FunctionPool(config, self._settings)
            elif pool.config != config:
                pool.reconfigure(config)
        self._watcher.watch({config.code_dir for config in wanted.values()})

    def function(self, name: str) -> FunctionConfig | None:
        pool = self._pools.get(name)
        return pool.config if pool is not None else None

    async def invoke(
        self,
        name: str,
        payload: bytes,
        *,
        request_id: str | None = None,
        client_context: str | None = None,
        trace_id: str | None = None,
    ) -> InvocationResult:
        """Run the function once (Lambda's RequestResponse invocation).

        `client_context` is the client context JSON as the runtime receives it (the Invoke API's
        base64 already decoded); `trace_id` is an X-Ray trace header, a new one when omitted. A
        function error is a result (`function_error="Unhandled"`), not an exception. A caller that
        stops waiting (cancels) leaves the invocation running to its end in its worker, as Lambda
        does; its result is dropped.
        """
        # Cancelling this await cancels the future: a queued invocation is then dropped unrun, a started one
        # runs on in its worker.
        return await self.start_invocation(name, payload, request_id=request_id, client_context=client_context,
                                           trace_id=trace_id)

    def has_function(self, name: str) -> bool:
        return name in self._pools and not self._closed

    def start_invocation(
        self,
        name: str,
        payload: bytes,
        *,
        request_id: str | None = None,
        client_context: str | None = None,
        trace_id: str | None = None,
    ) -> asyncio.Future[InvocationResult]:
        """`invoke` without the coroutine: the invocation is handed to the function's pool now and its result
        is the future's. Cancelling the future is what cancelling `invoke` does. Raises FunctionNotFound,
        RequestTooLarge (and FunctionThrottled for a function with a reserved concurrency of 0) at once."""
        pool = self._pools.get(name)
        if pool is None or self._closed:
            raise FunctionNotFound(f"Function not found: {name}")
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise RequestTooLarge(len(payload))
        if client_context is not None and ("\n" in client_context or "\r" in client_context):
            raise ValueError("client_context must be one line of JSON")
        future: asyncio.Future[InvocationResult] = running_loop().create_future()
        pool.submit(Invocation(request_id or new_invocation_id(), payload, client_context, trace_id or new_trace_id(), future))
        return future

    async def _housekeep(self) -> None:
        next_reap = time.monotonic() + min(self._idle_timeout_s, 30.0)
        while True:
            await asyncio.sleep(self._watch_interval_s)
            try:
                changed = set(await self._watcher.changes())
                for pool in self._pools.values():
                    if pool.config.code_dir in changed:
                        self._logger.info("function %s: code changed, reloading", pool.config.name)
                        pool.reconfigure()
                if time.monotonic() >= next_reap:
                    next_reap = time.monotonic() + min(self._idle_timeout_s, 30.0)
                    for pool in self._pools.values():
                        pool.reap_idle(self._idle_timeout_s)
            except Exception:
                self._logger.exception("function housekeeping failed; retrying")


