"""The Lambda lane: a plain Lambda proxy route answered from the listener's and the local runtime's callbacks.

The pipeline spends, per Lambda request, about as much CPU on its own objects as on the gateway's work: the
request's `IncomingRequest`, `RouteContext` and `Exchange`, the headers list with the forwarding headers, a
coroutine chain (`handle`, `_integrate`, `call_lambda`, `invoke`) resumed through the connection's task, and
a deadline timer. This lane does the gateway's work from what the listener read: the route resolved once per
(Host, method, path, query) and plan by the proxy lane's memo (`server/proxy_lane.py`), which also keeps the
parts of the event that depend on nothing else (the path, the query parameters, `pathParameters`,
`stageVariables`, the request context's API fields); per request only the headers, ids, times and body are
new. The event is made by `core.lambda_events.v2_event` or `v1_event`, the pipeline's own builders, and the
function's answer is read by `parse_v2_response` or `parse_v1_response` and written by the listener's encoder:
the two ways give the same bytes.

It takes a request when the proxy lane's rules let it (no HEAD, no chunked body, no header the gateway
rewrites, nothing pipelined ahead of it, a throttle that answers at once) and the route is plain
(`RoutePlan.lane_lambda`: AWS_PROXY to a function, either payload format, no authorizer, no parameter
mapping) or behind a JWT authorizer that reads a header and lets this request's token through without I/O
(`RoutePlan.lane_jwt`, the proxy lane's rules for JWT routes; the event then carries the authorizer's
cached result, as the pipeline's does), and its function is one of the local runtime's (a remote function
goes through the pipeline). What
goes wrong is answered as the pipeline answers it, through the proxy lane's `fail`: a refused invocation
(function gone, an event over 6 MB), a function error, a malformed answer or a worker that dies is 500 (413 for
the event's size), the integration timeout 503.
"""

from __future__ import annotations

import asyncio
from functools import partial
from time import perf_counter
from typing import TYPE_CHECKING, Any

import orjson

from stageway.core.errors import GatewayError
from stageway.core.forwarding import forwarding_headers
from stageway.core.http import resource_path
from stageway.core.lambda_events import (
    v1_event,
    v1_query_parameters,
    v2_event,
    v2_headers,
    v2_path,
    v2_query_parameters,
)
from stageway.core.lambda_responses import parse_v1_response, parse_v2_response
from stageway.core.stage_variables import substitute_stage_variables
from stageway.functions import (
    FunctionNotFound,
    FunctionThrottled,
    InvocationResult,
    LocalRuntime,
    RequestTooLarge,
)
from stageway.gateway.plan import GatewayPlan, LambdaPlan, RoutePlan, StagePlan
from stageway.gateway.selection import Selection
from stageway.integrations.lambda_proxy import function_failed, invocation_refused, timed_out
from stageway.running_loop import running_loop
from stageway.server.asgi import header_pairs

if TYPE_CHECKING:
    from stageway.auth import AuthResult
    from stageway.core.routing import RouteMatch
    from stageway.server.proxy_lane import InFlight, ProxyLane

V2Parts = tuple[
    str, str, str, "dict[str, str] | None", "dict[str, str]", "dict[str, str]", str, str, str, str, str
]
"""What a payload 2.0 event takes from its route and URL alone: (route key, `rawPath`, `rawQueryString`,
`queryStringParameters`, `pathParameters`, `stageVariables`, account id, API id, domain name, domain prefix,
stage)."""
V1Parts = tuple[
    str, str, str, "dict[str, str] | None", "dict[str, list[str]] | None", "dict[str, str]", "dict[str, str]",
    str, str, str, str, str,
]
"""Likewise for payload 1.0: (route key, `resource`, `path`, `queryStringParameters`,
`multiValueQueryStringParameters`, `pathParameters`, `stageVariables`, account id, API id, domain name, domain
prefix, stage)."""
EventParts = V2Parts | V1Parts

LambdaRoute = tuple[StagePlan, RoutePlan, LambdaPlan, str, EventParts, None, str, dict[str, str], str, str | None]
"""The proxy lane's memo entry for a Lambda route: (stage, route, integration, function name, event parts,
unused, Host without its port, path parameters, the path routes were matched against, API mapping key): the
proxy lane's own positions for what both lanes read."""

def lambda_route_of(
    plan: GatewayPlan,
    stage: StagePlan,
    match: RouteMatch[RoutePlan],
    function: LambdaPlan,
    host: str,
    method: str,
    raw_path: str,
    raw_query: str,
    selection: Selection,
) -> LambdaRoute:
    """The memo entry of a request to a plain Lambda route (see `proxy_lane._route_of`)."""
    name = function.function_name
    if function.has_stage_variables:
        name = substitute_stage_variables(name, stage.stage_variables)
    # The pipeline's `domainName` is the route context's, which is the request's host.
    route_key, prefix = match.route.key, host.partition(".")[0]
    parts: EventParts
    if function.payload_format_version == "1.0":
        query_map, multi_query = v1_query_parameters(raw_query)
        parts = (
            route_key, resource_path(route_key), raw_path, query_map, multi_query, match.path_parameters, stage.stage_variables,
            plan.account_id, stage.api_id, host, prefix, stage.stage_name,
        )
    else:
        parts = (
            route_key, v2_path(raw_path, selection.route_raw_path, selection.mapping_key), raw_query,
            v2_query_parameters(raw_query), match.path_parameters, stage.stage_variables, plan.account_id,
            stage.api_id, host, prefix, stage.stage_name,
        )
    return (
        stage, match.route.target, function, name, parts, None, host, match.path_parameters, selection.route_raw_path,
        selection.mapping_key,
    )


