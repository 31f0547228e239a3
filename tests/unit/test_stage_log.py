"""Stage access-log lines: the fast renderers (straight from the Exchange, and from a lane's values) write
what the general way (the `$context` view of the request) writes, for every variable they know."""

from __future__ import annotations

import dataclasses

import orjson
import pytest

from stageway.core.context_vars import RequestFacts, compile_log_format
from stageway.core.http import GatewayResponse, IncomingRequest, RouteContext
from stageway.gateway.exchange import Exchange
from stageway.gateway.stage_log import (
    _FROM_EXCHANGE,
    _FROM_VALUES,
    context_for_log,
    exchange_renderer,
    render_line,
    values_renderer,
)


def _request(headers: list[tuple[str, str]] | None = None) -> IncomingRequest:
    return IncomingRequest(
        "POST", "/prod/pets/7", "a=1", headers if headers is not None else [("user-agent", 'curl "8"')],
        b'{"x":1}', "203.0.113.9", "JCIndgObPHcEJVQ=", 1767261600123, "api.example.com",
    )


def _route(mapping_key: str | None = None, domain_name: str = "api.example.com") -> RouteContext:
    return RouteContext(
        "k3xq9zw1ab", "123456789012", "eu-west-1", "prod", "POST /pets/{id}", {"id": "7"}, {},
        "/prod/pets/7", "/pets/7", domain_name=domain_name, mapping_key=mapping_key,
    )


def _exchanges() -> list[Exchange]:
    answered = Exchange(_request(), GatewayResponse(201, [], b"created"), _route())
    answered.integration_status, answered.integration_latency_ms = 201, 12.5
    failed = Exchange(_request([]), GatewayResponse(504, [], b'{"message":"Service Unavailable"}'), _route("v1/pets", ""))
    failed.error_message, failed.integration_error = "Service Unavailable", 'backend "slow"\nline'
    failed.integration_request_id = "lambda-req-1"
    unrouted = Exchange(_request(), GatewayResponse(404, [], b'{"message":"Not Found"}'))
    unrouted.error_message = "Not Found"
    return [answered, failed, unrouted]


@pytest.mark.parametrize("json_format", [True, False])
@pytest.mark.parametrize("name", sorted(_FROM_EXCHANGE))
def test_every_fast_variable_renders_as_the_context_view_does(name: str, json_format: bool) -> None:
    log_format = compile_log_format(_format(name, json_format))
    renderer = exchange_renderer(log_format)
    assert renderer is not None
    for exchange in _exchanges():
        for latency_ms in (0.4, 7.5, 1234.0):
            fast = render_line(log_format, renderer, exchange, latency_ms)
            general = render_line(log_format, None, exchange, latency_ms)
            assert fast == general, (name, exchange.response.status)
            if json_format:
                orjson.loads(fast)


def _format(name: str, json_format: bool) -> str:
    if json_format:
        return f'{{"requestId":"$context.requestId","value":"$context.{name}"}}'
    return f"$context.requestId [$context.{name}]"


def test_the_values_renderer_knows_the_exchange_renderers_variables() -> None:
    assert set(_FROM_VALUES) == set(_FROM_EXCHANGE)


@pytest.mark.parametrize("json_format", [True, False])
@pytest.mark.parametrize("name", sorted(_FROM_VALUES))
def test_every_variable_renders_from_a_lanes_values_as_the_context_view_does(name: str, json_format: bool) -> None:
    log_format = compile_log_format(_format(name, json_format))
    renderer = values_renderer(log_format)
    assert renderer is not None
    user_agents = [[("user-agent", 'curl "8"')], [], [("User-Agent", "a"), ("x", "y"), ("USER-AGENT", "b")]]
    for exchange, headers in zip(_exchanges()[:2] * 2, user_agents * 2, strict=False):
        # As a lane's requests are: routed, with their Host as the route's domain name.
        request = dataclasses.replace(exchange.request, headers=[(name.lower(), value) for name, value in headers])
        route = exchange.route
        assert route is not None
        exchange = dataclasses.replace(exchange, request=request, route=dataclasses.replace(route, domain_name=request.host))
        raw_headers = [part.encode("latin-1") for header in headers for part in header]
        for latency_ms in (0.4, 7.5, 1234.0):
            from_values = renderer(
                request.request_id, request.method, request.source_ip, raw_headers, request.time_epoch_ms,
                route.route_key, route.stage, route.api_id, route.account_id, route.stage_raw_path, request.host,
                route.mapping_key, len(request.body), exchange.response.status, len(exchange.response.body),
                exchange.integration_status, exchange.integration_latency_ms, exchange.error_message,
                exchange.integration_error, exchange.integration_request_id, latency_ms,
            ) + "\n"
            assert from_values == render_line(log_format, None, exchange, latency_ms), (name, exchange.response.status)


def test_a_format_with_authorizer_values_takes_the_general_way() -> None:
    log_format = compile_log_format("$context.requestId $context.authorizer.claims.sub $context.error.responseType")
    assert exchange_renderer(log_format) is None
    assert values_renderer(log_format) is None
    exchange = _exchanges()[0]
    exchange.facts = RequestFacts(authorizer={"claims.sub": "user-1"}, error_response_type="UNAUTHORIZED")
    assert render_line(log_format, None, exchange, 1.0) == "JCIndgObPHcEJVQ= user-1 UNAUTHORIZED\n"
    # The general way's view carries every fact of the answer.
    context = context_for_log(exchange, 2.6)
    assert (context.lookup("status"), context.lookup("responseLatency"), context.lookup("dataProcessed")) == (
        "201", "3", str(len(b'{"x":1}') + len(b"created")),
    )
