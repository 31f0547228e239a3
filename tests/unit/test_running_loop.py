"""`running_loop`: the running loop, looked up once per thread while it runs."""

from __future__ import annotations

import asyncio
import threading

import pytest

from stageway.running_loop import running_loop


def test_it_is_the_running_loop_of_each_loop_in_turn() -> None:
    async def current() -> asyncio.AbstractEventLoop:
        return running_loop()

    first, second = asyncio.new_event_loop(), asyncio.new_event_loop()
    try:
        assert first.run_until_complete(current()) is first
        assert second.run_until_complete(current()) is second  # the first no longer runs: looked up again
    finally:
        first.close()
        second.close()


def test_each_thread_gets_its_own() -> None:
    found: dict[str, asyncio.AbstractEventLoop] = {}

    def run(name: str) -> None:
        loop = asyncio.new_event_loop()

        async def keep() -> None:
            found[name] = running_loop()
            await asyncio.sleep(0.05)  # both loops run at once
            assert running_loop() is loop

        try:
            loop.run_until_complete(keep())
            found[name + "-own"] = loop
        finally:
            loop.close()

    threads = [threading.Thread(target=run, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert found["a"] is found["a-own"] and found["b"] is found["b-own"] and found["a"] is not found["b"]


def test_outside_a_loop_it_fails_as_asyncio_does() -> None:
    with pytest.raises(RuntimeError):
        running_loop()
