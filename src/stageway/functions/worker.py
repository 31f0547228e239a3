"""One worker: a process running a function's runtime, its own Runtime API endpoint, its log pipe.

A worker is Lambda's execution environment. It runs one invocation at a time: the event is handed over
when the runtime asks for it (`GET .../invocation/next`) and the invocation ends when the runtime posts
the response or the error, when the function runs out of time (the process is killed, as Lambda does),
or when the process exits. Every line the process prints (stdout and stderr share one pipe, as they
share one CloudWatch stream) is logged with the function's name and the request id it belongs to.

Events sent ahead: when invocations are queued because every worker of the function is busy, a worker
running stageway's own runtime (over its socket pair) whose last invocation was short
(`AHEAD_MAX_DURATION_MS`) is sent up to `WorkerSettings.events_ahead` of them before it asks, so that it
starts the next one as soon as it has posted a result instead of sleeping until the gateway has read that
result and answered (a wake-up of two processes per invocation, the largest cost of a trivial function).
It still runs them one at a time, in order. What the gateway must keep straight because of it:
- an event sent ahead is one whose `GET .../next` is already answered (`_answered_ahead`); it becomes the
  current invocation when the one before it ends (its timer and START line start then);
- the runtime prints a mark with the request id (`logs.INVOCATION_MARK`) before it starts an event while
  its previous result is still unacknowledged; lines after it wait (`_backlog`) until that invocation is
  the current one here, instead of being logged with the one before;
- a worker with events sent ahead is retired only once they have run (the process may have started
  them); one that dies hands back the events it never started (`WorkerOwner.requeue`), after the last
  results it posted have been read (its socket is drained before its exit is handled).

Nothing here awaits on the invocation path: the endpoint's callbacks, a timer and the process-exit
callback drive everything, so a crashing or hanging function costs its own invocation and nothing else.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import math
import os
import signal
import socket
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, cast

from stageway.functions import errors
from stageway.functions.config import FunctionConfig
from stageway.functions.environment import log_stream_name, worker_environment
from stageway.functions.interpreter import InterpreterResolver
from stageway.functions.invocation import Invocation, InvocationResult
from stageway.functions.logs import LineSplitter, end_line, invocation_mark, report_line, start_line
from stageway.functions.runtime_api import (
    ACCEPTED,
    INVALID_REQUEST_ID,
    PAYLOAD_TOO_LARGE,
    Route,
    RuntimeApiConnection,
    next_invocation_head,
)

BOOTSTRAP = str(Path(__file__).with_name("bootstrap.py"))

INIT_TIMEOUT_S = 10.0
"""Lambda gives a function's initialisation (imports, module-level code) 10 seconds."""

AHEAD_MAX_DURATION_MS = 5.0
"""Events are sent ahead only to a worker whose last invocation ran for less than this: where the hand-over's
cost (tens of microseconds) matters, and an event sent ahead to it cannot wait long behind a slow one
while another worker of the function is free."""

MEMORY_REFRESH_S = 0.1
"""REPORT's `Max Memory Used` is the process's peak (VmHWM): read at most this often, as every
invocation of a busy function would otherwise pay for the kernel writing out all of /proc/PID/status."""

_READ_SIZE = 65536


class WorkerOwner(Protocol):
    """The pool a worker reports to."""

    def worker_ready(self, worker: Worker) -> None:
        """The worker finished an invocation and can take another."""

    def worker_gone(self, worker: Worker) -> None:
        """The worker can take no more invocations (its process exited or is about to)."""

    def worker_can_take_ahead(self, worker: Worker) -> None:
        """The busy worker could be sent queued invocations ahead (`Worker.run` takes them while it can)."""

    def requeue(self, invocations: list[Invocation]) -> None:
        """Invocations sent ahead to a worker that ended before it started them: first in line again."""


