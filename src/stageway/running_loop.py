"""`asyncio.get_running_loop()` for code that runs per request.

On Python 3.11 every call of `asyncio.get_running_loop()` (and of what calls it: `asyncio.current_task()`
without a loop, `asyncio.timeout()`) makes a getpid() system call, to notice a fork. A Lambda request made two
of them; here the loop is looked up once per thread and reused while it runs.
"""

from __future__ import annotations

import asyncio
import threading


class _ThreadLoop(threading.local):
    loop: asyncio.AbstractEventLoop | None = None


_this_thread = _ThreadLoop()


def running_loop() -> asyncio.AbstractEventLoop:
    """The event loop running in this thread (RuntimeError when none runs, as `asyncio.get_running_loop`)."""
    loop = _this_thread.loop
    if loop is None or not loop.is_running():
        # First call in this thread, or that loop has stopped (tests start one loop after another): look
        # again. (Only a loop that runs is remembered, and a thread runs one loop at a time.)
        loop = _this_thread.loop = asyncio.get_running_loop()
    return loop
