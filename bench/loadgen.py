"""An open-loop, fixed-rate HTTP/1.1 load generator: latency at a given request rate, not at saturation.

    python bench/loadgen.py --port 8090 --path /pets --rate 500 --duration 10 [--python]

`open_loop(...)` runs bench/openloop.c (compiled once with the system's C compiler into bench/results/.build,
which is git-ignored): a timerfd wakes it at each request's due time with nanosecond precision and it costs
microseconds per request. Without a C compiler it falls back to `run_open_loop`, the same method in Python
threads, whose own noise is higher (about 0.2 ms at p50, up to ~1 ms at p99 on a 2-core VM); the result says
which one ran.

Request i is due at `start + i / rate`, whatever happened to the requests before it. Its latency is
measured from that scheduled time to the end of its response, so a stall of the server (or of this
generator) shows up as latency of every request it delayed, instead of silently delaying their sending
(coordinated omission). Requests go on a pool of pre-opened keep-alive connections, one request per
connection at a time; a connection is opened on demand when none is idle (counted, since it means the
server fell behind).

Threads rather than asyncio: a sleeping thread wakes within tens of microseconds (nanosleep), while an
event loop's timers have millisecond granularity, which would add up to 1 ms of noise to every figure.
Receivers block in recv() without the GIL, so at a few hundred requests per second they do not contend.
"""

from __future__ import annotations

import argparse
import gc
import os
import queue
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httptools


@dataclass
class LoadResult:
    rate: float
    duration: float
    latencies_ms: list[float] = field(default_factory=list)
    """Scheduled send time to response complete, one per answered request, in schedule order."""
    service_ms: list[float] = field(default_factory=list)
    """Actual send time to response complete (what a closed-loop tool would report)."""
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    sent: int = 0
    max_send_lag_ms: float = 0.0
    """Worst lateness of the generator itself in sending a request (its own noise floor)."""
    extra_connections: int = 0
    generator: str = "python"

    @property
    def non_2xx(self) -> int:
        return sum(count for status, count in self.statuses.items() if not 200 <= status < 300)

    @property
    def answered(self) -> int:
        return len(self.latencies_ms)

    @property
    def error_fraction(self) -> float:
        return (self.errors + self.non_2xx + (self.sent - self.answered - self.errors)) / max(self.sent, 1)

    def percentile(self, q: float, *, service: bool = False) -> float:
        values = sorted(self.service_ms if service else self.latencies_ms)
        if not values:
            return float("nan")
        rank = min(len(values) - 1, max(0, round(q / 100 * len(values) + 0.5) - 1))  # nearest rank
        return values[rank]


class _Connection:
    def __init__(self, port: int, timeout: float) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.complete = False
        self.parser = httptools.HttpResponseParser(self)

    def on_message_complete(self) -> None:
        self.complete = True

    def exchange(self, request: bytes) -> tuple[int, bool]:
        """Send one request, read its whole response: (status, whether the connection stays open)."""
        self.sock.sendall(request)
        self.complete = False
        while not self.complete:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("server closed the connection")
            self.parser.feed_data(data)
        return int(self.parser.get_status_code()), bool(self.parser.should_keep_alive())

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def run_open_loop(
    port: int,
    path: str,
    *,
    rate: float,
    duration: float,
    warmup: float = 1.0,
    connections: int = 16,
    timeout: float = 5.0,
    host: str | None = None,
) -> LoadResult:
    """Send `rate` requests per second for `warmup + duration` seconds; the result covers `duration` only."""
    request = f"GET {path} HTTP/1.1\r\nHost: {host or f'127.0.0.1:{port}'}\r\n\r\n".encode("latin-1")
    warm_count = int(warmup * rate)
    total = warm_count + int(duration * rate)
    result = LoadResult(rate=rate, duration=duration)
    lock = threading.Lock()
    jobs: queue.SimpleQueue[tuple[int, float, float] | None] = queue.SimpleQueue()
    idle_workers = threading.Semaphore(0)
    pool = [_Connection(port, timeout) for _ in range(connections)]

    def worker(conn: _Connection | None) -> None:
        while True:
            idle_workers.release()
            job = jobs.get()
            if job is None:
                break
            index, scheduled, sent_at = job
            try:
                if conn is None:
                    conn = _Connection(port, timeout)
                status, keep_alive = conn.exchange(request)
            except (OSError, httptools.HttpParserError):
                if conn is not None:
                    conn.close()
                conn = None  # reconnect for the next request
                if index >= warm_count:
                    with lock:
                        result.errors += 1
                continue
            done = time.perf_counter()
            if not keep_alive:
                conn.close()
                conn = None
            if index >= warm_count:
                with lock:
                    result.latencies_ms.append((done - scheduled) * 1000)
                    result.service_ms.append((done - sent_at) * 1000)
                    result.statuses[status] = result.statuses.get(status, 0) + 1
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=worker, args=(conn,), daemon=True) for conn in pool]
    for thread in threads:
        thread.start()
    gc_was = gc.isenabled()
    gc.disable()
    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    try:
        start = time.perf_counter() + 0.05
        for index in range(total):
            scheduled = start + index / rate
            pause = scheduled - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            if not idle_workers.acquire(blocking=False):
                # Every connection is busy: the server fell behind. Add one; the latency still counts from
                # `scheduled`, so waiting here is not hidden.
                extra = threading.Thread(target=worker, args=(None,), daemon=True)
                extra.start()
                threads.append(extra)
                result.extra_connections += 1
                if not idle_workers.acquire(timeout=timeout):
                    raise RuntimeError("load generator could not get a connection")
            sent_at = time.perf_counter()
            if index >= warm_count:
                result.max_send_lag_ms = max(result.max_send_lag_ms, (sent_at - scheduled) * 1000)
                result.sent += 1
            jobs.put((index, scheduled, sent_at))
        deadline = time.perf_counter() + timeout + 1
        for _ in threads:
            jobs.put(None)
        for thread in threads:
            thread.join(max(0.0, deadline - time.perf_counter()))
    finally:
        sys.setswitchinterval(old_interval)
        if gc_was:
            gc.enable()
        for conn in pool:
            conn.close()
    return result


