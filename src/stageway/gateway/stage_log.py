"""Stage access-log lines (spec §10) from an answered request's `Exchange`.

Two ways to the same line. The general one builds the `$context` view of the request (`ContextVariables`
with every fact the pipeline learned) and lets the compiled format resolve each variable from it. The fast
one serves formats whose variables are all in `_FROM_EXCHANGE`, the ones access logs are made of: a render
function generated per format reads them straight from the Exchange, with no view and no facts object
built. A stage with logging writes a line for every request, and building those two objects cost about
as much as rendering the line. tests/unit/test_stage_log.py renders every variable both ways.

The listener's lanes (server/proxy_lane.py) have no Exchange to render from: building one, with the
request and route objects it holds, cost a lane request more than the rest of its work on a logged stage.
`values_renderer` renders the same variables from the plain values a lane holds (`_FROM_VALUES`, the
`_FROM_EXCHANGE` table read from them; the test renders every variable both ways here too).
"""

from __future__ import annotations

from collections.abc import Callable

from stageway.core.context_vars import (
    ContextVariables,
    LogFormat,
    RequestFacts,
    render_function,
    rounded_number,
    whole_number,
)
from stageway.core.http import joined_header, raw_header_names
from stageway.gateway.exchange import Exchange

ExchangeRenderer = Callable[[Exchange, float], str]
"""(exchange, response latency in ms) -> the line, without its newline."""

# `$context` variables as expressions over `x` (the Exchange) and `latency_ms`; each gives what its resolver
# gives on the `ContextVariables` that `context_for_log` builds.
_ROUTE = "x.route"
_FROM_EXCHANGE: dict[str, str] = {
    "requestId": "x.request.request_id",
    "extendedRequestId": "x.request.request_id",
    "httpMethod": "x.request.method",
    "identity.sourceIp": "x.request.source_ip",
    "identity.userAgent": "x.request.header('user-agent')",
    "protocol": "'HTTP/1.1'",
    "requestTime": "_clf_time(x.request.time_epoch_ms)",
    "requestTimeEpoch": "str(x.request.time_epoch_ms)",
    "routeKey": f"({_ROUTE}.route_key if {_ROUTE} is not None else None)",
    "stage": f"({_ROUTE}.stage if {_ROUTE} is not None else None)",
    "apiId": f"({_ROUTE}.api_id if {_ROUTE} is not None else None)",
    "accountId": f"({_ROUTE}.account_id if {_ROUTE} is not None else None)",
    "path": f"({_ROUTE}.stage_raw_path if {_ROUTE} is not None else x.request.raw_path)",
    "domainName": f"({_ROUTE}.domain_name if {_ROUTE} is not None and {_ROUTE}.domain_name else x.request.host)",
    "customDomain.basePathMatched": f"({_ROUTE}.mapping_key if {_ROUTE} is not None else None)",
    "status": "str(x.response.status)",
    "responseLength": "str(len(x.response.body))",
    "responseLatency": rounded_number("latency_ms"),
    "dataProcessed": "str(len(x.request.body) + len(x.response.body))",
    "integrationLatency": rounded_number("x.integration_latency_ms"),
    "integration.latency": rounded_number("x.integration_latency_ms"),
    # The pipeline records no Lambda invoke status, so these are the integration's own status.
    "integrationStatus": whole_number("x.integration_status"),
    "integration.integrationStatus": whole_number("x.integration_status"),
    "integration.status": whole_number("x.integration_status"),
    "error.message": "x.error_message",
    "integrationErrorMessage": "x.integration_error",
    "integration.error": "x.integration_error",
    "awsEndpointRequestId": "x.integration_request_id",
    "integration.requestId": "x.integration_request_id",
}


ValuesRenderer = Callable[..., str]
"""(`VALUES_ARGUMENTS`) -> the line, without its newline."""

VALUES_ARGUMENTS = (
    "request_id, method, source_ip, raw_headers, time_epoch_ms, route_key, stage, api_id, account_id, raw_path, host, "
    "mapping_key, request_length, status, response_length, integration_status, integration_latency_ms, "
    "error_message, integration_error, integration_request_id, latency_ms"
)
"""What a values renderer is called with, in order: the request's id, method, client address, headers (as
httptools hands them over: name, value, ... in bytes), arrival time, the route key, the stage's name, its API and account ids, the request
path (with a named stage's prefix: the route context's `stage_raw_path`), the Host header without its port,
the API mapping key, the request body's length, the answer's status and body length, and the Exchange's
integration fields and response latency."""

