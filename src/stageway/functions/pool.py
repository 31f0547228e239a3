"""The warm workers of one function, and the queue of invocations waiting for one.

Like Lambda: an invocation takes a warm idle worker if there is one, else a new worker is started for
it, up to the function's concurrency; past that it waits, first come first served. A worker of an older
generation (the configuration or the code changed since it started) finishes the invocation it has
and is then stopped; idle ones are stopped at once.

Waiting invocations are queued here, not their callers: a worker that finishes one takes the next
straight from the queue, in the same callback that read its result, so the next event goes out in the
same write as the `202` for that result and no waiting task has to be woken first to hand it over.
While invocations are queued, busy workers of stageway's own runtime are also sent some of them ahead
(`worker_can_take_ahead`; why and how in `functions/worker.py`), still one running at a time each.
"""

from __future__ import annotations

import time
from collections import deque

from stageway.functions.config import FunctionConfig
from stageway.functions.errors import FunctionNotFound, FunctionThrottled
from stageway.functions.invocation import Invocation
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
        self._queue: deque[Invocation] = deque()
        """Invocations waiting for a worker, oldest first. One whose caller stopped waiting (its future is
        cancelled) stays until it reaches the front and is then dropped unrun."""
        self._removed = False

    def submit(self, invocation: Invocation) -> None:
        """Start the invocation on a warm idle worker, else on a new one if the concurrency allows, else
        queue it. Raises FunctionNotFound (function removed) or FunctionThrottled (concurrency 0)."""
        while self._idle:
            if self._idle.pop().run(invocation):
                return
            # That worker can no longer take one (it is on its way out): try the next.
        if self._removed:
            raise FunctionNotFound(self.config.name)
        if self.config.concurrency == 0:
            raise self._throttled()
        if not self._queue and len(self._active) < self.config.concurrency and self._spawn().run(invocation):
            return
        self._queue.append(invocation)

    def _spawn(self) -> Worker:
        worker = Worker(self.config, self._generation, self, self._settings)
        self._active.add(worker)
        return worker

    def _next_queued(self) -> Invocation | None:
        """The oldest queued invocation whose caller still waits for it."""
        queue = self._queue
        while queue:
            invocation = queue.popleft()
            if not invocation.future.done():
                return invocation
        return None

    # -- reports from workers --------------------------------------------------------------------------

    def worker_ready(self, worker: Worker) -> None:
        # The worker is usable: it reports ready only when it is.
        if worker.generation != self._generation or worker not in self._active:
            self._retire(worker)
            return
        invocation = self._next_queued() if self._queue else None
        if invocation is not None:
            if worker.run(invocation):
                return
            self._queue.appendleft(invocation)  # not expected (the worker is usable): keep its place
        worker.idle_since = time.monotonic()
        self._idle.append(worker)

    def worker_can_take_ahead(self, worker: Worker) -> None:
        # Queued invocations only: with none queued, every new one finds an idle worker or waits in order.
        if not self._queue or worker.generation != self._generation or worker not in self._active:
            return
        while True:
            invocation = self._next_queued()
            if invocation is None:
                return
            if not worker.run(invocation):
                self._queue.appendleft(invocation)
                return

    def requeue(self, invocations: list[Invocation]) -> None:
        self._queue.extendleft(reversed(invocations))
        if self._removed:
            self._fail_queued(FunctionNotFound(self.config.name))
            return
        while self._idle:
            invocation = self._next_queued()
            if invocation is None:
                return
            if not self._idle.pop().run(invocation):
                self._queue.appendleft(invocation)
        # Otherwise they wait for a worker to finish, or for one `worker_gone` starts.

    def worker_gone(self, worker: Worker) -> None:
        if worker in self._active:
            self._active.discard(worker)
            if worker in self._idle:
                self._idle.remove(worker)
            self._start_queued()

    # -- changes ---------------------------------------------------------------------------------------

    def reconfigure(self, config: FunctionConfig | None = None) -> None:
        """A new configuration or new code: every current worker is of the past generation."""
        if config is not None:
            self.config = config
        self._generation += 1
        while self._idle:
            self._retire(self._idle.pop())
        if self.config.concurrency == 0:
            self._fail_queued(self._throttled())
        self._start_queued()

    def remove(self) -> None:
        """The function is gone: idle workers stop now, busy ones after their invocation."""
        self._removed = True
        self.reconfigure()
        self._fail_queued(FunctionNotFound(self.config.name))

    def _throttled(self) -> FunctionThrottled:
        return FunctionThrottled(f"Rate Exceeded: {self.config.name} has a reserved concurrency of 0")

    def _fail_queued(self, error: Exception) -> None:
        while self._queue:
            invocation = self._queue.popleft()
            if not invocation.future.done():
                invocation.future.set_exception(error)

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
        self._start_queued()

    def _start_queued(self) -> None:
        """Start new workers for queued invocations while the concurrency allows."""
        while not self._removed and len(self._active) < self.config.concurrency:
            invocation = self._next_queued()
            if invocation is None:
                return
            if not self._spawn().run(invocation):
                self._queue.appendleft(invocation)  # not expected (a new worker takes one): keep its place
                return
