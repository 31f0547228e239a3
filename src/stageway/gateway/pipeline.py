"""The request pipeline (spec §3.1): select API and stage, answer CORS preflights, match the route, throttle,
map parameters, call the integration, map the response, add CORS headers.

No sockets here: the server hands in an `IncomingRequest` and gets back an `Exchange`, the response plus what
access logs and metrics need to know about how it was made.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable
from time import monotonic, perf_counter
from typing import Protocol

from stageway.auth import AuthError, Authorizers, AuthResult
from stageway.core.context_vars import ContextVariables, RequestFacts
from stageway.core.cors import CorsPolicy
from stageway.core.errors import GatewayError, IntegrationFailure, NotFound, TooManyRequests
from stageway.core.forwarding import with_forwarding_headers
from stageway.core.http import GatewayResponse, IncomingRequest, RouteContext
from stageway.core.http_proxy import (
    BackendUrl,
    BadBackendUrl,
    backend_request_headers,
    direct_backend_headers,
    parse_backend_url,
)
from stageway.core.mapping import MappingResult
from stageway.gateway.exchange import Exchange
from stageway.gateway.plan import (
    AccessLogPlan,
    AwsServicePlan,
    GatewayPlan,
    HttpProxyPlan,
    LambdaPlan,
    RoutePlan,
    StagePlan,
)
from stageway.gateway.selection import select
from stageway.gateway.stage_log import render_line
from stageway.integrations.aws_service import AwsServices, call_aws_service
from stageway.integrations.http_proxy import HttpProxyClient
from stageway.integrations.lambda_proxy import FunctionInvoker, call_lambda
from stageway.throttle import Throttler

log = logging.getLogger("stageway.gateway")

NO_FACTS = RequestFacts()


def authorization_facts(route_plan: RoutePlan, result: AuthResult, route: RouteContext) -> RequestFacts:
    """What an authorizer's answer sets on a request it lets through: `requestContext.authorizer` for the
    integration (shaped for its payload version) on `route`, and the returned facts: `$context.authorizer.*`
    and `$context.identity.*` for mappings and access logs. (The proxy lane sets the same on the objects its
    mapping and access-log line are made from.)"""
    integration = route_plan.integration
    v1 = isinstance(integration, LambdaPlan) and integration.payload_format_version == "1.0"
    route.authorizer = result.v1 if v1 else result.v2
    route.identity = dict(result.identity) if result.identity else None
    # The authorizer is the first to learn anything about the request: fresh facts, no copy of the old.
    return RequestFacts(authorizer=result.context_vars, identity=result.identity)


class StageLogWriter(Protocol):
    """Where a stage's access-log lines go, by `accessLogSettings.destinationArn`."""

    def sink(self, destination: str) -> LineSink | None: ...


class LineSink(Protocol):
    def write(self, line: str) -> None: ...


