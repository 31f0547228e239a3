"""AWS's HTTP API metrics (Count, 4xx, 5xx, Latency, IntegrationLatency, DataProcessed) for Prometheus.

CloudWatch publishes them per API and stage, and per route when the stage turns on detailed metrics; here they
are Prometheus series with the same dimensions as labels (`route` is "" unless detailed metrics are on).
Served at `/metrics` on the admin listener.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from stageway.gateway.pipeline import Exchange

_LABELS = ("api_id", "stage", "route")
_LATENCY_BUCKETS_MS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000)


class GatewayMetrics:
    """One registry per node; label children are cached so a request costs a few dict lookups."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.count = Counter("stageway_requests", "Count: requests served", _LABELS, registry=self.registry)
        self.client_errors = Counter("stageway_4xx", "4xx: client errors", _LABELS, registry=self.registry)
        self.server_errors = Counter("stageway_5xx", "5xx: server errors", _LABELS, registry=self.registry)
        self.latency = Histogram(
            "stageway_latency_milliseconds",
            "Latency: from receiving the request to answering it",
            _LABELS,
            buckets=_LATENCY_BUCKETS_MS,
            registry=self.registry,
        )
        self.integration_latency = Histogram(
            "stageway_integration_latency_milliseconds",
            "IntegrationLatency: from calling the integration to its answer",
            _LABELS,
            buckets=_LATENCY_BUCKETS_MS,
            registry=self.registry,
        )
        self.data_processed = Counter(
            "stageway_data_processed_bytes", "DataProcessed: request and response bytes", _LABELS, registry=self.registry
        )
        self._children: dict[tuple[str, str, str], tuple[object, ...]] = {}

    def observe(self, exchange: Exchange, latency_ms: float, *, detailed: bool) -> None:
        route = exchange.route
        if route is None:
            return  # like CloudWatch, only requests that reached a stage are counted
        key = (route.api_id, route.stage, route.route_key if detailed else "")
        children = self._children.get(key)
        if children is None:
            children = tuple(
                metric.labels(*key)
                for metric in (
                    self.count,
                    self.client_errors,
                    self.server_errors,
                    self.latency,
                    self.integration_latency,
                    self.data_processed,
                )
            )
            self._children[key] = children
        count, client_errors, server_errors, latency, integration_latency, data_processed = children
        count.inc()  # type: ignore[attr-defined]
        status = exchange.response.status
        if 400 <= status < 500:
            client_errors.inc()  # type: ignore[attr-defined]
        elif status >= 500:
            server_errors.inc()  # type: ignore[attr-defined]
        latency.observe(latency_ms)  # type: ignore[attr-defined]
        if exchange.integration_latency_ms is not None:
            integration_latency.observe(exchange.integration_latency_ms)  # type: ignore[attr-defined]
        data_processed.inc(len(exchange.request.body) + len(exchange.response.body))  # type: ignore[attr-defined]

    def render(self) -> bytes:
        return generate_latest(self.registry)
