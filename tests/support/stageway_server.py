"""Start a real `stageway serve` process for end-to-end tests, and stop it cleanly afterwards."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Self


class PortTaken(RuntimeError):
    """The chosen port was taken by someone else before the server could bind it."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class StagewayServer:
    """`stageway serve FILES --port P`, started as a subprocess, ready when it answers HTTP."""

    def __init__(self, *files: Path, args: tuple[str, ...] = (), store: str = "memory://", cwd: Path | None = None):
        self.port = free_port()
        self.files = files
        self.args = args
        self.store = store
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 20) -> StagewayServer:
        """Start and wait until it serves. `free_port()` can race with another process taking the port
        between the probe and the bind; such a start is retried on a new port (twice at most)."""
        for attempt in range(3):
            try:
                return self._start_once(timeout_s)
            except PortTaken:
                if attempt == 2:
                    raise
                self.port = free_port()
        raise AssertionError("unreachable")

    def _start_once(self, timeout_s: float) -> StagewayServer:
        import tempfile

        # Kept open by the child process for its whole life, and read back by log(): not a with-block.
        log_file = tempfile.NamedTemporaryFile(prefix="stageway-", suffix=".log", delete=False)  # noqa: SIM115
        self.log_path = Path(log_file.name)
        command = [
            sys.executable, "-m", "stageway", "serve", *map(str, self.files),
            "--port", str(self.port), "--store", self.store, *self.args,
        ]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            command, stdout=log_file, stderr=subprocess.STDOUT, cwd=self.cwd, env=env
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = self.log()
                if "address already in use" in log.lower() or "could not listen" in log.lower():
                    raise PortTaken(log)
                raise RuntimeError(f"stageway exited with {self.process.returncode}:\n{log}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    pass
                if "listening on" in self.log():
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"stageway did not start in {timeout_s}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def stop(self, timeout_s: float = 20) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def http(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> tuple[int, dict[str, str], bytes, list[tuple[str, str]]]:
    """One request with the stdlib: (status, headers by lower-case name, body, every header pair)."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            pairs = [(k.lower(), v) for k, v in response.headers.items()]
            return response.status, dict(pairs), response.read(), pairs
    except urllib.error.HTTPError as error:
        pairs = [(k.lower(), v) for k, v in error.headers.items()]
        return error.code, dict(pairs), error.read(), pairs
