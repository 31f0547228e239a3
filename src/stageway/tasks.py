"""A coroutine run as a task whose outcome goes to a callback: how callback-driven code (the listener, the
HTTP client's `send_now`) hands a step that must wait to asyncio, and gets the result back the same way a
step that did not wait gives it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any, TypeVar

T = TypeVar("T")

Outcome = Callable[[T | None, BaseException | None], None]
"""Called once: with the result and None, or with None and the exception the work raised (CancelledError if
it was cancelled)."""

_running: set[asyncio.Task[Any]] = set()
"""The tasks `run_then` started and that have not finished: the loop itself keeps only a weak reference."""


def run_then(loop: asyncio.AbstractEventLoop, work: Coroutine[Any, Any, T], then: Outcome[T]) -> None:
    """Run `work` as a task on `loop`; `then` gets its outcome."""
    task = loop.create_task(work)
    _running.add(task)
    task.add_done_callback(partial(_finished, then))


def _finished(then: Outcome[T], task: asyncio.Task[T]) -> None:
    _running.discard(task)
    if task.cancelled():
        then(None, asyncio.CancelledError())
    elif (failure := task.exception()) is not None:
        then(None, failure)
    else:
        then(task.result(), None)
