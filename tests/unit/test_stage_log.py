"""Stage access-log lines: the fast renderer (straight from the Exchange) writes what the general way (the
`$context` view of the request) writes, for every variable it knows."""

from __future__ import annotations

import orjson
import pytest

from stageway.core.context_vars import RequestFacts, compile_log_format
from stageway.core.http import GatewayResponse, IncomingRequest, RouteContext
from stageway.gateway.exchange import Exchange
from stageway.gateway.stage_log import _FROM_EXCHANGE, context_for_log, exchange_renderer, render_line


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
    template = (
        f'{{"requestId":"$context.requestId","value":"$context.{name}"}}'
        if json_format
        else f"$context.requestId [$context.{name}]"
    )
    log_format = compile_log_format(template)
    renderer = exchange_renderer(log_format)
    assert renderer is not None
    for exchange in _exchanges():
        for latency_ms in (0.4, 7.5, 1234.0):
            fast = render_line(log_format, renderer, exchange, latency_ms)
            general = render_line(log_format, None, exchange, latency_ms)
            assert fast == general, (name, exchange.response.status)
            if json_format:
                orjson.loads(fast)


def test_a_format_with_authorizer_values_takes_the_general_way() -> None:
    log_format = compile_log_format("$context.requestId $context.authorizer.claims.sub $context.error.responseType")
    assert exchange_renderer(log_format) is None
    exchange = _exchanges()[0]
    exchange.facts = RequestFacts(authorizer={"claims.sub": "user-1"}, error_response_type="UNAUTHORIZED")
    assert render_line(log_format, None, exchange, 1.0) == "JCIndgObPHcEJVQ= user-1 UNAUTHORIZED\n"
    # The general way's view carries every fact of the answer.
    context = context_for_log(exchange, 2.6)
    assert (context.lookup("status"), context.lookup("responseLatency"), context.lookup("dataProcessed")) == (
        "201", "3", str(len(b'{"x":1}') + len(b"created")),
    )
