"""`stageway serve`: wire the store, the compiler, the runtime and the listeners together, and run them.

Start-up order: load and validate every file (nothing is served if one is invalid), apply them to the
store, compile plans, start the runtime and the listeners. Shutdown (SIGTERM / Ctrl-C): stop accepting,
let in-flight requests finish, stop the function workers, close the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn

from stageway.auth import Authorizers
from stageway.config.apply import apply_config
from stageway.config.loader import load_config
from stageway.control.auth import credentials_from
from stageway.core.throttle import account_limit
from stageway.functions import FunctionConfig, LocalRuntime
from stageway.functions.documents import function_config
from stageway.gateway.compiler import Compiler
from stageway.gateway.pipeline import Gateway
from stageway.gateway.plan import GatewayPlan
from stageway.integrations.aws_service import AwsClient, AwsCredentials, AwsServices
from stageway.integrations.http_proxy import HttpProxyClient
from stageway.integrations.remote_lambda import LocalThenRemote, RemoteLambdaInvoker
from stageway.server.access_log import AccessLog
from stageway.server.asgi import DataPlaneApp
from stageway.server.log_sinks import LogSinks
from stageway.server.metrics import GatewayMetrics
from stageway.server.protocol import DataPlaneServer
from stageway.store.base import Store, open_store
from stageway.throttle import create_throttler

log = logging.getLogger("stageway")

STORE_POLL_INTERVAL_S = 0.5
"""How often another process's writes to a shared store are looked for (a deployment is live within 1 s)."""
FILE_POLL_INTERVAL_S = 0.5


@dataclass
class ServeOptions:
    files: Sequence[Path] = ()
    host: str = "127.0.0.1"
    port: int = 8080
    default_api: str | None = None
    store_url: str = "sqlite:///.stageway/state.db"
    watch: bool = False
    access_log: bool = True
    proxy_lane: bool = True
    """Answer plain HTTP proxy routes on bytes from the listener (`server/proxy_lane.py`); off: they take the
    pipeline (`--no-proxy-lane`, to compare or to rule the lane out)."""
    lambda_lane: bool = True
    """Answer plain Lambda proxy routes (local functions) from callbacks (`server/lambda_lane.py`);
    off: they take the pipeline (`--no-lambda-lane`)."""
    events_ahead: int = 4
    """Queued events a busy worker of stageway's runtime may be sent before it asks for them
    (`functions/worker.py`); 0: each event waits for the worker's `GET .../next`, as on Lambda."""
    admin_host: str = "127.0.0.1"
    admin_port: int | None = 8081
    """None: no admin listener."""
    admin_credentials: str | None = None
    """`KEY:SECRET[,KEY:SECRET]`: admin requests must be signed (SigV4) with one of them."""
    iam_credentials: str | None = None
    """`KEY:SECRET[,...]` that AWS_IAM routes accept SigV4 signatures from (default: the admin credentials)."""
    throttle_url: str | None = None
    """Where token buckets live: None / `memory://` (this process) or `redis://...` (shared by nodes)."""
    account_rate: float | None = None
    account_burst: int | None = None
    log_dir: Path = Path(".stageway/logs")
    workers: int = 1
    """Processes serving the data plane (`--workers`); each is a whole node sharing the store and the port."""
    log_level: str = "info"
    worker_index: int = 0
    """This process's number among the workers; worker 0 alone runs the admin listener and the file watch."""
    region: str = "us-east-1"
    account_id: str = "123456789012"
    aws_endpoint_url: str | None = None
    """Where AWS service integrations send their calls (None: AWS's regional endpoints)."""
    lambda_endpoint_url: str | None = None
    """Lambda's Invoke API for functions not defined here (None: such functions are not found)."""
    aws_access_key_id: str | None = None
    """With `aws_secret_access_key`, signs AWS calls; None: the AWS_* environment variables."""
    aws_secret_access_key: str | None = None
    extra: dict[str, object] = field(default_factory=dict)