class Gateway:
    def __init__(
        self,
        plan: GatewayPlan,
        http_client: HttpProxyClient,
        functions: FunctionInvoker,
        throttler: Throttler,
        authorizers: Authorizers,
        stage_logs: StageLogWriter | None = None,
        aws_services: AwsServices | None = None,
    ) -> None:
        self.plan = plan
        self.aws_services = aws_services
        self.http_client = http_client
        self.functions = functions
        self.throttler = throttler
        self.authorizers = authorizers
        self.stage_logs = stage_logs

    async def handle(self, request: IncomingRequest) -> Exchange:
        started = perf_counter()
        plan = self.plan  # one read: the whole request sees one configuration even if a deploy lands meanwhile
        selection = select(plan, request.host, request.raw_path)
        if selection is None:
            # No stage, so no stage access log either (as on AWS).
            return _error_exchange(request, NotFound("no API or stage for this host and path"))
        stage = selection.stage
        cors = stage.cors
        if cors is not None and request.method == "OPTIONS":
            # With CORS configured the gateway answers preflights itself, before routing and authorization,
            # even when no OPTIONS route exists (spec §6.2).
            preflight = cors.preflight(request.method, request.headers)
            if preflight is not None:
                exchange = Exchange(request, preflight, stage=stage)
                if stage.access_log is not None:
                    self.write_stage_log(exchange, stage.access_log, started)
                return exchange
        match = stage.matcher.match(request.method, selection.route_raw_path)
        if match is None:
            exchange = _error_exchange(request, NotFound("no route matches"))
            exchange.stage = stage
            if cors is not None:
                _add_cors_headers(exchange, cors)
            if stage.access_log is not None:
                self.write_stage_log(exchange, stage.access_log, started)
            return exchange
        target = match.route.target
        route = route_context(
            plan,
            stage,
            match.route.key,
            match.path_parameters,
            request.raw_path,
            selection.route_raw_path,
            request.host,
            selection.mapping_key,
        )
        exchange = Exchange(request, _PLACEHOLDER, route, stage)
        try:
            # Throttled requests reach neither the authorizer nor the integration (spec §8).
            limits = target.throttle_limits
            admitted = self.throttler.admit_now(limits, monotonic())
            if admitted is None:
                admitted = await self.throttler.admit(limits, monotonic())
            if not admitted:
                raise TooManyRequests(f"throttled on route {match.route.key}")
            if target.auth.authorization_type != "NONE":
                await self._authorize(target, request, route, exchange)
            exchange.response = await self._integrate(target, request, route, exchange)
        except GatewayError as error:
            exchange.response = error.to_response()
            exchange.error_message = error.message
            if isinstance(error, AuthError):
                exchange.facts = dataclasses.replace(
                    exchange.facts or NO_FACTS, authorizer_error=error.authorizer_error, error_response_type=error.response_type
                )
            else:
                exchange.integration_error = error.detail
            log.info("%s %s -> %s: %s", request.request_id, match.route.key, error.status, error.detail)
        if cors is not None:
            _add_cors_headers(exchange, cors)
        if stage.access_log is not None:
            self.write_stage_log(exchange, stage.access_log, started)
        return exchange

    def write_stage_log(self, exchange: Exchange, settings: AccessLogPlan, started: float) -> None:
        """One line in the stage's own format (spec §10); written only for requests that reached a stage.
        `started` is `handle`'s start."""
        sink = self.stage_log_sink(settings)
        if sink is not None:
            latency_ms = (perf_counter() - started) * 1000
            sink.write(render_line(settings.format, settings.renderer, exchange, latency_ms))

    def stage_log_sink(self, settings: AccessLogPlan) -> LineSink | None:
        """Where a stage's access-log lines go; None when they cannot be written (or nowhere is set up)."""
        return self.stage_logs.sink(settings.destination) if self.stage_logs is not None else None

    async def _authorize(
        self, route_plan: RoutePlan, request: IncomingRequest, route: RouteContext, exchange: Exchange
    ) -> None:
        """Run the route's authorizer; what it learns reaches the integration (`requestContext.authorizer`,
        shaped for the payload version) and `$context.authorizer.*`, and nowhere else."""
        result = await self.authorizers.authorize(route_plan.auth, request, route)
        exchange.facts = authorization_facts(route_plan, result, route)

    async def _integrate(
        self, route_plan: RoutePlan, request: IncomingRequest, route: RouteContext, exchange: Exchange
    ) -> GatewayResponse:
        integration = route_plan.integration
        if integration is None:
            raise IntegrationFailure(f"route {route_plan.route_key} has no integration that stageway can call")
        mapped: MappingResult | None = None
        # With the gateway's forwarding headers; None: an unmapped HTTP proxy request builds its own.
        headers: list[tuple[str, str]] | None = None
        request_mapping = route_plan.request_mapping
        if not request_mapping.is_empty:
            exchange.context = ContextVariables(request, route, exchange.facts)
            if isinstance(integration, HttpProxyPlan) and not request_mapping.edits_backend_set_headers:
                # The header edit is applied as the backend's list is made, in its one pass.
                mapped = request_mapping.apply(exchange.context, None)
            else:
                mapped = request_mapping.apply(exchange.context, with_forwarding_headers(request))
                headers = mapped.headers
        elif not isinstance(integration, HttpProxyPlan):
            headers = with_forwarding_headers(request)
        started = perf_counter()
        try:
            if isinstance(integration, HttpProxyPlan):
                response = await self._call_http(integration, request, route, headers, mapped)
            elif isinstance(integration, AwsServicePlan):
                if self.aws_services is None:
                    raise IntegrationFailure("AWS service integrations are not configured on this gateway")
                # Its parameters are rendered from the request's `$context` view, authorizer values included.
                exchange.context = exchange.context or ContextVariables(request, route, exchange.facts)
                response, exchange.integration_request_id = await call_aws_service(
                    self.aws_services, integration, exchange.context
                )
            else:
                assert headers is not None
                response, exchange.integration_request_id = await self._call_lambda(
                    integration, request, route, headers, mapped
                )
        finally:
            exchange.integration_latency_ms = (perf_counter() - started) * 1000
        exchange.integration_status = response.status
        if not route_plan.response_mapping.is_empty:
            context = exchange.context or ContextVariables(request, route, exchange.facts)
            exchange.context = context
            status, response_headers = route_plan.response_mapping.apply(
                response.status, response.headers, response.body, context
            )
            response = GatewayResponse(status, response_headers, response.body)
        return response

    def _call_http(
        self,
        plan: HttpProxyPlan,
        request: IncomingRequest,
        route: RouteContext,
        headers: list[tuple[str, str]] | None,
        mapped: MappingResult | None,
    ) -> Awaitable[GatewayResponse]:
        """The backend call, to await. (Not a coroutine itself: the client's call is handed over as is, one
        coroutine fewer per request; a bad URL raises here, inside the caller's `try`.)"""
        if mapped is None:
            raw_query, path_override, edit = request.raw_query, None, None
        else:
            raw_query, path_override, edit = mapped.raw_query, mapped.path, mapped.edit_headers
        backend = backend_url(plan, request, route, raw_query, path_override)
        if headers is None:
            outgoing = direct_backend_headers(request, backend_host=backend.authority, edit=edit)
        else:
            outgoing = backend_request_headers(
                headers,
                backend_host=backend.authority,
                original_host=request.host,
                client_ip=request.source_ip,
                scheme=request.scheme,
            )
        return self.http_client.send_to(plan.method or request.method, backend, outgoing, request.body, plan.timeout_s)

    async def _call_lambda(
        self,
        plan: LambdaPlan,
        request: IncomingRequest,
        route: RouteContext,
        headers: list[tuple[str, str]],
        mapped: MappingResult | None,
    ) -> tuple[GatewayResponse, str]:
        if mapped is not None:
            # The event shows the mapped request: its query string, and `overwrite:path` as its path.
            request = dataclasses.replace(request, raw_query=mapped.raw_query)
            if mapped.path is not None:
                route = dataclasses.replace(route, stage_raw_path=mapped.path, mapping_key=None)
        return await call_lambda(self.functions, plan, request, route, headers)