class LambdaLane:
    """The Lambda lane of one listener, answering through its proxy lane's failure, log and metric paths."""

    def __init__(self, lanes: ProxyLane, functions: LocalRuntime) -> None:
        self._lanes = lanes
        self._functions = functions
        self.has_function = functions.has_function

    def start(
        self,
        in_flight: InFlight,
        raw_headers: list[bytes],
        body: bytes,
        route: LambdaRoute,
        authorized: AuthResult | None = None,
    ) -> None:
        """Invoke the route's function with the request's event; the answer goes to the request's listener when
        the result comes. The proxy lane has decided the lane takes the request, counted it and made its
        in-flight tuple. `authorized`: the JWT authorizer's result, on a route behind one."""
        _, function, name, parts = route[1:5]
        lanes = self._lanes
        try:
            if function.payload_format_version == "1.0":
                authorizer = None if authorized is None else authorized.v1
                event = _v1_event(in_flight, parts, raw_headers, body, authorizer)  # type: ignore[arg-type]
            else:
                authorizer = None if authorized is None else authorized.v2
                event = _v2_event(in_flight, parts, raw_headers, body, authorizer)  # type: ignore[arg-type]
            payload = orjson.dumps(event)
            future = self._functions.start_invocation(name, payload)
        except (FunctionNotFound, FunctionThrottled, RequestTooLarge) as error:
            lanes.fail(in_flight, invocation_refused(error, function))
            return
        except Exception as error:  # noqa: BLE001 - a bug costs this request a 500, as in `DataPlaneApp.respond`
            lanes.fail(in_flight, error)
            return
        # The integration timeout bounds the call; the function runs on (as on AWS) and its result is dropped.
        timer = running_loop().call_later(function.timeout_s, future.cancel)
        future.add_done_callback(partial(self._answered, in_flight, timer, name, function))

    def _answered(
        self,
        in_flight: InFlight,
        timer: asyncio.TimerHandle,
        name: str,
        function: LambdaPlan,
        future: asyncio.Future[InvocationResult],
    ) -> None:
        lanes = self._lanes
        try:
            timer.cancel()
            if future.cancelled():  # only the timer cancels it
                lanes.fail(in_flight, timed_out(name, function))
                return
            error = future.exception()
            if error is not None:
                # The function was removed while the invocation waited for a worker: the pipeline's answer to it.
                if isinstance(error, FunctionNotFound | FunctionThrottled | RequestTooLarge):
                    error = invocation_refused(error, function)
                lanes.fail(in_flight, error)
                return
            result = future.result()
            if result.function_error:
                lanes.fail(in_flight, function_failed(result))
                return
            try:
                if function.payload_format_version == "1.0":
                    response = parse_v1_response(result.payload)
                else:
                    response = parse_v2_response(result.payload)
            except GatewayError as failure:
                lanes.fail(in_flight, failure)
                return
            integration_latency_ms = (perf_counter() - in_flight[11]) * 1000
            origin, cors = in_flight[13], in_flight[4].cors
            if origin is not None and cors is not None:
                response.headers = cors.answer_headers(response.headers, origin)
            listener = in_flight[0]
            keep_alive = listener.lane_write_response(response, in_flight[1], in_flight[10], in_flight[9])
            if in_flight[14] is not None:
                lanes.write_stage_log(
                    in_flight, response, response.status, integration_latency_ms,
                    integration_request_id=result.request_id,
                )
            lanes.record(in_flight, response.status, len(response.body), integration_latency_ms, "")
            listener.lane_done(keep_alive)
        except Exception:  # noqa: BLE001 - logged by `answer_failed`; a bug costs this client connection only
            lanes.answer_failed(in_flight)


def _event_headers(in_flight: InFlight, raw_headers: list[bytes]) -> list[tuple[str, str]]:
    """The headers the pipeline's `with_forwarding_headers` gives the event: the client's, then the gateway's
    four (the client sent none of them: such a request does not reach a lane)."""
    listener = in_flight[0]
    headers = header_pairs(raw_headers)
    headers += forwarding_headers(listener.source_ip, listener.server_port, "http", in_flight[2])
    return headers


def _v2_event(
    in_flight: InFlight, parts: V2Parts, raw_headers: list[bytes], body: bytes, authorizer: dict[str, Any] | None
) -> dict[str, object]:
    """The request's payload 2.0 event, as the pipeline's `build_v2_event` makes it."""
    route_key, path, raw_query, query_map, path_parameters, stage_variables, account_id, api_id, domain, prefix, stage = parts
    header_map, cookies = v2_headers(_event_headers(in_flight, raw_headers))
    return v2_event(
        route_key, path, raw_query, cookies, header_map, query_map, path_parameters, stage_variables, account_id,
        api_id, authorizer, domain, prefix, in_flight[6], in_flight[9], in_flight[0].source_ip, in_flight[1], stage,
        in_flight[2], body,
    )


def _v1_event(
    in_flight: InFlight, parts: V1Parts, raw_headers: list[bytes], body: bytes, authorizer: dict[str, Any] | None
) -> dict[str, object]:
    """The request's payload 1.0 event, as the pipeline's `build_v1_event` makes it (a JWT authorizer's
    result has no `identity`)."""
    (_, resource, path, query_map, multi_query, path_parameters, stage_variables, account_id, api_id, domain,
     prefix, stage) = parts
    return v1_event(
        resource, path, _event_headers(in_flight, raw_headers), query_map, multi_query, path_parameters,
        stage_variables, account_id, api_id, authorizer, None, domain, prefix, in_flight[6], in_flight[9],
        in_flight[0].source_ip, in_flight[1], stage, in_flight[2], body,
    )
