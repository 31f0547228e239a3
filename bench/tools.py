"""What every scenario needs: external tools, free ports, child processes that always die, wrk.

Everything here talks to 127.0.0.1 only and every wait is bounded.
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PYTHON = sys.executable
LOCALHOST = "127.0.0.1"


class BenchError(RuntimeError):
    """A scenario could not be measured (a server did not start, a tool is missing, ...)."""


# --- external tools -------------------------------------------------------------------------------------------

_DEBIAN_PACKAGES = {"nginx": "nginx", "valgrind": "valgrind", "wrk": "wrk"}
_SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin", "/sbin"])


def which(tool: str) -> str | None:
    return shutil.which(tool, path=_SEARCH_PATH)


def ensure_tools(tools: Sequence[str], log: object = print) -> dict[str, str]:
    """Path of each tool; installs the missing ones from Debian (`apt-get install -y`, update first if needed)."""
    missing = [tool for tool in tools if which(tool) is None]
    if missing:
        packages = sorted({_DEBIAN_PACKAGES[tool] for tool in missing})
        if which("apt-get") is None:
            raise BenchError(f"missing {', '.join(missing)} and no apt-get to install them")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
        _log(log, f"installing {' '.join(packages)} with apt-get ...")
        install = [*sudo, "apt-get", "install", "-y", "--no-install-recommends", *packages]
        done = subprocess.run(install, env=env, capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != 0:
            _log(log, "apt-get install failed, running apt-get update first ...")
            subprocess.run(
                [*sudo, "apt-get", "update"],
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            done = subprocess.run(install, env=env, capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != 0:
            raise BenchError(f"apt-get install {' '.join(packages)} failed:\n{done.stderr[-2000:]}")
    found = {tool: which(tool) for tool in tools}
    absent = [tool for tool, path in found.items() if path is None]
    if absent:
        raise BenchError(f"still missing after install: {', '.join(absent)}")
    return {tool: path for tool, path in found.items() if path is not None}


def _log(log: object, message: str) -> None:
    if callable(log):
        log(message)


# --- machine --------------------------------------------------------------------------------------------------


def machine_summary() -> dict[str, str]:
    cpu = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    memory = "?"
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return {
        "cpu": cpu,
        "cores": f"{os.cpu_count()} logical ({usable} usable)",
        "memory": memory,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "kernel": f"{platform.system()} {platform.release()}",
    }


class ForeignLoad:
    """How much CPU processes outside this run used meanwhile: the machine's busy time (/proc/stat) minus
    this process's and its reaped descendants' (os.times). Read `fraction()` after every child was waited for.
    Interrupt time is left out (it is mostly this run's own loopback traffic)."""

    def __init__(self) -> None:
        self._machine = self._machine_busy()
        self._ours = self._own()
        self._wall = time.perf_counter()

    @staticmethod
    def _machine_busy() -> float:
        fields = [float(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        busy = fields[0] + fields[1] + fields[2]  # user, nice, system (irq: mostly our own loopback traffic)
        return busy / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _own() -> float:
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system

    def fraction(self) -> float:
        cores = len(os.sched_getaffinity(0))
        wall = max(time.perf_counter() - self._wall, 1e-6)
        foreign = (self._machine_busy() - self._machine) - (self._own() - self._ours)
        return max(0.0, foreign) / (wall * cores)


def load_average() -> float:
    with contextlib.suppress(OSError, ValueError, IndexError):
        return float(Path("/proc/loadavg").read_text().split()[0])
    return float("nan")


def tool_version(argv: Sequence[str]) -> str:
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    text = (done.stdout + done.stderr).strip().splitlines()
    return text[0].strip() if text else "?"


# --- ports and readiness --------------------------------------------------------------------------------------


def free_port() -> int:
    """A port nobody listens on right now (the kernel's pick; a tiny race with other programs is possible)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        return int(sock.getsockname()[1])


def http_get(
    port: int,
    path: str = "/",
    timeout: float = 2.0,
    host: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> tuple[int, bytes]:
    """One HTTP/1.1 GET on a fresh connection: (status, body). Raises OSError when nobody answers."""
    status, _, body = http_request(port, path, timeout=timeout, host=host, headers=headers)
    return status, body


def http_request(
    port: int,
    path: str = "/",
    *,
    method: str = "GET",
    timeout: float = 2.0,
    host: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 request on a fresh connection: (status, headers with lower-case names, body).

    Raises OSError when nobody answers. Repeated response headers are joined with ", "."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host or f'{LOCALHOST}:{port}'}", "Connection: close"]
    lines.extend(f"{name}: {value}" for name, value in (headers or {}).items())
    with socket.create_connection((LOCALHOST, port), timeout=timeout) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    match = re.match(rb"HTTP/1\.[01] (\d{3})", head)
    if match is None:
        raise OSError(f"not an HTTP response: {raw[:80]!r}")
    answer: dict[str, str] = {}
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, sep, value = line.partition(":")
        if sep:
            key = name.strip().lower()
            answer[key] = f"{answer[key]}, {value.strip()}" if key in answer else value.strip()
    return int(match.group(1)), answer, body


# --- child processes ------------------------------------------------------------------------------------------


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_tail(self, chars: int = 1500) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-chars:]
        return ""

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise BenchError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")


class Processes:
    """Starts children in their own process groups and kills every one of them (and their children) on exit.

    Use as a context manager: `with Processes(workdir) as procs: procs.start(...)`. Exiting, normally or by
    an exception (Ctrl-C included), sends SIGTERM to each group, waits briefly, then SIGKILLs what is left.
    """

    def __init__(self, workdir: Path | None = None) -> None:
        self._own_tmp = workdir is None
        self.workdir = Path(tempfile.mkdtemp(prefix="stageway-bench-")) if workdir is None else workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.children: list[Child] = []

    def __enter__(self) -> Self:
        _LIVE.add(self)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.stop_all()
        finally:
            _LIVE.discard(self)
            if self._own_tmp:
                shutil.rmtree(self.workdir, ignore_errors=True)

    def start(
        self, name: str, argv: Sequence[str], *, cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> Child:
        log_path = self.workdir / f"{name}-{len(self.children)}.log"
        # A file, never a pipe nobody reads: a chatty child must not block. Popen keeps its own copy of the fd.
        with open(log_path, "wb") as log_file:
            proc = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env={**os.environ, **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: killing it takes the function workers too
            )
        child = Child(name, proc, log_path)
        self.children.append(child)
        return child

    def stop(self, child: Child, grace: float = 3.0) -> None:
        _kill_group(child.proc, grace)
        if child in self.children:
            self.children.remove(child)

    def stop_all(self) -> None:
        # Signal every group first, then wait: a slow one does not delay the others' shutdown.
        for child in self.children:
            _signal_group(child.proc, signal.SIGTERM)
        for child in reversed(self.children):
            _kill_group(child.proc, 3.0)
        self.children.clear()


_LIVE: set[Processes] = set()


def stop_everything() -> None:
    """Last resort (run.py's finally and signal handlers): kill whatever any Processes still holds."""
    for procs in list(_LIVE):
        procs.stop_all()


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def _kill_group(proc: subprocess.Popen[bytes], grace: float) -> None:
    if proc.poll() is None:
        _signal_group(proc, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    # The leader may be gone while its children (function workers, nginx workers) are not: SIGKILL the group.
    _signal_group(proc, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)


def wait_http_ok(
    child: Child,
    port: int,
    path: str,
    *,
    timeout: float = 30.0,
    host: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> float:
    """Poll `GET path` until it answers 200; returns the seconds waited. Raises BenchError on timeout/exit."""
    start = time.perf_counter()
    deadline = start + timeout
    last = "no answer"
    while time.perf_counter() < deadline:
        child.check_alive()
        try:
            status, body = http_get(port, path, timeout=2.0, host=host, headers=headers)
        except OSError as error:
            last = str(error)
            time.sleep(0.005)
            continue
        if status == 200:
            return time.perf_counter() - start
        last = f"{status} {body[:200]!r}"
        time.sleep(0.02)
    raise BenchError(
        f"{child.name} not answering 200 on :{port}{path} after {timeout:.0f}s ({last}):\n{child.log_tail()}"
    )


def rss_bytes(pid: int) -> int:
    """Resident set size of one process (not its children) from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise BenchError(f"no VmRSS for pid {pid}")


def child_pids(pid: int) -> list[int]:
    with contextlib.suppress(OSError):
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        return [int(p) for p in text.split()]
    return []


_CLOCK_TICK_S = 1 / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 0.01


def tree_cpu_seconds(pid: int) -> tuple[float, float]:
    """User and system CPU seconds used so far by process `pid` and its live descendants (Linux /proc).

    That is the whole server under test: nginx's master and worker, or stageway and its function workers
    (which run in sessions of their own, so their process group would miss them). (0, 0) without /proc."""
    usage: dict[int, tuple[int, int, int]] = {}  # pid -> (parent, utime, stime) in clock ticks
    proc = Path("/proc")
    for entry in proc.iterdir() if (proc / "self" / "stat").exists() else ():
        if not entry.name.isdigit():
            continue
        counts = _stat_counts(entry / "stat")
        if counts is not None:  # (else gone in the meantime)
            usage[int(entry.name)] = counts
    children: dict[int, list[int]] = {}
    for child, (parent, _, _) in usage.items():
        children.setdefault(parent, []).append(child)
    user = system = 0
    pending = [pid] if pid in usage else []
    while pending:
        current = pending.pop()
        user += usage[current][1]
        system += usage[current][2]
        pending += children.get(current, [])
    return user * _CLOCK_TICK_S, system * _CLOCK_TICK_S


def process_cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds used so far by process `pid` alone (its threads, not its children)."""
    counts = _stat_counts(Path(f"/proc/{pid}/stat"))
    return 0.0 if counts is None else (counts[1] + counts[2]) * _CLOCK_TICK_S


def _stat_counts(stat: Path) -> tuple[int, int, int] | None:
    """(parent pid, user ticks, system ticks) from a /proc/PID/stat file; None if the process is gone."""
    try:
        text = stat.read_text()
    except OSError:
        return None
    # The fields after the command name, which is in parentheses and may hold spaces: state is field 3.
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), int(fields[11]), int(fields[12])


# --- wrk ------------------------------------------------------------------------------------------------------


@dataclass
class WrkResult:
    url: str
    requests: int
    seconds: float
    rps: float
    non_2xx: int
    socket_errors: int
    latency_avg_ms: float | None
    raw: str
    server_cpu_s: tuple[float, float] | None = None
    """User and system CPU seconds the server (its process and their descendants) used during the run."""
    main_process_cpu_s: float | None = None
    """CPU seconds of the server's own process alone (without its children) during the run."""

    def cpu_us_per_request(self) -> tuple[float, float] | None:
        """The server's (user, system) CPU microseconds per request of this run."""
        if self.server_cpu_s is None or not self.requests:
            return None
        user, system = self.server_cpu_s
        return user * 1e6 / self.requests, system * 1e6 / self.requests

    def main_process_us_per_request(self) -> float | None:
        if self.main_process_cpu_s is None or not self.requests:
            return None
        return self.main_process_cpu_s * 1e6 / self.requests

    @property
    def error_fraction(self) -> float:
        return (self.non_2xx + self.socket_errors) / max(self.requests, 1)

    @property
    def valid(self) -> bool:
        return self.requests > 0 and self.error_fraction <= 0.01


def run_wrk(
    wrk: str,
    url: str,
    *,
    duration: float,
    threads: int,
    connections: int,
    timeout_s: float = 5.0,
    headers: Mapping[str, str] | None = None,
) -> WrkResult:
    """One wrk run; `headers` are sent with every request (`-H "Name: value"`; a Host header replaces wrk's)."""
    argv = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        f"--timeout={timeout_s:g}s",
        *(arg for name, value in (headers or {}).items() for arg in ("-H", f"{name}: {value}")),
        url,
    ]
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=duration + 60, start_new_session=True, check=False
        )
    except subprocess.TimeoutExpired as error:
        raise BenchError(f"wrk did not finish: {' '.join(argv)}") from error
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    return parse_wrk(url, done.stdout)


_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def parse_wrk(url: str, text: str) -> WrkResult:
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", text)
    if total is None:
        raise BenchError(f"cannot read wrk's output:\n{text}")
    requests = int(total.group(1))
    seconds = float(total.group(2)) * _UNIT_MS[total.group(3)] / 1000
    rps_match = re.search(r"Requests/sec:\s+([\d.]+)", text)
    rps = float(rps_match.group(1)) if rps_match else requests / max(seconds, 1e-9)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    latency = re.search(r"Latency\s+([\d.]+)(us|ms|s|m)", text)
    return WrkResult(
        url=url,
        requests=requests,
        seconds=seconds,
        rps=rps,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(g) for g in sockets.groups()) if sockets else 0,
        latency_avg_ms=float(latency.group(1)) * _UNIT_MS[latency.group(2)] if latency else None,
        raw=text,
    )


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    import gc

    was = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
