"""The proxy lane: an HTTP_PROXY route answered from the listener's and the backend connection's callbacks.

Most proxied requests need little of the pipeline. For them the pipeline's objects (the request's text
headers, the route context, the exchange, the response and its header list, a task woken per request) cost
more CPU than the gateway's work itself: `make bench` measured 48 µs per proxied request through the
pipeline, 26 µs for bench/lean_proxy.py doing the gateway's work on bytes, and 32 µs through this lane
(README, Benchmarks). The lane does the same work on the bytes the listener read: selection and route match
on the compiled plan, the throttle check, a request id and a trace id, CORS headers, the backend's request
head (the headers `direct_backend_headers` sends, in its order), the backend's answer filtered as
`backend_response_headers` and the listener filter it, AWS's `date`, `content-length` and `apigw-requestid`,
the metrics, the node's access-log line, and the stage's access-log line (from the pipeline's own objects,
made for it afterwards).

It takes a request only when it is sure to give the pipeline's answer; otherwise it declines before
anything is sent and the request goes the pipeline's way:

- the route is an HTTP proxy the lane may answer (`RoutePlan.lane_proxy`): no response mapping, and a request
  mapping that is empty or leaves alone the headers the gateway sets (`lane_mapping`); with CORS configured,
  the request is not OPTIONS (preflights are the pipeline's);
- the route has no authorizer, or a JWT authorizer that reads a header (`lane_jwt`) and the request's token
  is one the authorizer verified lately and lets through now: claims checked again against the clock, its
  scopes checked for this route before (`Authorizers.result_without_io`; the result goes into the mapping's
  `$context.authorizer.*` and the stage's access-log line as the pipeline puts it). A first token, and every
  refusal, is the pipeline's;
- the request is not HEAD, sends no body but one with a `content-length` within AWS's quota (no chunked
  body, no `Expect`), and no header that the gateway rewrites or treats specially (`OUTSIDE_LANE`: hop-by-hop
  headers, `forwarded`, `via`, `x-forwarded-*`, a trace id) — the listener checks these;
- the connection has no earlier request still to answer (pipelined requests keep their order in the
  pipeline's queue) — the listener checks this too;
- the integration URL renders to one the client can call (for a mapped route this is known only once the
  request is mapped: a URL that does not render is then the pipeline's 500, answered by the lane), and the
  throttle answers without waiting (the in-process buckets; with Redis buckets every request takes the
  pipeline).

A request parameter mapping is applied in one of three ways, each giving what the pipeline's gives:

- its query string edits are static text and its header values static text or the request id
  (`RequestMapping.query_is_static`, `header_edits.by_request_id`): the URL, the request line and the header
  edit are made once per request shape (the route memo below), the edit as a `%` template the request id
  goes into, and the request is made from the listener's bytes like an unmapped one;
- its query string is static but its header values read the request (a header, the body, the authorizer's
  claims): the pipeline's objects (`IncomingRequest`, `RouteContext`, the `$context` view) are made for it,
  `RequestMapping.header_changes` gives the edit, and the request is still made from the bytes
  (`_header_edit`);
- anything else (query values from the request, `overwrite:path`, an edit that drops a forwarding header or
  adds a value latin-1 cannot carry): the pipeline's objects, `RequestMapping.apply`, `direct_backend_headers`
  and `encode_request`, as in the pipeline (`_mapped_request`).

A stage's access-log line is rendered from the lane's values (`AccessLogPlan.values_renderer`) when its format
allows, else from the pipeline's objects (those of the mapping when it made them).

Once the request is sent, what goes wrong is answered as the pipeline answers it: a timeout is 503, a
connection or protocol failure 500, a stale pooled connection is retried once on a new one (the client's
`send_lane` follows `send_to`'s rules), with the pipeline's log line and access-log error. A backend answer
the lane cannot pass on as bytes (a `connection` header, whose tokens name more headers to drop, or CORS
headers to put in place of the backend's for a request with `Origin`) goes through the pipeline's filters
and the listener's encoder.

An unmapped request's header values need no line-break check, unlike a mapped one's (`encode_request` checks
those): httptools refuses a CR or LF inside a value on both sides (tests/unit/test_proxy_lane_rules.py pins it).

`ProxyLane` is also the entry of the Lambda lane (`server/lambda_lane.py`): the listener hands every candidate
here, the route memo below resolves plain Lambda routes too, and a request to one goes to the Lambda lane
after the same CORS and throttle steps, answered through the same failure, stage-log and metric paths.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Container
from collections.abc import Set as AbstractSet
from http import HTTPStatus
from operator import itemgetter
from time import monotonic, perf_counter, time_ns
from typing import Literal, Protocol, cast

from stageway.auth import AuthResult
from stageway.core.clock import date_header_line
from stageway.core.context_vars import ContextVariables, RequestFacts
from stageway.core.errors import GatewayError, InternalServerError
from stageway.core.forwarding import GATEWAY_ADDED, trace_id
from stageway.core.http import GatewayResponse, IncomingRequest, RouteContext, joined_header
from stageway.core.http_proxy import (
    RESPONSE_DROPPED_HEADERS,
    TWO_STEP_HEADERS,
    BackendUrl,
    BadBackendUrl,
    backend_response_headers,
    direct_backend_headers,
    forwarded_element,
    parse_backend_url,
)
from stageway.core.ids import new_request_id
from stageway.core.mapping import RequestMapping
from stageway.functions import LocalRuntime
from stageway.gateway.exchange import Exchange
from stageway.gateway.pipeline import authorization_facts, backend_url, route_context
from stageway.gateway.plan import GatewayPlan, HttpProxyPlan, LambdaPlan, RoutePlan, StagePlan
from stageway.gateway.selection import select
from stageway.integrations.http_proxy import LaneConnection, encode_request
from stageway.server.access_log import line_of
from stageway.server.asgi import SERVER_OWNED_HEADERS, DataPlaneApp, host_of, request_from_raw
from stageway.server.lambda_lane import LambdaLane, LambdaRoute, lambda_route_of

# The pipeline's logger: an integration failure is logged as the pipeline logs it.
log = logging.getLogger("stageway.gateway")

OUTSIDE_LANE = frozenset(name.encode() for name in TWO_STEP_HEADERS | {"expect", "transfer-encoding"})
"""Request headers (lower-case bytes) that send a request the pipeline's way: the two-step header rules, a
chunked body, `Expect`. (A body with a `content-length` within the quota may take the lane.)"""

Candidate = tuple[str, str, str, list[bytes], tuple[bytes, ...], str, str]
"""What the listener read of a request the lane may take: (method, raw path, raw query, raw headers as
httptools handed them over (name, value, ...), their names lower-cased, Host header, protocol)."""

_RESPONSE_DROPPED = frozenset(name.encode() for name in RESPONSE_DROPPED_HEADERS | SERVER_OWNED_HEADERS)
_REQUEST_DROPPED = frozenset({b"host", b"content-length"})
_STATUS_LINES = {status.value: f"HTTP/1.1 {status.value} {status.phrase}\r\n".encode() for status in HTTPStatus}
# The methods whose empty body the HTTP client announces (`encode_request`).
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_REQUEST_HEAD = (
    b"%s%sx-forwarded-for: %s\r\nx-forwarded-port: %d\r\nx-forwarded-proto: http\r\nx-amzn-trace-id: %s\r\n"
    b"%sforwarded: %s\r\nvia: HTTP/1.1 AmazonAPIGateway\r\n%s\r\n"
)
"""The backend request's head: its line and `host`, the client's headers kept, the forwarding headers, the
headers a mapping adds, `forwarded`, `via`, `content-length` (`direct_backend_headers`' order)."""
_MAX_RESOLVED = 4096


class LaneListener(Protocol):
    """The client connection a lane request came on (`server/protocol.py`'s `_Connection`)."""

    source_ip: str
    source_ip_bytes: bytes
    server_port: int

    def lane_write(self, head: bytes, body: bytes, keep_alive: bool, protocol: str) -> bool:
        """Write an answer: `head` (without `connection` and the blank line), then `body`; unless the connection
        is gone. True: the connection stays open."""
        ...

    def lane_write_response(self, response: GatewayResponse, request_id: str, keep_alive: bool, protocol: str) -> bool:
        """`lane_write` of a response, with the listener's encoder."""
        ...

    def lane_done(self, keep_alive: bool) -> None:
        """The answer is written and recorded: go on with the connection's next request, or close."""
        ...

    def abort(self) -> None:
        """Close the connection at once (a bug while answering)."""
        ...


# What a request's route comes to on one plan: (stage, route, its HTTP proxy integration, backend method, the
# backend request's line and `host` header, the backend URL, the Host header without its port, the path
# parameters, the path routes were matched against, the API mapping key, and for a mapped route whose
# header edit is known but for the request id, that edit on bytes); False when the lane declines. A route
# whose mapping edits the query string with values from the request (or the path) has no URL or request line
# here (b"", None): they depend on the mapping's values, made per request.
_Route = tuple[
    StagePlan, RoutePlan, HttpProxyPlan, str, bytes, BackendUrl | None, str, dict[str, str], str, str | None,
    "_ByRequestId | None",
]
_Resolved = _Route | LambdaRoute | Literal[False]

# A request on its way: (listener, request id, time epoch ms, started, stage, route key, method, raw path,
# raw query, protocol, keep alive, sent at, request body bytes, `Origin` when the stage has CORS, and when
# the stage has an access log what its line is made from: the route, the raw headers, the Host header as sent,
# the body, a JWT authorizer's result, and for a mapped request the objects its mapping was made from). A
# tuple rather than an object: made once per request.
_Built = tuple[IncomingRequest, RouteContext, RequestFacts | None]
"""A mapped request's `IncomingRequest`, `RouteContext` and authorizer facts, as the pipeline makes them."""
_Logged = tuple[_Route | LambdaRoute, list[bytes], str, bytes, AuthResult | None, _Built | None]
InFlight = tuple[
    LaneListener, str, int, float, StagePlan, str, str, str, str, str, bool, float, int, str | None, _Logged | None
]



class ProxyLane:
    """The lanes of one listener's app: this one for HTTP proxy routes (`proxy`), and the Lambda lane
    (`server/lambda_lane.py`, `lambda_routes`) behind the same entry, route memo and answering paths."""

    def __init__(self, app: DataPlaneApp, *, proxy: bool = True, lambda_routes: bool = True) -> None:
        self._app = app
        self._proxy = proxy
        functions = app.gateway.functions
        local = getattr(functions, "local", functions)  # `LocalThenRemote`'s local runtime
        self._lambda = LambdaLane(self, local) if lambda_routes and isinstance(local, LocalRuntime) else None
        self._gateway = app.gateway
        self._on_answer = self._answered
        """The bound method, made once: what the client calls back with each request's in-flight tuple."""
        self._plan: GatewayPlan | None = None
        self._resolved: dict[tuple[str, str, str, str], _Resolved] = {}
        """(Host header, method, raw path, raw query) → `_resolve`'s answer on `_plan`. Selection, route
        match, the rendered URL and its request line are a pure function of these and the plan, and the
        same requests come again and again: one dict lookup instead. Emptied when the plan changes, and when
        it holds _MAX_RESOLVED requests (requests that are all different, such as unique query strings, cost
        what they would without it, plus a lookup and an insert)."""

    def start(
        self, listener: LaneListener, candidate: Candidate, body: bytes, keep_alive: bool, started: float
    ) -> bool:
        """Send the request to its backend; the answer goes to `listener` when it comes. False, with nothing
        sent and no throttle token taken, when the pipeline must answer it instead. `started` is the
        `perf_counter()` the request began at, for its latency."""
        method, raw_path, raw_query, raw_headers, names, host_header, protocol = candidate
        gateway = self._gateway
        plan = gateway.plan
        if plan is not self._plan:  # a deployment landed: what was resolved on the old plan is stale
            self._plan = plan
            self._resolved = {}
        key = (host_header, method, raw_path, raw_query)
        resolved = self._resolved.get(key)
        if resolved is None:
            resolved = self._resolve(plan, key)
        if not resolved:
            return False
        stage = resolved[0]
        route = resolved[1]
        lambda_route = type(resolved[2]) is LambdaPlan
        if lambda_route:
            if self._lambda is None or not self._lambda.has_function(resolved[3]):
                return False  # a function of the remote Lambda endpoint: the pipeline calls it
        elif not self._proxy:
            return False
        authorized = None
        if route.lane_jwt is not None:
            authorized = self._authorized(route, names, raw_headers)
            if authorized is None:
                return False
        origin = None
        if stage.cors is not None:
            if method == "OPTIONS":
                return False  # a preflight is answered by the pipeline, before routing
            origin = joined_header(names, raw_headers, b"origin")
        if not gateway.throttler.admit_now(route.throttle_limits, monotonic()):
            return False  # throttled (429) or a throttle to await: the pipeline says which
        request_id = new_request_id()
        time_epoch_ms = time_ns() // 1_000_000
        edit = _UNEDITED
        built = None
        if route.lane_mapping is not None:
            by_request_id = cast(_Route, resolved)[10]
            if by_request_id is not None:  # header values known but for the request id: no objects to make
                blocks, dropped, template, slots = by_request_id
                edit = (blocks, dropped, template % ((request_id.encode(),) * slots))
            else:
                built = self._built_request(
                    listener, method, raw_path, raw_query, raw_headers, host_header, protocol, request_id,
                    time_epoch_ms, body, cast(_Route, resolved), authorized,
                )
        # (Its integration latency counts from here: the backend request or the event is made next, as the
        # pipeline's counts from before it makes them.)
        in_flight: InFlight = (
            listener, request_id, time_epoch_ms, started, stage, route.route_key, method, raw_path, raw_query,
            protocol, keep_alive, perf_counter(), len(body), origin,
            None if stage.access_log is None else (resolved, raw_headers, host_header, body, authorized, built),
        )
        metrics = self._app.metrics
        if lambda_route:
            assert self._lambda is not None
            if metrics is not None:
                metrics.lambda_lane_requests += 1
            self._lambda.start(in_flight, raw_headers, body, cast(LambdaRoute, resolved), authorized)
            return True
        if metrics is not None:
            metrics.lane_requests += 1
        _, _, proxy, backend_method, request_line, backend, host = cast(_Route, resolved)[:7]
        data = None
        if built is not None:
            try:
                built_edit = None if backend is None else _header_edit(route, built)
                if built_edit is None:
                    backend, data = _mapped_request(route, proxy, backend_method, built)
                else:
                    edit = built_edit
            except Exception as error:  # noqa: BLE001 - the pipeline's answer: 500 for a bad URL, as for a bug
                self.fail(in_flight, error)
                return True
        if data is None:
            # The backend request made from the bytes the listener read, with a mapping's header edit: what
            # `direct_backend_headers` and `encode_request` make of the pipeline's objects.
            blocks, dropped, added = edit
            data = _REQUEST_HEAD % (
                request_line,
                # The client's headers less `host` (the backend's own is in the request line's bytes),
                # `content-length` (below) and what the edit drops, names lower-cased, values as sent.
                header_block(blocks, dropped, names, raw_headers[1::2]),
                listener.source_ip_bytes,
                listener.server_port,
                trace_id(time_epoch_ms).encode(),
                added,
                forwarded_element(None, listener.source_ip, host, "http").encode("latin-1"),
                # As the HTTP client announces a body: always for POST, PUT and PATCH, even an empty one.
                b"content-length: %d\r\n" % len(body) if body or backend_method in _BODY_METHODS else b"",
            )
            if body:
                data += body
        assert backend is not None
        try:
            gateway.http_client.send_lane(
                backend_method, backend, data, proxy.timeout_s, self._on_answer, in_flight
            )
        except Exception as error:  # noqa: BLE001 - a bug costs this request a 500, as in `DataPlaneApp.respond`
            self.fail(in_flight, error)
        return True

    def _built_request(
        self,
        listener: LaneListener,
        method: str,
        raw_path: str,
        raw_query: str,
        raw_headers: list[bytes],
        host_header: str,
        protocol: str,
        request_id: str,
        time_epoch_ms: int,
        body: bytes,
        resolved: _Route | LambdaRoute,
        authorized: AuthResult | None,
    ) -> _Built:
        """The pipeline's objects of a lane request: a mapping reads `$context`, `$request` and the
        authorizer's values from them, and a stage access-log line whose format the lane's values cannot
        render is made from them."""
        request = request_from_raw(
            method, raw_path, raw_query, raw_headers, host_header, source_ip=listener.source_ip,
            server_port=listener.server_port, protocol=protocol, request_id=request_id, time_epoch_ms=time_epoch_ms,
        )
        request.body = body
        stage, route, _, _, _, _, host, path_parameters, route_raw_path, mapping_key = resolved[:10]
        context = route_context(
            self._gateway.plan, stage, route.route_key, path_parameters, request.raw_path, route_raw_path, host,
            mapping_key,
        )
        facts = authorization_facts(route, authorized, context) if authorized is not None else None
        return request, context, facts

    def _authorized(self, route: RoutePlan, names: tuple[bytes, ...], raw_headers: list[bytes]) -> AuthResult | None:
        """A request to a route with `lane_jwt`: the authorizer's result when its token is one
        the authorizer lets through now without fetching or verifying anything. None for anything else (no
        token, a new or refused one): the pipeline's, which authorizes it and answers as AWS does."""
        authorizer = route.lane_jwt
        assert authorizer is not None
        # (The source's name is lower-cased, as `names` are.)
        value = joined_header(names, raw_headers, authorizer.identity_source.name.encode("latin-1"))
        if value is None:
            return None
        return self._gateway.authorizers.result_without_io(authorizer, route.auth.scopes, value)

    def _resolve(self, plan: GatewayPlan, key: tuple[str, str, str, str]) -> _Resolved:
        """`_route_of` the request, remembered in `_resolved`."""
        resolved = _route_of(plan, *key)
        if len(self._resolved) >= _MAX_RESOLVED:
            self._resolved = {}
        self._resolved[key] = resolved
        return resolved

    def _answered(self, in_flight: InFlight, connection: LaneConnection | None, error: BaseException | None) -> None:
        try:
            if connection is None:
                self.fail(in_flight, error)
            else:
                self._pass_on(in_flight, connection)
        except Exception:  # noqa: BLE001 - logged by `answer_failed`; a bug costs this client connection only
            self.answer_failed(in_flight)

    def answer_failed(self, in_flight: InFlight) -> None:
        """Called from an `except` block: a bug while answering a lane request. Logged, and the client's
        connection closed; no other connection is affected."""
        log.exception("failed to answer request %s", in_flight[1])
        in_flight[0].abort()

    def _pass_on(self, in_flight: InFlight, connection: LaneConnection) -> None:
        """The backend's answer to the client, as the pipeline and the listener would write it."""
        integration_latency_ms = (perf_counter() - in_flight[11]) * 1000
        listener = in_flight[0]
        body = connection.body
        status = connection.status
        names = connection.names
        values = connection.raw_headers[1::2]
        origin = in_flight[13]
        if origin is None:
            block = None if b"connection" in names else header_block(_RESPONSE_BLOCKS, _RESPONSE_DROPPED, names, values)
        else:
            block = _cors_block(in_flight[4], origin, names, values)
        if block is None:
            # A `connection` header's tokens name more headers to drop; CORS headers the listener must encode:
            # the pipeline's filters, the listener's encoder.
            headers = backend_response_headers(zip(map(_latin_1, names), map(_latin_1, values), strict=True))
            cors = in_flight[4].cors
            if origin is not None and cors is not None:
                headers = cors.answer_headers(headers, origin)
            response = GatewayResponse(status, headers, body)
            keep_alive = listener.lane_write_response(response, in_flight[1], in_flight[10], in_flight[9])
        else:
            head = b"%s%s%scontent-length: %d\r\napigw-requestid: %s\r\n" % (
                _STATUS_LINES.get(status) or b"HTTP/1.1 %d \r\n" % status,
                date_header_line(time_ns() // 1_000_000_000)[1],
                block,
                len(body),
                in_flight[1].encode(),
            )
            keep_alive = listener.lane_write(head, body, in_flight[10], in_flight[9])
            response = None
        if in_flight[14] is not None:
            logged = response or GatewayResponse(status, [], body)  # (a log line reads no response header)
            self.write_stage_log(in_flight, logged, status, integration_latency_ms)
        self.record(in_flight, status, len(body), integration_latency_ms, "")
        listener.lane_done(keep_alive)

    def fail(self, in_flight: InFlight, error: BaseException | None) -> None:
        """The pipeline's answer to a failed integration call: its status, its log line, its access-log error."""
        integration_latency_ms = (perf_counter() - in_flight[11]) * 1000
        request_id = in_flight[1]
        if not isinstance(error, GatewayError):
            log.error("request %s failed", request_id, exc_info=error)
            error = InternalServerError()
        response = error.to_response()
        origin, cors = in_flight[13], in_flight[4].cors
        if origin is not None and cors is not None:
            response.headers = cors.answer_headers(response.headers, origin)
        log.info("%s %s -> %s: %s", request_id, in_flight[5], error.status, error.detail)
        listener = in_flight[0]
        keep_alive = listener.lane_write_response(response, request_id, in_flight[10], in_flight[9])
        if in_flight[14] is not None:
            self.write_stage_log(in_flight, response, None, integration_latency_ms, error)
        self.record(in_flight, response.status, len(response.body), integration_latency_ms, error.detail)
        listener.lane_done(keep_alive)

    def write_stage_log(
        self,
        in_flight: InFlight,
        response: GatewayResponse,
        integration_status: int | None,
        integration_latency_ms: float,
        error: GatewayError | None = None,
        integration_request_id: str = "",
    ) -> None:
        """The stage's access-log line: from the lane's values when the format allows
        (`AccessLogPlan.values_renderer`), else from the objects the pipeline would have made for the request,
        for a format may name any `$context` variable (spec §10)."""
        logged = in_flight[14]
        assert logged is not None
        stage = in_flight[4]
        access_log = stage.access_log
        assert access_log is not None
        renderer = access_log.values_renderer
        if renderer is not None:
            sink = self._gateway.stage_log_sink(access_log)
            if sink is None:
                return
            route_info = logged[0]
            sink.write(
                renderer(
                    in_flight[1], in_flight[6], in_flight[0].source_ip, logged[1], in_flight[2], in_flight[5],
                    stage.stage_name, stage.api_id, self._gateway.plan.account_id, in_flight[7], route_info[6],
                    route_info[9], in_flight[12], response.status, len(response.body), integration_status,
                    integration_latency_ms, error.message if error is not None else "",
                    error.detail if error is not None else "", integration_request_id,
                    (perf_counter() - in_flight[3]) * 1000,
                )
                + "\n"
            )
            return
        route_info, raw_headers, host_header, body, authorized, built = logged
        if built is None:
            built = self._built_request(
                in_flight[0], in_flight[6], in_flight[7], in_flight[8], raw_headers, host_header, in_flight[9],
                in_flight[1], in_flight[2], body, route_info, authorized,
            )
        request, context, facts = built
        exchange = Exchange(
            request,
            response,
            context,
            stage,
            integration_status=integration_status,
            integration_latency_ms=integration_latency_ms,
            error_message=error.message if error is not None else "",
            integration_error=error.detail if error is not None else "",
            integration_request_id=integration_request_id,
        )
        exchange.facts = facts
        self._gateway.write_stage_log(exchange, access_log, in_flight[3])

    def record(
        self, in_flight: InFlight, status: int, body_bytes: int, integration_latency_ms: float, error: str
    ) -> None:
        """`DataPlaneApp.record` from the lane's values: the node's access-log line and the metrics."""
        app = self._app
        access_log, metrics = app.access_log, app.metrics
        if access_log is None and metrics is None:
            return
        latency_ms = (perf_counter() - in_flight[3]) * 1000
        route_key = in_flight[5]
        if access_log is not None:
            raw_query = in_flight[8]
            request_line = f"{in_flight[6]} {in_flight[7]}{'?' + raw_query if raw_query else ''} {in_flight[9]}"
            access_log.write(
                line_of(
                    in_flight[0].source_ip, in_flight[2], request_line, status, body_bytes, in_flight[1], route_key,
                    latency_ms, error,
                )
            )
        if metrics is not None:
            stage = in_flight[4]
            key = (stage.api_id, stage.stage_name, route_key if stage.detailed_metrics else "")
            metrics.observe_values(key, status, latency_ms, integration_latency_ms, in_flight[12] + body_bytes)


def _route_of(plan: GatewayPlan, host_header: str, method: str, raw_path: str, raw_query: str) -> _Resolved:
    """Where a request goes on `plan`, when a lane may take it: a plain proxy route with a URL the client can
    call (else the pipeline answers, with its 500), or a plain Lambda route (`lambda_route_of`)."""
    host = host_of(host_header)
    selection = select(plan, host, raw_path)
    if selection is None:
        return False
    stage = selection.stage
    match = stage.matcher.match(method, selection.route_raw_path)
    if match is None:
        return False
    target = match.route.target
    proxy = target.lane_proxy
    if proxy is None:
        function = target.lane_lambda
        if function is None:
            return False
        return lambda_route_of(plan, stage, match, function, host, method, raw_path, raw_query, selection)
    backend_method = proxy.method or method
    mapping = target.lane_mapping
    if mapping is not None:
        if not mapping.query_is_static:  # the URL and request line are made per request, once mapped
            return (
                stage, target, proxy, backend_method, b"", None, host, match.path_parameters,
                selection.route_raw_path, selection.mapping_key, None,
            )
        raw_query = mapping.static_query(raw_query)
    append_path = None
    if proxy.append_request_path:
        append_path = raw_path if selection.mapping_key is None else selection.route_raw_path
    url = proxy.uri.render(match.path_parameters, stage.stage_variables, append_path=append_path, raw_query=raw_query)
    try:
        backend = parse_backend_url(url)
    except BadBackendUrl:
        return False
    try:
        line = f"{backend_method} {backend.target} HTTP/1.1\r\nhost: {backend.authority}\r\n".encode("latin-1")
    except UnicodeEncodeError:  # (`parse_backend_url` quotes a target to ASCII: not expected)
        return False
    return (
        stage, target, proxy, backend_method, line, backend, host, match.path_parameters, selection.route_raw_path,
        selection.mapping_key, None if mapping is None else _by_request_id(mapping),
    )


# A header edit on bytes: (the shapes' blocks for its dropped names, those names and `_REQUEST_DROPPED` in
# bytes, the added header lines).
_HeaderEdit = tuple[dict[tuple[bytes, ...], "_Block"], frozenset[bytes], bytes]


def _header_edit(route: RoutePlan, built: _Built) -> _HeaderEdit | None:
    """The header edit of a mapped request whose URL is made once per request shape
    (`RequestMapping.query_is_static`), on bytes. None when the edit drops a forwarding header the gateway
    adds, or adds a value latin-1 cannot carry (the client then sends the whole head as UTF-8): the
    pipeline's way (`_mapped_request`) makes those."""
    mapping = route.lane_mapping
    assert mapping is not None
    request, context, facts = built
    dropped, added = mapping.header_changes(ContextVariables(request, context, facts))
    if dropped and not GATEWAY_ADDED.isdisjoint(dropped):
        return None
    try:
        lines = b"".join([b"%s: %s\r\n" % (name.encode(), value.encode("latin-1")) for name, value in added])
    except UnicodeEncodeError:
        return None
    return (*_blocks_without(dropped), lines)


def _blocks_without(dropped: AbstractSet[str]) -> tuple[dict[tuple[bytes, ...], _Block], frozenset[bytes]]:
    """The request shapes' blocks for a header edit that drops these names, and the names the blocks leave out
    (`_REQUEST_DROPPED` too) in bytes."""
    if not dropped:
        return _REQUEST_BLOCKS, _REQUEST_DROPPED
    key = dropped if isinstance(dropped, frozenset) else frozenset(dropped)
    shapes = _EDITED_BLOCKS.get(key)
    if shapes is None:
        shapes = ({}, _REQUEST_DROPPED | {name.encode() for name in key})
        if len(_EDITED_BLOCKS) < _MAX_BLOCKS:
            _EDITED_BLOCKS[key] = shapes
    return shapes


_ByRequestId = tuple[dict[tuple[bytes, ...], "_Block"], frozenset[bytes], bytes, int]
"""A header edit known but for the request id: the blocks and names of `_blocks_without`, the added header
lines as a `%` template of the request id, and how many times it goes in."""


def _by_request_id(mapping: RequestMapping) -> _ByRequestId | None:
    """The memo's form of `RequestMapping.header_edits.by_request_id`: None when there is none, or when the
    edit is one `_header_edit` leaves to the pipeline's way (a forwarding header dropped, a value latin-1
    cannot carry)."""
    by_request_id = mapping.header_edits.by_request_id
    if by_request_id is None:
        return None
    dropped, added = by_request_id
    if not GATEWAY_ADDED.isdisjoint(dropped):
        return None
    try:
        template = b"".join(
            b"%s: %s\r\n" % (name.encode(), b"%s".join(piece.replace("%", "%%").encode("latin-1") for piece in pieces))
            for name, pieces in added
        )
    except UnicodeEncodeError:
        return None
    return (*_blocks_without(dropped), template, sum(len(pieces) - 1 for _, pieces in added))


def _mapped_request(route: RoutePlan, proxy: HttpProxyPlan, backend_method: str, built: _Built) -> tuple[BackendUrl, bytes]:
    """The backend URL and request bytes of a mapped request, made as the pipeline makes them
    (`Gateway._integrate`, `_call_http`): the mapping applied to the request's `$context` view, its header
    edit applied as the backend's header list is made. Raises IntegrationFailure for a URL the gateway cannot
    call or a header value with a line break."""
    request, context, facts = built
    assert route.lane_mapping is not None
    mapped = route.lane_mapping.apply(ContextVariables(request, context, facts), None)
    backend = backend_url(proxy, request, context, mapped.raw_query, mapped.path)
    headers = direct_backend_headers(request, backend_host=backend.authority, edit=mapped.edit_headers)
    return backend, encode_request(backend_method, backend, headers, request.body)


class _WithoutCors:
    """The response headers a lane answer to a CORS request drops: `_RESPONSE_DROPPED`, and the backend's
    `access-control-*` headers (the configured ones take their place)."""

    def __contains__(self, name: object) -> bool:
        return name in _RESPONSE_DROPPED or (isinstance(name, bytes) and name.startswith(b"access-control-"))


_CORS_RESPONSE_DROPPED = _WithoutCors()
_Block = tuple[bytes, Callable[[list[bytes]], tuple[bytes, ...]]]
_REQUEST_BLOCKS: dict[tuple[bytes, ...], _Block] = {}
_RESPONSE_BLOCKS: dict[tuple[bytes, ...], _Block] = {}
_CORS_RESPONSE_BLOCKS: dict[tuple[bytes, ...], _Block] = {}
_EDITED_BLOCKS: dict[frozenset[str], tuple[dict[tuple[bytes, ...], _Block], frozenset[bytes]]] = {}
"""By the header names a mapping drops: the blocks of the request shapes without them, and the dropped set."""
_UNEDITED: _HeaderEdit = (_REQUEST_BLOCKS, _REQUEST_DROPPED, b"")
_MAX_BLOCKS = 1024


def _cors_block(stage: StagePlan, origin: str, names: tuple[bytes, ...], values: list[bytes]) -> bytes | None:
    """The answer's header block for a CORS request (one with `Origin`): the backend's headers without its CORS
    headers, then the configured ones, as `CorsPolicy.answer_headers` makes them. None when the listener's
    encoder must write them (a `connection` header to interpret, a CORS value latin-1 cannot carry)."""
    cors = stage.cors
    assert cors is not None  # (an origin is kept only for a stage with CORS)
    lines = cors.response_lines(origin)
    if lines is None or b"connection" in names:
        return None
    return header_block(_CORS_RESPONSE_BLOCKS, _CORS_RESPONSE_DROPPED, names, values) + lines


def header_block(
    blocks: dict[tuple[bytes, ...], _Block], dropped: Container[bytes], names: tuple[bytes, ...], values: list[bytes]
) -> bytes:
    """`name: value` lines for the headers whose (lower-case) name is not in `dropped`, in order. Messages come
    with the same names in the same order again and again (a client's, a backend's): each such shape gets a
    template of its kept names and a getter of its kept values, so a block is one `%` (measured: a fifth of
    the cost of filtering pairs in a comprehension). `blocks` remembers the shapes: one per `dropped` set."""
    block = blocks.get(names)
    if block is None:
        block = _block_of(names, dropped)
        if len(blocks) < _MAX_BLOCKS:
            blocks[names] = block
    return block[0] % block[1](values)


def _block_of(names: tuple[bytes, ...], dropped: Container[bytes]) -> _Block:
    kept = [index for index, name in enumerate(names) if name not in dropped]
    # A name may hold `%` (a token character): doubled in the template.
    template = b"".join(b"%s: %%s\r\n" % names[index].replace(b"%", b"%%") for index in kept)
    if len(kept) > 1:
        return template, itemgetter(*kept)
    if kept:  # itemgetter of one index gives the value, not a tuple: the same index twice, the second unused
        return template + b"%.0s", itemgetter(kept[0], kept[0])
    return template, _no_values


def _no_values(values: list[bytes]) -> tuple[bytes, ...]:
    return ()


def _latin_1(value: bytes) -> str:
    return value.decode("latin-1")