_PLACEHOLDER = GatewayResponse(500)


def route_context(
    plan: GatewayPlan,
    stage: StagePlan,
    route_key: str,
    path_parameters: dict[str, str],
    stage_raw_path: str,
    route_raw_path: str,
    domain_name: str,
    mapping_key: str | None,
) -> RouteContext:
    """Where a request was routed, as integrations, mappings and logs see it (also the proxy lane's, for a
    stage access-log line)."""
    return RouteContext(
        api_id=stage.api_id,
        account_id=plan.account_id,
        region=plan.region,
        stage=stage.stage_name,
        route_key=route_key,
        path_parameters=path_parameters,
        stage_variables=stage.stage_variables,
        stage_raw_path=stage_raw_path,
        route_raw_path=route_raw_path,
        domain_name=domain_name,
        mapping_key=mapping_key,
    )


def _add_cors_headers(exchange: Exchange, cors: CorsPolicy) -> None:
    """On a CORS request (one with `Origin`) to an API with CORS configured, the configured headers replace
    whatever CORS headers the backend sent (spec §6.2)."""
    origin = exchange.request.header("origin")
    if origin is None:
        return
    response = exchange.response
    response.headers = cors.answer_headers(response.headers, origin)


def backend_url(
    plan: HttpProxyPlan, request: IncomingRequest, route: RouteContext, raw_query: str, path_override: str | None
) -> BackendUrl:
    """Where an HTTP proxy request goes, taken apart: the integration URI rendered for the request, with
    `raw_query` (the client's, or as mapped). `path_override` (`overwrite:path`) replaces the URI's path and
    any appended request path (spec §5.1). Raises IntegrationFailure for a URL the gateway cannot call (e.g.
    a stage variable that left it empty)."""
    url = plan.uri.render(
        route.path_parameters,
        route.stage_variables,
        append_path=_forwarded_path(request, route) if plan.append_request_path and path_override is None else None,
        raw_query=raw_query,
    )
    try:
        backend = parse_backend_url(url)
    except BadBackendUrl as error:
        raise IntegrationFailure(f"Invalid integration URL {url!r}: {error}") from None
    if path_override is None:
        return backend
    url = f"{backend.scheme}://{backend.authority}{path_override}" + (f"?{raw_query}" if raw_query else "")
    try:
        return parse_backend_url(url)
    except BadBackendUrl as error:
        raise IntegrationFailure(str(error)) from None


def _forwarded_path(request: IncomingRequest, route: RouteContext) -> str:
    """The path a `$default` route appends to its HTTP integration's URI: the request path with a named
    stage's prefix (spec §2.2, observed); on a custom domain, without the API mapping key, as the API itself
    sees the path (like 2.0's `rawPath`; AWS does not document it) [INF]."""
    return request.raw_path if route.mapping_key is None else route.route_raw_path


def _error_exchange(request: IncomingRequest, error: GatewayError) -> Exchange:
    return Exchange(request, error.to_response(), error_message=error.message, integration_error=error.detail)