@dataclass(eq=False)
class WorkerSettings:
    """What every worker of a LocalRuntime shares."""

    logger: logging.Logger
    resolver: InterpreterResolver
    stop_grace_s: float = 2.0
    extra_python_path: tuple[str, ...] = ()
    """Added to PYTHONPATH of workers with a custom `worker_command` (where awslambdaric lives)."""
    events_ahead: int = 4
    """Queued events a busy worker of stageway's runtime may be sent before it asks (0: none; see above)."""
    sent_ahead: int = 0
    """Events sent ahead so far, by all workers (`LocalRuntime.events_sent_ahead`)."""
    live: set[Worker] = field(default_factory=set)
    """Workers whose process may still be running; `LocalRuntime.close` waits for all of them."""


class State(enum.Enum):
    STARTING = "starting"  # process being started or initialising (not yet asked for an event)
    READY = "ready"
    DEAD = "dead"


class Worker:
    """One process of one function (one generation of its code and configuration)."""

    def __init__(self, config: FunctionConfig, generation: int, owner: WorkerOwner, settings: WorkerSettings):
        self.config = config
        self._arn = config.arn  # the same for every event this worker is handed
        self.generation = generation
        self.state = State.STARTING
        self.pid: int | None = None
        self.idle_since = 0.0
        self.invocation: Invocation | None = None
        self._owner = owner
        self._settings = settings
        self._logger = settings.logger
        self._loop = asyncio.get_running_loop()
        self._reusable = True
        self._stop_requested = False
        self._delivered = False
        self._next_connection: RuntimeApiConnection | None = None
        self._pair: RuntimeApiConnection | None = None
        """stageway's runtime's connection (a socket pair), while it is open: events can be sent ahead on it."""
        self._ahead: deque[Invocation] = deque()
        """Events sent ahead, oldest first, not yet the current invocation."""
        self._answered_ahead = 0
        """`GET .../next` requests still to come whose answer (an event sent ahead) has gone already."""
        self._current_sent_ahead = False
        self._last_duration_ms = math.inf
        self._retire_when_done = False
        self._backlog: list[str] | None = None
        """Log lines printed after the runtime marked that it started its next invocation, until that
        invocation is the current one here (None: no mark pending)."""
        self._exit_pending: asyncio.TimerHandle | None = None
        self._connections: set[RuntimeApiConnection] = set()
        self._server: asyncio.Server | None = None
        self._process: asyncio.SubprocessTransport | None = None
        self._log_fd: int | None = None
        self._lines = LineSplitter()
        self._status_fd: int | None = None
        self._memory_mb: int | None = None
        self._memory_fresh_until = -math.inf
        self._spawned_at = time.monotonic()
        self._init_duration_ms: float | None = None
        self._init_timer: asyncio.TimerHandle | None = None
        self._kill_timer: asyncio.TimerHandle | None = None
        self._exited: asyncio.Future[int | None] = self._loop.create_future()
        settings.live.add(self)
        self._start_task = self._loop.create_task(self._start())

    def __repr__(self) -> str:
        return f"<Worker {self.config.name} pid={self.pid} {self.state.value}>"

    # -- lifecycle -------------------------------------------------------------------------------------

    async def _start(self) -> None:
        config = self.config
        read_fd = write_fd = -1
        child_end: socket.socket | None = None
        inherited: tuple[int, ...] = ()
        try:
            self._server = await self._loop.create_server(
                lambda: RuntimeApiConnection(self), "127.0.0.1", 0
            )
            port = self._server.sockets[0].getsockname()[1]
            if config.worker_command is None:
                interpreter = await self._settings.resolver.resolve(config.runtime)
                extra_path: tuple[str, ...] = ()
            else:
                interpreter, extra_path = sys.executable, self._settings.extra_python_path
            environment = worker_environment(
                config,
                runtime_api=f"127.0.0.1:{port}",
                log_stream=log_stream_name(),
                runtime_dir=os.path.dirname(BOOTSTRAP),
                gateway_environ=os.environ,
                extra_python_path=extra_path,
            )
            command = config.command(interpreter, BOOTSTRAP)
            if config.worker_command is None:
                # stageway's own bootstrap talks to this end of a Unix socket pair it inherits (half the
                # kernel's work per message of loopback TCP, on the hot path of every invocation); the TCP
                # endpoint stays for anything else in the process that reads AWS_LAMBDA_RUNTIME_API.
                own_end, child_end = socket.socketpair()
                pair = RuntimeApiConnection(self)
                await self._loop.connect_accepted_socket(lambda: pair, sock=own_end)
                self._pair = pair
                command.append(str(child_end.fileno()))
                inherited = (child_end.fileno(),)
            read_fd, write_fd = os.pipe()
            os.set_blocking(read_fd, False)
            self._log_fd = read_fd
            self._loop.add_reader(read_fd, self._read_logs)
            self._spawned_at = time.monotonic()
            await self._loop.subprocess_exec(
                lambda: _ProcessProtocol(self),
                *command,
                pass_fds=inherited,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=write_fd,
                stderr=write_fd,
                cwd=str(config.code_dir),
                env=environment,
                # Its own process group: a Ctrl-C on the gateway's terminal is the gateway's to handle,
                # and a timeout kills whatever the function started too.
                start_new_session=True,
            )
        except BaseException as exc:  # any failure to start is this worker's, reported to its invocation
            self._fail_start(exc)
            if not isinstance(exc, Exception):
                raise
            return
        finally:
            if write_fd >= 0:
                os.close(write_fd)
            if child_end is not None:
                child_end.close()
        if self.state is State.DEAD:  # exited already
            return
        if sys.platform == "linux":
            try:
                self._status_fd = os.open(f"/proc/{self.pid}/status", os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                self._status_fd = None
        self._init_timer = self._loop.call_later(INIT_TIMEOUT_S, self._on_init_timeout)
        if self._stop_requested:
            self._terminate()

    def _attach(self, process: asyncio.SubprocessTransport) -> None:
        self._process = process
        self.pid = process.get_pid()

    def _fail_start(self, exc: BaseException) -> None:
        self._logger.error("function %s: cannot start a worker: %r", self.config.name, exc)
        self.state = State.DEAD
        self._close_logs()
        inv = self.invocation
        if inv is not None:
            self._complete(
                errors.invalid_entrypoint_payload(inv.request_id, str(exc)),
                status="error",
                error_type="Runtime.InvalidEntrypoint",
            )
        self._shutdown()
        if not self._exited.done():
            self._exited.set_result(None)

    def retire(self, *, now: bool = False) -> None:
        """Take no more invocations and stop: SIGTERM, then SIGKILL after the grace period. Idempotent.
        A worker with events sent ahead stops once they have run (the process may be running one), unless
        `now` (the runtime is closing)."""
        self._reusable = False
        if self._stop_requested:
            return
        if not now and (self._ahead or (self.invocation is not None and self._current_sent_ahead)):
            self._retire_when_done = True
            return
        self._stop_requested = True
        if self._process is not None:
            self._terminate()
        # else not started yet: `_start` terminates the process as soon as it exists

    def _terminate(self) -> None:
        self._signal(signal.SIGTERM)
        self._kill_timer = self._loop.call_later(self._settings.stop_grace_s, self._signal, signal.SIGKILL)

    async def wait_closed(self) -> None:
        await asyncio.wait([self._start_task])
        await self._exited

    def _signal(self, signum: int) -> None:
        if self.pid is None or self.state is State.DEAD:
            return
        try:
            os.killpg(self.pid, signum)  # the whole group: what the function started goes too
        except (ProcessLookupError, PermissionError):
            pass

    def _process_exited(self) -> None:
        if self._pair is not None and not self._exited.done() and self._exit_pending is None:
            # Results the runtime posted just before it ended may still be in the socket: read them first
            # (its end closes when it exits), or an invocation that succeeded would count as the one that
            # died, and the one that died as never started.
            self._exit_pending = self._loop.call_later(1.0, self._on_exit)
            return
        self._on_exit()

    def _on_exit(self) -> None:
        assert self._process is not None
        if self._exit_pending is not None:
            self._exit_pending.cancel()
            self._exit_pending = None
        returncode = self._process.get_returncode()
        if self._exited.done():  # the start failed and was already reported
            self._process.close()
            return
        self.state = State.DEAD
        if self.pid is not None:
            # Lambda tears the whole environment down: whatever the function started and left behind
            # goes with it. (The group id cannot have been reused while any of its members lives.)
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self._read_logs()  # what it printed last
        self._close_logs()
        if self._ahead:
            never_started, self._ahead = list(self._ahead), deque()
            self._owner.requeue(never_started)
        self._replay_backlog()  # only if its last result never came: logged with the invocation that died
        inv = self.invocation
        if inv is not None:
            if inv.timed_out is not None:
                self._complete(errors.timeout_payload(inv.timed_out), status="timeout")
            else:
                message = errors.exit_error_message(inv.request_id, returncode or 0)
                self._complete(
                    errors.exit_error_payload(message),
                    status="error",
                    error_type="Runtime.ExitError",
                    messages=(message, "Runtime.ExitError"),
                )
        self._shutdown()
        self._process.close()
        if not self._exited.done():
            self._exited.set_result(returncode)

    def _shutdown(self) -> None:
        """The process is gone: close the endpoint and every timer, tell the pool."""
        self.state = State.DEAD
        for timer in (self._init_timer, self._kill_timer):
            if timer is not None:
                timer.cancel()
        if self._server is not None:
            self._server.close()
        for connection in list(self._connections):
            connection.close()
        if self._status_fd is not None:
            os.close(self._status_fd)
            self._status_fd = None
        self._settings.live.discard(self)
        self._owner.worker_gone(self)

    # -- invocations -----------------------------------------------------------------------------------

    @property
    def usable(self) -> bool:
        return self.state is not State.DEAD and self._reusable

    def run(self, inv: Invocation) -> bool:
        """Hand an invocation to this worker; False if it can no longer take one. A busy worker takes it
        as an event sent ahead while it can (see the module's docstring)."""
        if not self.usable:
            return False
        if self.invocation is not None:
            return self._send_ahead(inv)
        self.invocation = inv
        self._delivered = False
        self._current_sent_ahead = False
        if self._next_connection is not None:
            self._deliver()
        return True

    def _deliver(self) -> None:
        connection, self._next_connection = self._next_connection, None
        inv = self.invocation
        assert connection is not None and inv is not None
        self._start_current(inv)
        connection.answer(self._event_head(inv), inv.payload)
        if self._pair is connection and self._settings.events_ahead:
            self._owner.worker_can_take_ahead(self)

    def _event_head(self, inv: Invocation) -> bytes:
        # The deadline of an event sent ahead counts from when it is sent: its function may see a little
        # less time than it has (the gateway's timer starts when the event becomes the current one).
        return next_invocation_head(
            request_id=inv.request_id,
            deadline_ms=int((time.time() + self.config.timeout_s) * 1000),
            function_arn=self._arn,
            trace_id=inv.trace_id,
            client_context=inv.client_context,
            content_length=len(inv.payload),
        )

    def _start_current(self, inv: Invocation) -> None:
        """The invocation's event is the runtime's now (Lambda's invoke phase): its timer and START line."""
        inv.started = time.monotonic()
        self._delivered = True
        inv.timer = self._loop.call_later(self.config.timeout_s, self._on_timeout)
        self._log_runtime_lines(start_line(inv.request_id))

    def _send_ahead(self, inv: Invocation) -> bool:
        pair = self._pair
        if (
            pair is None
            or not self._delivered
            or self._next_connection is not None
            or self.state is not State.READY
            or len(self._ahead) >= self._settings.events_ahead
            or self._last_duration_ms >= AHEAD_MAX_DURATION_MS
        ):
            return False
        self._ahead.append(inv)
        self._answered_ahead += 1
        self._settings.sent_ahead += 1
        pair.answer(self._event_head(inv), inv.payload)
        return True

    def _on_timeout(self) -> None:
        inv = self.invocation
        if inv is None:
            return
        # Lambda logs "<time> <id> Task timed out after 3.00 seconds" and kills the environment.
        inv.timed_out = errors.timeout_message(inv.request_id, self.config.timeout_s)
        self._log_line(inv.timed_out)
        self._reusable = False
        self._signal(signal.SIGKILL)

    def _on_init_timeout(self) -> None:
        inv = self.invocation
        if self.state is not State.STARTING:
            return
        self._logger.warning(
            "function %s: initialisation took longer than %.0f s; worker killed", self.config.name, INIT_TIMEOUT_S
        )
        if inv is not None:
            inv.timed_out = errors.timeout_message(inv.request_id, self.config.timeout_s)
            self._log_line(inv.timed_out)
        self._reusable = False
        self._signal(signal.SIGKILL)

    def _complete(
        self,
        payload: bytes,
        *,
        function_error: str | None = "Unhandled",
        status: str | None = None,
        error_type: str | None = None,
        messages: tuple[str, ...] = (),
    ) -> None:
        inv = self.invocation
        assert inv is not None
        if inv.timer is not None:
            inv.timer.cancel()
        if self._log_fd is not None:
            self._read_logs()  # the lines printed before the result was posted belong to this invocation
        if self._lines.partial and self._backlog is None:
            for line in self._lines.flush():
                self._log_line(line)
        request_id = inv.request_id
        if not self._delivered:
            self._log_runtime_lines(start_line(request_id))
        for message in messages:
            self._log_line(message)
        now = time.monotonic()
        if inv.timed_out is not None:
            duration_ms = self.config.timeout_s * 1000.0  # Lambda reports the timeout as the duration
        elif inv.started is not None:
            duration_ms = (now - inv.started) * 1000.0
        else:
            duration_ms = 0.0
        self._last_duration_ms = duration_ms
        init_duration_ms, self._init_duration_ms = self._init_duration_ms, None
        self._log_runtime_lines(
            end_line(request_id),
            report_line(
                request_id,
                duration_ms=duration_ms,
                memory_mb=self.config.memory_mb,
                max_memory_used_mb=self._max_memory_used_mb(now),
                init_duration_ms=init_duration_ms,
                status=status,
                error_type=error_type,
            ),
        )
        self.invocation = None
        self._delivered = False
        if self._ahead and self.state is not State.DEAD:
            # The runtime goes on with the event sent next (it may have started it already).
            following = self.invocation = self._ahead.popleft()
            self._current_sent_ahead = True
            self._start_current(following)
            self._replay_backlog()
        if not inv.future.done():  # else the caller stopped waiting: the result is dropped, as Lambda does
            # The log tail is handed over as it is; its text is made only if someone asks for it.
            result = InvocationResult(request_id, payload, function_error, inv.tail, duration_ms)
            inv.future.set_result(result)
        if self.invocation is not None:
            if self.state is State.READY and self._reusable:
                self._owner.worker_can_take_ahead(self)
        elif self._retire_when_done:
            self._retire_when_done = False
            self.retire()
        elif self.state is State.READY and self._reusable:
            self._owner.worker_ready(self)

    def _max_memory_used_mb(self, now: float) -> int | None:
        """Peak resident memory of the process (VmHWM), one pread of /proc/PID/status at most every
        `MEMORY_REFRESH_S` (`now` is the monotonic time)."""
        if self._status_fd is None:
            return None
        if now < self._memory_fresh_until:
            return self._memory_mb
        try:
            status = os.pread(self._status_fd, 4096, 0)
            start = status.index(b"VmHWM:") + 6
            self._memory_mb = -(-int(status[start : status.index(b"kB", start)]) // 1024)
        except (OSError, ValueError):
            return None
        self._memory_fresh_until = now + MEMORY_REFRESH_S
        return self._memory_mb

    # -- Runtime API (called by the endpoint's connections) ---------------------------------------------

    def connection_made(self, connection: RuntimeApiConnection) -> None:
        self._connections.add(connection)

    def connection_lost(self, connection: RuntimeApiConnection) -> None:
        self._connections.discard(connection)
        if self._next_connection is connection:
            self._next_connection = None
        if self._pair is connection:
            self._pair = None
            if self._exit_pending is not None:
                self._on_exit()  # its last results have been read

    def on_next(self, connection: RuntimeApiConnection) -> None:
        if self.state is State.DEAD:
            return
        if self.state is State.STARTING:
            # The first request for an event ends Lambda's init phase.
            self.state = State.READY
            self._init_duration_ms = (time.monotonic() - self._spawned_at) * 1000.0
            if self._init_timer is not None:
                self._init_timer.cancel()
                self._init_timer = None
        if self._answered_ahead:
            self._answered_ahead -= 1  # its answer was an event sent ahead
            return
        self._next_connection = connection
        if self.invocation is not None and not self._delivered:
            self._deliver()

    def on_result(
        self,
        connection: RuntimeApiConnection,
        route: Route,
        request_id: str,
        body: bytes | None,
        size: int,
        error_type: str | None,
    ) -> None:
        inv = self.invocation
        if route is Route.INIT_ERROR:
            connection.answer(ACCEPTED)
            if self.state is not State.STARTING:
                return
            # The runtime exits next; Lambda answers the waiting invocation with the init error.
            self._reusable = False
            if self._init_timer is not None:
                self._init_timer.cancel()
            if inv is not None:
                self._log_line(
                    f"INIT_REPORT Init Duration: {(time.monotonic() - self._spawned_at) * 1000:.2f} ms\t"
                    f"Phase: init\tStatus: error\tError Type: {error_type or 'Runtime.Unknown'}"
                )
                self._complete(errors.posted_error_payload(body or b"", error_type), error_type=error_type)
            self._owner.worker_gone(self)
            self.retire()
            return
        if inv is None or not self._delivered or request_id != inv.request_id:
            connection.answer(INVALID_REQUEST_ID)
            return
        if inv.timed_out is not None:
            connection.answer(ACCEPTED)
            return  # too late: the process is being killed and the invocation ends as timed out
        if body is None:
            # Lambda refuses a response over 6 MB, and its runtime exits: this worker is not reused.
            connection.answer(PAYLOAD_TOO_LARGE)
            self._reusable = False
            self._complete(
                errors.response_too_large_payload(size),
                status="error",
                error_type="Function.ResponseSizeTooLarge",
            )
            self._owner.worker_gone(self)
            self.retire()
            return
        connection.answer(ACCEPTED)
        if route is Route.RESPONSE:
            self._complete(body, function_error=None)
        else:
            self._complete(errors.posted_error_payload(body, error_type))

    # -- logs ------------------------------------------------------------------------------------------

    def _read_logs(self) -> None:
        fd = self._log_fd
        if fd is None:
            return
        while True:
            try:
                data = os.read(fd, _READ_SIZE)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._close_logs()
                return
            for line in self._lines.feed(data):
                self._take_line(line)
            if len(data) < _READ_SIZE:
                return  # a pipe read returns less only when it has nothing more right now

    def _close_logs(self) -> None:
        fd, self._log_fd = self._log_fd, None
        if fd is None:
            return
        self._loop.remove_reader(fd)
        os.close(fd)
        for line in self._lines.flush():
            self._take_line(line)

    def _take_line(self, line: str) -> None:
        """A line read from the process: logged with the current invocation, unless the runtime has marked
        since that it started one that is not the current one here yet."""
        backlog = self._backlog
        if backlog is not None:
            backlog.append(line)
            return
        mark = invocation_mark(line)
        if mark is None:
            self._log_line(line)
            return
        rest, request_id = mark
        if rest:  # an unterminated line of the invocation before
            self._log_line(rest)
        inv = self.invocation
        if inv is None or inv.request_id != request_id:
            self._backlog = []  # until that one is the current one

    def _replay_backlog(self) -> None:
        """The lines that waited for the invocation that is now the current one (up to a further mark)."""
        backlog, self._backlog = self._backlog, None
        if backlog:
            for line in backlog:
                self._take_line(line)

    def _log_line(self, line: str) -> None:
        inv = self.invocation
        if inv is not None:
            inv.tail.append(line)
        if self._logger.isEnabledFor(logging.INFO):
            self._log_info((line,))

    def _log_runtime_lines(self, *lines: str) -> None:
        """`_log_line` for START, END and REPORT: short lines of the runtime's own, which the tail takes as
        they are, and all of them with one look at the log level."""
        inv = self.invocation
        if inv is not None:
            inv.tail.lines += lines
        if self._logger.isEnabledFor(logging.INFO):
            self._log_info(lines)

    def _log_info(self, lines: tuple[str, ...]) -> None:
        """The lines as INFO records of the worker's logger, with the function's name and the request id
        (once the invocation's event has been handed over; "-" outside of an invocation)."""
        inv = self.invocation
        request_id = inv.request_id if inv is not None and self._delivered else None
        name = self.config.name
        logger = self._logger
        # Looked for once for all the lines (they are logged together, nothing can change in between).
        emit_lines = _only_handler_line_writer(logger)
        prefix = f"[{name} {request_id or '-'}] "  # _LINE_FORMAT's text before the line
        if emit_lines is None or not emit_lines(logger.name, prefix, lines):
            for line in lines:
                _log_record(logger, (name, request_id or "-", line), name, request_id)


_LINE_FORMAT = "[%s %s] %s"
_new_record = logging.LogRecord.__new__
_prototype: dict[str, object] | None = None


def _only_handler_line_writer(logger: logging.Logger) -> Callable[[str, str, tuple[str, ...]], bool] | None:
    """The `emit_info_lines` of the one handler an INFO record of `logger` would reach, when that handler has
    one (stageway's process log handler) and nothing on the way could change or stop the record: no
    filters on the logger, no handlers on it or its ancestors but the root's single one. Checked for every
    line or lines logged together: tests and embedding applications add handlers at any time."""
    if logger.filters or logger.handlers or not logger.propagate:
        return None
    parent = logger.parent
    while parent is not None and parent.parent is not None:
        if parent.handlers or not parent.propagate:
            return None
        parent = parent.parent
    if parent is None or len(parent.handlers) != 1:
        return None
    handler = parent.handlers[0]
    if handler.level > logging.INFO:
        return None
    return getattr(handler, "emit_info_lines", None)


def _log_record(
    logger: logging.Logger, args: tuple[str, str, str], function_name: str, request_id: str | None
) -> None:
    """`logger.info(_LINE_FORMAT, *args, extra={"function_name": ..., "request_id": ...})` for the three or more
    lines of every invocation, without the work that is the same for each: finding the caller and naming
    the thread and process (a getpid() system call a record). Records are copies of one made the usual
    way; a custom record factory gets the usual way every time."""
    global _prototype
    if logging.getLogRecordFactory() is not logging.LogRecord:
        extra = {"function_name": function_name, "request_id": request_id}
        logger.info(_LINE_FORMAT, *args, extra=extra, stacklevel=2)
        return
    prototype = _prototype
    if prototype is None:
        pathname, lineno, func, _ = logger.findCaller(stacklevel=2)
        record = logger.makeRecord(logger.name, logging.INFO, pathname, lineno, _LINE_FORMAT, (), None, func)
        prototype = _prototype = dict(record.__dict__)
    fields = prototype.copy()
    now = time.time()
    fields["name"] = logger.name
    fields["created"] = now
    fields["msecs"] = int((now - int(now)) * 1000) + 0.0
    fields["relativeCreated"] = prototype["relativeCreated"] + (now - prototype["created"]) * 1000  # type: ignore[operator]
    fields["args"] = args
    fields["function_name"] = function_name
    fields["request_id"] = request_id
    record = _new_record(logging.LogRecord)
    record.__dict__ = fields  # one dict copy instead of filling the new record's own dict key by key
    if logger.disabled or logger.filters:
        logger.handle(record)
    else:
        logger.callHandlers(record)  # what `handle` does once it has found no filter to ask


class _ProcessProtocol(asyncio.SubprocessProtocol):
    def __init__(self, worker: Worker) -> None:
        self._worker = worker

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's process transport does not subclass asyncio.SubprocessTransport, but is one.
        self._worker._attach(cast(asyncio.SubprocessTransport, transport))

    def process_exited(self) -> None:
        self._worker._process_exited()
