"""`stageway serve --workers N`: N processes, each a whole node, serving one port.

The parent checks and applies the files once, then starts the workers and passes its stop signals on. Every
worker opens the shared store, compiles its own plans (and sees changes within a second through the store's
version), runs its own function workers, and listens on the same port with SO_REUSEPORT, so the kernel
spreads connections over them. Worker 0 alone runs the admin listener and the `--watch` of the files.

What each worker keeps to itself: in-process throttling buckets (use `--throttle redis://...` for limits
that hold across workers), the Lambda authorizer cache, and the function workers (a function's
`reservedConcurrency` applies per worker).
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import signal
import sys
from types import FrameType

from stageway.server.serve import ServeOptions, run_node


def serve_workers(options: ServeOptions) -> int:
    if options.store_url.startswith("memory:"):
        raise ValueError("--workers needs a store the workers share: use --store sqlite:///PATH (the default)")
    _apply_once(options)
    context = multiprocessing.get_context("spawn")  # a clean interpreter per worker: no inherited event loop
    processes = [
        context.Process(
            target=_worker_main,
            args=(dataclasses.replace(options, worker_index=index),),
            name=f"stageway-worker-{index}",
            daemon=False,
        )
        for index in range(options.workers)
    ]
    for process in processes:
        process.start()

    def pass_on(signum: int, _frame: FrameType | None) -> None:
        for process in processes:
            if process.pid is not None and process.is_alive():
                try:
                    process.terminate() if signum == signal.SIGTERM else _interrupt(process.pid)
                except ProcessLookupError:
                    pass

    previous = {sig: signal.signal(sig, pass_on) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for process in processes:
            process.join()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    codes = [process.exitcode or 0 for process in processes]
    return max(codes) if any(codes) else 0


def _interrupt(pid: int) -> None:
    import os

    os.kill(pid, signal.SIGINT)


def _apply_once(options: ServeOptions) -> None:
    if not options.files:
        return
    from stageway.config.apply import apply_config
    from stageway.config.loader import load_config
    from stageway.store.base import open_store

    store = open_store(options.store_url)
    try:
        apply_config(store, load_config(options.files), deploy_all_stages=True)
    finally:
        store.close()


def _worker_main(options: ServeOptions) -> None:
    from stageway.server.log_output import configure_logging

    configure_logging(options.log_level)
    # The parent's Ctrl-C reaches the whole process group; the node's own handlers stop it gracefully.
    sys.exit(run_node(options))
