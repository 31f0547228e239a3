"""The request pipeline: select API and stage, match the route, call the integration, answer.

No sockets here: the server hands in an `IncomingRequest` and gets back an `Exchange`, the response plus what
access logs and metrics need to know about how it was made.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from stageway.core.errors import GatewayError, IntegrationFailure, NotFound
from stageway.core.forwarding import with_forwarding_headers
from stageway.core.http import GatewayResponse, IncomingRequest, RouteContext
from stageway.core.http_proxy import BadBackendUrl, backend_request_headers, parse_backend_url
from stageway.gateway.plan import GatewayPlan, HttpProxyPlan, LambdaPlan, RoutePlan
from stageway.gateway.selection import select
from stageway.integrations.http_proxy import HttpProxyClient
from stageway.integrations.lambda_proxy import FunctionInvoker, call_lambda

log = logging.getLogger("stageway.gateway")


@dataclass(slots=True)
class Exchange:
    """One request and how it was answered."""

    request: IncomingRequest
    response: GatewayResponse
    route: RouteContext | None = None
    integration_status: int | None = None
    integration_latency_ms: float | None = None
    integration_request_id: str = ""
    error_message: str = ""
    integration_error: str = ""
    detailed_metrics: bool = False


class Gateway:
    def __init__(self, plan: GatewayPlan, http_client: HttpProxyClient, functions: FunctionInvoker) -> None:
        self.plan = plan
        self.http_client = http_client
        self.functions = functions

    async def handle(self, request: IncomingRequest) -> Exchange:
        plan = self.plan  # one read: the whole request sees one configuration even if a deploy lands meanwhile
        selection = select(plan, request.host, request.raw_path)
        if selection is None:
            return _error_exchange(request, NotFound("no API or stage for this host and path"))
        match = selection.stage.matcher.match(request.method, selection.route_raw_path)
        if match is None:
            return _error_exchange(request, NotFound("no route matches"))
        stage = selection.stage
        route = RouteContext(
            api_id=stage.api_id,
            account_id=plan.account_id,
            region=plan.region,
            stage=stage.stage_name,
            route_key=match.route_key,
            path_parameters=match.path_parameters,
            stage_variables=stage.stage_variables,
            stage_raw_path=request.raw_path,
            route_raw_path=selection.route_raw_path,
            domain_name=request.host,
            mapping_key=selection.mapping_key,
        )
        exchange = Exchange(request, _PLACEHOLDER, route, detailed_metrics=stage.detailed_metrics)
        try:
            exchange.response = await self._integrate(match.target, request, route, exchange)
        except GatewayError as error:
            exchange.response = error.to_response()
            exchange.error_message = error.message
            exchange.integration_error = error.detail
            log.info("%s %s -> %s: %s", request.request_id, match.route_key, error.status, error.detail)
        return exchange

    async def _integrate(
        self, route_plan: RoutePlan, request: IncomingRequest, route: RouteContext, exchange: Exchange
    ) -> GatewayResponse:
        integration = route_plan.integration
        if integration is None:
            raise IntegrationFailure(f"route {route_plan.route_key} has no integration that stageway can call")
        headers = with_forwarding_headers(request)
        started = time.perf_counter()
        try:
            if isinstance(integration, HttpProxyPlan):
                response = await self._call_http(integration, request, route, headers)
            else:
                response, exchange.integration_request_id = await self._call_lambda(
                    integration, request, route, headers
                )
        finally:
            exchange.integration_latency_ms = (time.perf_counter() - started) * 1000
        exchange.integration_status = response.status
        return response

    async def _call_http(
        self,
        plan: HttpProxyPlan,
        request: IncomingRequest,
        route: RouteContext,
        headers: list[tuple[str, str]],
    ) -> GatewayResponse:
        url = plan.uri.render(
            route.path_parameters,
            route.stage_variables,
            append_path=_forwarded_path(request, route) if plan.append_request_path else None,
            raw_query=request.raw_query,
        )
        try:
            backend = parse_backend_url(url)
        except BadBackendUrl as error:  # e.g. a stage variable that left the URL empty
            raise IntegrationFailure(f"Invalid integration URL {url!r}: {error}") from None
        outgoing = backend_request_headers(
            headers,
            backend_host=backend.authority,
            original_host=request.host,
            client_ip=request.source_ip,
            scheme=request.scheme,
        )
        return await self.http_client.send(plan.method or request.method, url, outgoing, request.body, plan.timeout_s)

    async def _call_lambda(
        self,
        plan: LambdaPlan,
        request: IncomingRequest,
        route: RouteContext,
        headers: list[tuple[str, str]],
    ) -> tuple[GatewayResponse, str]:
        return await call_lambda(self.functions, plan, request, route, headers)


_PLACEHOLDER = GatewayResponse(500)


def _forwarded_path(request: IncomingRequest, route: RouteContext) -> str:
    """The path a `$default` route appends to its HTTP integration's URI: the request path with a named
    stage's prefix (spec §2.2, observed); on a custom domain, without the API mapping key, as the API itself
    sees the path (like 2.0's `rawPath`; AWS does not document it) [INF]."""
    return request.raw_path if route.mapping_key is None else route.route_raw_path


def _error_exchange(request: IncomingRequest, error: GatewayError) -> Exchange:
    return Exchange(request, error.to_response(), error_message=error.message, integration_error=error.detail)