# `_FROM_EXCHANGE`'s variables over the values a lane holds (a lane request always has a route).
_FROM_VALUES: dict[str, str] = {
    "requestId": "request_id",
    "extendedRequestId": "request_id",
    "httpMethod": "method",
    "identity.sourceIp": "source_ip",
    "identity.userAgent": "_user_agent(raw_headers)",
    "protocol": "'HTTP/1.1'",
    "requestTime": "_clf_time(time_epoch_ms)",
    "requestTimeEpoch": "str(time_epoch_ms)",
    "routeKey": "route_key",
    "stage": "stage",
    "apiId": "api_id",
    "accountId": "account_id",
    "path": "raw_path",
    "domainName": "host",
    "customDomain.basePathMatched": "mapping_key",
    "status": "str(status)",
    "responseLength": "str(response_length)",
    "responseLatency": rounded_number("latency_ms"),
    "dataProcessed": "str(request_length + response_length)",
    "integrationLatency": rounded_number("integration_latency_ms"),
    "integration.latency": rounded_number("integration_latency_ms"),
    "integrationStatus": whole_number("integration_status"),
    "integration.integrationStatus": whole_number("integration_status"),
    "integration.status": whole_number("integration_status"),
    "error.message": "error_message",
    "integrationErrorMessage": "integration_error",
    "integration.error": "integration_error",
    "awsEndpointRequestId": "integration_request_id",
    "integration.requestId": "integration_request_id",
}


def values_renderer(log_format: LogFormat) -> ValuesRenderer | None:
    """The renderer of a format from a lane's values (`VALUES_ARGUMENTS`), or None when it uses a variable
    only the general way knows; made once per deployment."""
    return render_function(
        log_format.parts, log_format.json, _FROM_VALUES, VALUES_ARGUMENTS, helpers={"_user_agent": _user_agent}
    )


def _user_agent(raw_headers: list[bytes]) -> str | None:
    """The `User-Agent` values joined with ",", as `IncomingRequest.header("user-agent")` gives them."""
    return joined_header(raw_header_names(raw_headers[::2]), raw_headers, b"user-agent")


def exchange_renderer(log_format: LogFormat) -> ExchangeRenderer | None:
    """The fast renderer of a format, or None when it uses a variable only the general way knows
    (authorizer and identity values, error types); made once per deployment."""
    return render_function(log_format.parts, log_format.json, _FROM_EXCHANGE, "x, latency_ms")


def context_for_log(exchange: Exchange, latency_ms: float) -> ContextVariables:
    """The request's `$context` view with everything known once it was answered (the general way)."""
    response = exchange.response
    route = exchange.route
    # Built whole rather than with dataclasses.replace, and what the authorizer learned is copied only
    # when there was an authorizer.
    facts = RequestFacts(
        status=response.status,
        response_length=len(response.body),
        response_latency_ms=latency_ms,
        integration_status=exchange.integration_status,
        integration_latency_ms=exchange.integration_latency_ms,
        integration_error=exchange.integration_error,
        integration_request_id=exchange.integration_request_id,
        error_message=exchange.error_message,
        base_path_matched=(route.mapping_key or "") if route is not None else "",
        data_processed=len(exchange.request.body) + len(response.body),
    )
    known = exchange.facts
    if known is not None:
        facts.authorizer = known.authorizer
        facts.authorizer_error = known.authorizer_error
        facts.error_response_type = known.error_response_type
        facts.identity = known.identity
    context = exchange.context or ContextVariables(exchange.request, route)
    context.facts = facts
    return context


def render_line(log_format: LogFormat, renderer: ExchangeRenderer | None, exchange: Exchange, latency_ms: float) -> str:
    """One line of a stage's access log, newline included."""
    if renderer is not None:
        return renderer(exchange, latency_ms) + "\n"
    return log_format.render(context_for_log(exchange, latency_ms)) + "\n"
