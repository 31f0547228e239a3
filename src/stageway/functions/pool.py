"""The warm workers of one function, and the queue of invocations waiting for one.

Like Lambda: an invocation takes a warm idle worker if there is one, else a new worker is started for
it, up to the function's concurrency; past that it waits, first come first served. A worker of an older
generation (the configuration or the code changed since it started) finishes the invocation it has
and is then stopped; idle ones are stopped at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque

from stageway.functions.config import FunctionConfig
from stageway.functions.errors import FunctionNotFound, FunctionThrottled
from stageway.functions.worker import Worker, WorkerSettings


class FunctionPool:
    """One function's workers; the worker reports back through `worker_ready` and `worker_gone`."""

    def __init__(self, config: FunctionConfig, settings: WorkerSettings) -> None:
        self.config = config
        self._settings = settings
        self._generation = 0
        self._active: set[Worker] = set()
        """Workers that count against the concurrency: starting, idle or busy, and not retired."""
        self._idle: list[Worker] = []
        """Most recently used last: taken from the end, reaped from the front."""
        self._waiters: deque[asyncio.Future[Worker]] = deque()
        self._removed = False

    async def acquire(self) -> Worker:
        """A worker to run one invocation on: warm if possible, new if allowed, else the next to free up."""
        if self._idle:
            return self._idle.pop()
        if self._removed:
            raise FunctionNotFound(self.config.name)
        if self.config.concurrency == 0:
            raise self._throttled()
        if not self._waiters and len(self._active) < self.config.concurrency:
            return self._spawn()
        waiter: asyncio.Future[Worker] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self.worker_ready(waiter.result())  # handed over just as the caller gave up: pass it on
            else:
                with contextlib.suppress(ValueError):  # not there if it was failed (function removed)
                    self._waiters.remove(waiter)
            raise

    def _spawn(self) -> Worker:
        worker = Worker(self.config, self._generation, self, self._settings)
        self._active.add(worker)
        return worker

    # -- reports from workers --------------------------------------------------------------------------

    def worker_ready(self, worker: Worker) -> None:
        if worker.generation != self._generation or worker not in self._active or not worker.usable:
            self._retire(worker)
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(worker)
                return
        worker.idle_since = time.monotonic()
        self._idle.append(worker)

    def worker_gone(self, worker: Worker) -> None:
        if worker in self._active:
            self._active.discard(worker)
            if worker in self._idle:
                self._idle.remove(worker)
            self._serve_waiters()

    # -- changes ---------------------------------------------------------------------------------------

    def reconfigure(self, config: FunctionConfig | None = None) -> None:
        """A new configuration or new code: every current worker is of the past generation."""
        if config is not None:
            self.config = config
        self._generation += 1
        while self._idle:
            self._retire(self._idle.pop())
        if self.config.concurrency == 0:
            self._fail_waiters(self._throttled())
        self._serve_waiters()

    def remove(self) -> None:
        """The function is gone: idle workers stop now, busy ones after their invocation."""
        self._removed = True
        self.reconfigure()
        self._fail_waiters(FunctionNotFound(self.config.name))

    def _throttled(self) -> FunctionThrottled:
        return FunctionThrottled(f"Rate Exceeded: {self.config.name} has a reserved concurrency of 0")

    def _fail_waiters(self, error: Exception) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(error)

    def reap_idle(self, idle_timeout_s: float) -> None:
        """Stop workers idle for longer than `idle_timeout_s` (Lambda recycles idle environments too)."""
        cutoff = time.monotonic() - idle_timeout_s
        while self._idle and self._idle[0].idle_since < cutoff:
            self._retire(self._idle.pop(0))

    def _retire(self, worker: Worker) -> None:
        if worker in self._active:
            self._active.discard(worker)
            if worker in self._idle:
                self._idle.remove(worker)
        worker.retire()
        self._serve_waiters()

    def _serve_waiters(self) -> None:
        while self._waiters and not self._removed and len(self._active) < self.config.concurrency:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(self._spawn())
