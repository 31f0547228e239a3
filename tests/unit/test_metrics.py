"""The Prometheus exposition of AWS's HTTP API metrics, from the numbers `GatewayMetrics.observe` keeps."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from stageway.core.http import GatewayResponse, IncomingRequest, RouteContext
from stageway.gateway.exchange import Exchange
from stageway.server.metrics import GatewayMetrics


def _exchange(status: int, body: bytes, route_key: str = "GET /pets", integration_ms: float | None = 3.0) -> Exchange:
    request = IncomingRequest("GET", "/pets", "", [], b"ab", "1.2.3.4", "rid", 0, "h")
    route = RouteContext("api1", "123456789012", "us-east-1", "prod", route_key, {}, {}, "/prod/pets", "/pets")
    exchange = Exchange(request, GatewayResponse(status, [], body), route)
    exchange.integration_latency_ms = integration_ms
    return exchange


def _samples(metrics: GatewayMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(metrics.render().decode())
        for sample in family.samples
    }


def test_counts_errors_and_bytes_by_api_and_stage() -> None:
    metrics = GatewayMetrics()
    for status in (200, 201, 404, 429, 500, 503):
        metrics.observe(_exchange(status, b"xyz"), 1.5, detailed=False)
    samples = _samples(metrics)
    labels = (("api_id", "api1"), ("route", ""), ("stage", "prod"))
    assert samples[("stageway_requests_total", labels)] == 6
    assert samples[("stageway_4xx_total", labels)] == 2
    assert samples[("stageway_5xx_total", labels)] == 2
    assert samples[("stageway_data_processed_bytes_total", labels)] == 6 * (2 + 3)


def test_latency_buckets_are_cumulative_and_a_bound_belongs_to_its_bucket() -> None:
    metrics = GatewayMetrics()
    for latency in (0.5, 1.0, 7.0, 40_000.0):
        metrics.observe(_exchange(200, b""), latency, detailed=False)
    samples = _samples(metrics)
    base = (("api_id", "api1"), ("route", ""), ("stage", "prod"))

    def bucket(le: str) -> float:
        return samples[("stageway_latency_milliseconds_bucket", tuple(sorted((*base, ("le", le)))))]

    assert (bucket("1"), bucket("5"), bucket("10"), bucket("30000"), bucket("+Inf")) == (2, 2, 3, 3, 4)
    assert samples[("stageway_latency_milliseconds_count", base)] == 4
    assert samples[("stageway_latency_milliseconds_sum", base)] == 40_008.5
    assert samples[("stageway_integration_latency_milliseconds_count", base)] == 4


def test_routes_are_labels_only_with_detailed_metrics_and_no_route_counts_nothing() -> None:
    metrics = GatewayMetrics()
    metrics.observe(_exchange(200, b"", "GET /pets"), 1, detailed=True)
    metrics.observe(_exchange(200, b"", "GET /toys"), 1, detailed=True)
    metrics.observe(_exchange(200, b"", "GET /toys", integration_ms=None), 1, detailed=False)
    unrouted = _exchange(404, b"")
    unrouted.route = None
    metrics.observe(unrouted, 1, detailed=False)
    samples = _samples(metrics)
    assert samples[("stageway_requests_total", (("api_id", "api1"), ("route", "GET /pets"), ("stage", "prod")))] == 1
    assert samples[("stageway_requests_total", (("api_id", "api1"), ("route", ""), ("stage", "prod")))] == 1
    # The request without an integration call adds nothing to IntegrationLatency.
    assert samples[("stageway_integration_latency_milliseconds_count",
                    (("api_id", "api1"), ("route", ""), ("stage", "prod")))] == 0
    assert sum(value for (name, _), value in samples.items() if name == "stageway_requests_total") == 3