class _Server(uvicorn.Server):
    """A uvicorn server whose signals we handle ourselves, so that several listeners stop together."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


GIL_SWITCH_INTERVAL_S = 0.001
"""`sys.setswitchinterval` while serving (see `Node.run`)."""

_REFRESH_FAILED = "applying a configuration change failed; still serving the previous one"


@dataclass(frozen=True)
class _Changes:
    """A version of the store, read and compiled, ready to be served."""

    version: int
    functions: list[FunctionConfig]
    plan: GatewayPlan
    cache_resets: dict[tuple[str, str], int]
    """ResetAuthorizersCache counters by (api id, stage name)."""


class Node:
    """One running stageway: store, plans, runtime and listeners."""

    def __init__(self, options: ServeOptions) -> None:
        self.options = options
        self.store: Store = open_store(options.store_url)
        self.compiler = Compiler(
            region=options.region,
            account_id=options.account_id,
            account_throttle=(
                account_limit(options.region, options.account_rate, options.account_burst)
                if options.account_rate is not None or options.account_burst is not None
                else None
            ),
        )
        self.runtime = LocalRuntime(events_ahead=options.events_ahead)
        self.http_client = HttpProxyClient()
        aws = AwsClient(
            self.http_client, AwsCredentials.resolve(options.aws_access_key_id, options.aws_secret_access_key)
        )
        # Functions defined here run here; others go to the remote Lambda endpoint when one is configured.
        self.functions = LocalThenRemote(
            self.runtime,
            RemoteLambdaInvoker(aws, options.lambda_endpoint_url, options.region)
            if options.lambda_endpoint_url
            else None,
        )
        self.throttler = create_throttler(options.throttle_url)
        self.stage_logs = LogSinks(options.log_dir)
        self.authorizers = Authorizers(
            invoker=self.functions,
            credentials=credentials_from(options.iam_credentials or options.admin_credentials) or {},
        )
        self.gateway = Gateway(
            self.compiler.compile(self.store, options.default_api),
            self.http_client,
            self.functions,
            self.throttler,
            self.authorizers,
            self.stage_logs,
            aws_services=AwsServices(aws, options.aws_endpoint_url),
        )
        self.metrics = GatewayMetrics()
        self.metrics.events_sent_ahead = lambda: self.runtime.events_sent_ahead
        self.app = DataPlaneApp(self.gateway, AccessLog() if options.access_log else None, self.metrics)
        self._seen_version = -1
        self._reading = threading.Lock()
        """One `_read_changes` at a time: the poll and the admin's change hook may both start one."""
        self._latest_read: _Changes | None = None
        """The last read's result: the one applied, whichever read's apply runs first (see `_apply_changes`)."""
        self._file_stamps: dict[Path, float] = {}
        self._cache_resets: dict[tuple[str, str], int] = {}
        self._cache_resets_primed = False
        self._servers: list[_Server | DataPlaneServer] = []

    def apply_files(self, *, deploy_all_stages: bool) -> None:
        if not self.options.files:
            return
        config = load_config(self.options.files)
        if config.region != self.options.region or config.account_id != self.options.account_id:
            self.options.region, self.options.account_id = config.region, config.account_id
            self.compiler.region, self.compiler.account_id = config.region, config.account_id
        apply_config(self.store, config, deploy_all_stages=deploy_all_stages)
        self._file_stamps = _stamps(self.options.files)

    def refresh(self) -> None:
        """Recompile plans and functions if the store changed since the last look."""
        changes = self._read_changes()
        if changes is not None:
            self._apply_changes(changes)

    async def refresh_in_background(self) -> None:
        """`refresh` with the store's reads and the compiling done in a worker thread: a store on the network
        (PostgreSQL) that is slow or gone must not stall the requests this loop serves meanwhile."""
        changes = await asyncio.to_thread(self._read_changes)
        if changes is not None:
            self._apply_changes(changes)

    def _read_changes(self) -> _Changes | None:
        """What changed since the last version applied, read and compiled (any thread; one at a time)."""
        with self._reading:
            version = self.store.version()
            if version == self._seen_version:
                return None
            configs = [
                config
                for doc in self.store.list("function")
                if (
                    config := function_config(
                        doc, region=self.options.region, account_id=self.options.account_id
                    )
                )
            ]
            plan = self.compiler.compile(self.store, self.options.default_api)
            resets = {
                (api_id, stage["stageName"]): marker["resets"]
                for api_id in plan.apis
                for stage in self.store.list("stage", api_id)
                if (marker := self.store.get("authorizer-cache-reset", api_id, stage["stageName"]))
                is not None
            }
            self._latest_read = _Changes(version, configs, plan, resets)
            return self._latest_read

    def _apply_changes(self, changes: _Changes) -> None:
        """Serve what `_read_changes` found (on the loop), or what a later read found: that one holds these
        changes too. Serving the latest at once, rather than leaving it to the later read's own apply, keeps
        a write served before its answer leaves when another write's read overtook its apply; the apply that
        comes second finds it served and does nothing."""
        latest = self._latest_read
        if latest is None or latest.version == self._seen_version:
            return
        changes = latest
        self._seen_version = changes.version
        self.runtime.set_functions(changes.functions)
        self.gateway.plan = changes.plan
        # What is served now lives until the next change: out of the cycle collector's sight. Its full
        # collections otherwise walk every object of the plans (tens of milliseconds for a 2,000-route API,
        # stopping every thread) each few deployments; a frozen object is still freed when its last
        # reference goes (plans hold no reference cycles: the full collections during 40 deployments of a
        # 2,000-route API found nothing to collect, and memory stays flat over 250 of them).
        gc.freeze()
        # ResetAuthorizersCache, made on any node, flushes that stage's authorizer answers here.
        for key, resets in changes.cache_resets.items():
            if self._cache_resets.get(key, 0) != resets:
                if self._cache_resets_primed:  # resets made before this node started flush nothing
                    self.authorizers.reset_cache(*key)
                self._cache_resets[key] = resets
        self._cache_resets_primed = True

    def banner(self) -> str:
        plan = self.gateway.plan
        base = f"http://{self.options.host}:{self.options.port}"
        lines = [f"stageway listening on {base}"]
        if self.options.admin_port is not None:
            signed = " (SigV4 required)" if self.options.admin_credentials else ""
            lines.append(
                f"  admin (apigatewayv2 + Lambda API): http://{self.options.admin_host}:{self.options.admin_port}{signed}"
            )
        for api in plan.apis.values():
            marker = " (default API)" if plan.default_api is api else ""
            lines.append(f"  API {api.name} id={api.api_id}{marker}")
            host = f"http://{api.api_id}.execute-api.localhost:{self.options.port}"
            if api.default_stage is not None:
                lines.append(f"    stage $default   {host}/" + (f"  and {base}/" if marker else ""))
            for name in api.stages:
                lines.append(
                    f"    stage {name:<9} {host}/{name}/" + (f"  and {base}/{name}/" if marker else "")
                )
        if plan.default_api is None and len(plan.apis) > 1:
            lines.append("  no default API: use the execute-api host names above, or --default-api NAME")
        return "\n".join(lines)

    @property
    def primary(self) -> bool:
        return self.options.worker_index == 0

    async def run(self) -> None:
        if self.options.workers == 1:
            self.apply_files(deploy_all_stages=True)  # with several workers the parent applied them once
        elif self.options.files:
            self._file_stamps = _stamps(self.options.files)
        self.refresh()
        loop = asyncio.get_running_loop()

        # Writes from the admin listener happen in worker threads: the writing thread reads and compiles what
        # changed, then hops to the loop to serve it (the poll in _watch_changes still catches writes made by
        # other processes). Compiling a large API takes tens of milliseconds; done there, the loop goes on
        # serving meanwhile (it shares the interpreter with the compile, so requests wait for a few
        # milliseconds at worst instead of the whole compile).
        loop_thread = threading.get_ident()
        # A compile in a writer's thread holds the interpreter in slices of the switch interval; the loop waits
        # up to one slice each time it wakes. 1 ms instead of CPython's 5 keeps that wait short (it changes
        # nothing while the loop is the only thread that wants to run).
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)

        def on_change(_version: int) -> None:
            if threading.get_ident() == loop_thread:
                loop.call_soon(self._refresh_now)
                return
            try:
                changes = self._read_changes()
            except Exception:
                log.exception(_REFRESH_FAILED)
                return
            if changes is not None:
                loop.call_soon_threadsafe(self._apply_changes, changes)

        def on_others_change(_version: int) -> None:
            asyncio.run_coroutine_threadsafe(self._refresh_safely(), loop)

        # A write through this node's admin listener is served before the write's answer leaves (the apply
        # is queued on the loop before the admin's thread hands its answer back): a client that changed a
        # route and calls it next finds it changed. Other nodes' writes (where the store reports them) are
        # read and compiled off the loop too.
        self.store.subscribe(on_change)
        self.store.watch_others(on_others_change)
        await self.runtime.start()
        data_plane = DataPlaneServer(
            self.app,
            self.options.host,
            self.options.port,
            reuse_port=self.options.workers > 1,
            proxy_lane=self.options.proxy_lane,
            lambda_lane=self.options.lambda_lane,
        )
        self._servers = [data_plane]
        if self.options.admin_port is not None and self.primary:
            from stageway.server.admin import build_admin_app

            admin_app = build_admin_app(self)
            self._servers.append(
                _Server(_listener_config(admin_app, self.options.admin_host, self.options.admin_port))
            )
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stop)
        watcher = asyncio.create_task(self._watch_changes())
        try:
            serving = [asyncio.create_task(server.serve()) for server in self._servers]
            while not all(server.started for server in self._servers) and not any(t.done() for t in serving):
                await asyncio.sleep(0.01)
            if all(server.started for server in self._servers):
                if self.primary:
                    print(self.banner(), file=sys.stderr, flush=True)
            else:
                self.stop()  # one listener could not start (port taken): stop the others too
            results = await asyncio.gather(*serving, return_exceptions=True)
            for server, result in zip(self._servers, results):
                if isinstance(result, BaseException):
                    raise result
                if not server.started:
                    raise OSError(f"could not listen on {server.config.host}:{server.config.port}")
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            if self.app.access_log is not None:
                self.app.access_log.flush()
            self.stage_logs.close()
            await self.runtime.close()
            await self.http_client.close()
            await self.throttler.close()
            await self.authorizers.close()
            self.store.close()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    def _refresh_now(self) -> None:
        try:
            self.refresh()
        except Exception:
            log.exception(_REFRESH_FAILED)

    async def _refresh_safely(self) -> None:
        try:
            await self.refresh_in_background()
        except Exception:
            log.exception(_REFRESH_FAILED)

    def stop(self) -> None:
        for server in self._servers:
            if server.should_exit:
                server.force_exit = True  # a second Ctrl-C stops at once
            server.should_exit = True

    async def _watch_changes(self) -> None:
        failing = False  # the same failure (a store that is down) is logged once, not twice a second
        while True:
            await asyncio.sleep(STORE_POLL_INTERVAL_S)
            try:
                if self.options.watch and self.primary and _stamps(self.options.files) != self._file_stamps:
                    self._reload_files()
                await self.refresh_in_background()
            except Exception:  # the watcher must outlive any one bad change
                if not failing:
                    log.exception(_REFRESH_FAILED)
                failing = True
            else:
                if failing:
                    log.warning("configuration changes are applied again")
                failing = False

    def _reload_files(self) -> None:
        self._file_stamps = _stamps(self.options.files)
        try:
            self.apply_files(deploy_all_stages=False)
        except Exception as error:  # noqa: BLE001 - a bad file (or unreadable code dir) must not stop serving
            log.error("not applied, the file has errors:\n%s", error)
            return
        log.warning("configuration reloaded from %s", ", ".join(map(str, self.options.files)))


def _listener_config(app: object, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=host,
        port=port,
        loop="none",
        http="httptools",
        lifespan="off",
        access_log=False,
        server_header=False,
        # The client address is the TCP peer, as AWS's `sourceIp` is; X-Forwarded-For is the client's to send.
        proxy_headers=False,
        log_level="warning",
        timeout_graceful_shutdown=30,
    )


def _stamps(files: Sequence[Path]) -> dict[Path, float]:
    stamps = {}
    for path in files:
        with contextlib.suppress(OSError):
            stamps[path] = path.stat().st_mtime
    return stamps


def serve(options: ServeOptions) -> int:
    """Run until stopped; the exit status for the CLI."""
    if options.workers > 1:
        from stageway.server.workers import serve_workers

        return serve_workers(options)
    return run_node(options)


def run_node(options: ServeOptions) -> int:
    """One node in this process, until it is stopped."""
    node = Node(options)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on every platform we support
        asyncio.run(node.run())
    else:
        uvloop.run(node.run())
    return 0