OPENLOOP_C = Path(__file__).resolve().parent / "openloop.c"
BUILD_DIR = Path(__file__).resolve().parent / "results" / ".build"


def build_openloop() -> str | None:
    """Path of the compiled C generator (built when missing or older than its source); None without a compiler."""
    binary = BUILD_DIR / "openloop"
    if binary.exists() and binary.stat().st_mtime >= OPENLOOP_C.stat().st_mtime:
        return str(binary)
    compiler = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if compiler is None:
        return None
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    partial = binary.with_suffix(f".{os.getpid()}.tmp")
    done = subprocess.run(
        [compiler, "-O2", "-o", str(partial), str(OPENLOOP_C)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        return None
    partial.replace(binary)
    return str(binary)


def run_openloop_binary(
    binary: str,
    port: int,
    path: str,
    *,
    rate: float,
    duration: float,
    warmup: float = 1.0,
    connections: int = 16,
    timeout: float = 5.0,
) -> LoadResult:
    argv = [
        binary,
        str(port),
        path,
        f"{rate:g}",
        f"{duration:g}",
        f"{warmup:g}",
        str(connections),
        f"{timeout:g}",
    ]
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=warmup + duration + timeout + 30, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"openloop failed ({done.returncode}): {done.stderr.strip()}")
    result = LoadResult(rate=rate, duration=duration, generator="c")
    for line in done.stdout.splitlines():
        if line.startswith("#"):
            fields = line[1:].split()
            summary = dict(zip(fields[::2], fields[1::2]))
            result.sent = int(summary["sent"])
            result.extra_connections = int(summary["extra_connections"])
            result.max_send_lag_ms = int(summary["max_send_lag_ns"]) / 1e6
            continue
        status_text, latency_ns, service_ns = line.split()
        status = int(status_text)
        if status < 0:
            result.errors += 1
            continue
        result.latencies_ms.append(int(latency_ns) / 1e6)
        result.service_ms.append(int(service_ns) / 1e6)
        result.statuses[status] = result.statuses.get(status, 0) + 1
    return result


def open_loop(
    port: int,
    path: str,
    *,
    rate: float,
    duration: float,
    warmup: float = 1.0,
    connections: int = 16,
    timeout: float = 5.0,
    prefer_python: bool = False,
) -> LoadResult:
    """Fixed-rate latency: the C generator when it can be built, else the Python one."""
    binary = None if prefer_python else build_openloop()
    if binary is not None:
        return run_openloop_binary(
            binary,
            port,
            path,
            rate=rate,
            duration=duration,
            warmup=warmup,
            connections=connections,
            timeout=timeout,
        )
    return run_open_loop(
        port, path, rate=rate, duration=duration, warmup=warmup, connections=connections, timeout=timeout
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Open-loop fixed-rate HTTP load (latency from schedule).")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/")
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--python", action="store_true", help="use the Python generator even if C builds")
    args = parser.parse_args()
    result = open_loop(
        args.port,
        args.path,
        rate=args.rate,
        duration=args.duration,
        connections=args.connections,
        prefer_python=args.python,
    )
    print(
        f"generator {result.generator}: sent {result.sent}, answered {result.answered}, errors {result.errors}, statuses {result.statuses}"
    )
    for q in (50, 90, 99, 99.9):
        print(f"p{q:<5} {result.percentile(q):8.3f} ms (service {result.percentile(q, service=True):.3f} ms)")
    print(f"max send lag {result.max_send_lag_ms:.3f} ms, extra connections {result.extra_connections}")


if __name__ == "__main__":
    main()
