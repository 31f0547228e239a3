"""AWS's HTTP API metrics (Count, 4xx, 5xx, Latency, IntegrationLatency, DataProcessed) for Prometheus.

CloudWatch publishes them per API and stage, and per route when the stage turns on detailed metrics; here they
are Prometheus series with the same dimensions as labels (`route` is "" unless detailed metrics are on).
Served at `/metrics` on the admin listener.

Counting is plain integer arithmetic on one object per series; the standard Prometheus client turns those
numbers into metric families when `/metrics` is scraped (a custom collector, the client's documented way
for a proxy to export numbers it keeps itself). Why not the client's `Counter` and `Histogram` on the hot
path: each `inc()`/`observe()` takes a lock and walks the client's checks, six of them per request, which
measured ≈ 5% of a proxied request's CPU; here a request costs a dict lookup and a few additions.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from stageway.gateway.exchange import Exchange

_LABELS = ["api_id", "stage", "route"]
_LATENCY_BUCKETS_MS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000)


class _Histogram:
    """Observations by bucket (not cumulative: one addition per observation; the scrape sums them). The
    bucket of a value is `bisect_left(_LATENCY_BUCKETS_MS, value)`: a value equal to a bound belongs to
    that bound's bucket (Prometheus's `le`)."""

    __slots__ = ("by_bucket", "total")

    def __init__(self) -> None:
        # One slot per upper bound, and a last one for +Inf.
        self.by_bucket = [0] * (len(_LATENCY_BUCKETS_MS) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.by_bucket[bisect_left(_LATENCY_BUCKETS_MS, value)] += 1
        self.total += value

    def cumulative(self) -> list[tuple[str, float]]:
        buckets: list[tuple[str, float]] = []
        running = 0
        for bound, count in zip((*map(str, _LATENCY_BUCKETS_MS), "+Inf"), self.by_bucket, strict=True):
            running += count
            buckets.append((bound, running))
        return buckets


class _Series:
    """Every metric of one (api_id, stage, route)."""

    __slots__ = ("client_errors", "data_processed", "integration_latency", "latency", "server_errors")

    def __init__(self) -> None:
        # No request count of its own: every request is one latency observation (`count`).
        self.client_errors = 0
        self.server_errors = 0
        self.data_processed = 0
        self.latency = _Histogram()
        self.integration_latency = _Histogram()

    @property
    def count(self) -> int:
        """Requests served."""
        return sum(self.latency.by_bucket)


class GatewayMetrics(Collector):
    """One per node. `observe` runs on the event loop for every answered request; `collect` runs at scrape
    time (reading numbers another thread may be adding to is safe under the GIL: a scrape sees each value
    as of some moment, as with any live counter)."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self._series: dict[tuple[str, str, str], _Series] = {}
        self.lane_requests = 0
        """Requests the listener's proxy lane answered (`server/proxy_lane.py`), counted by the lane: how much of
        the traffic takes the fast way."""
        self.lambda_lane_requests = 0
        """Requests the listener's Lambda lane answered (`server/lambda_lane.py`)."""
        self.events_sent_ahead: Callable[[], int] | None = None
        """Reads the local runtime's count of events sent ahead (`functions/worker.py`), when there is one."""
        self.registry = CollectorRegistry()
        self.registry.register(self)

    def observe(self, exchange: Exchange, latency_ms: float, *, detailed: bool) -> None:
        route = exchange.route
        if route is None:
            return  # like CloudWatch, only requests that reached a stage are counted
        response = exchange.response
        self.observe_values(
            (route.api_id, route.stage, route.route_key if detailed else ""),
            response.status,
            latency_ms,
            exchange.integration_latency_ms,
            len(exchange.request.body) + len(response.body),
        )

    def observe_values(
        self,
        key: tuple[str, str, str],
        status: int,
        latency_ms: float,
        integration_latency_ms: float | None,
        data_bytes: int,
    ) -> None:
        """`observe` for a caller without an Exchange (the proxy lane); `key` is (api id, stage, route key or
        "" without detailed metrics)."""
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = _Series()
        if status >= 400:
            if status < 500:
                series.client_errors += 1
            else:
                series.server_errors += 1
        series.latency.observe(latency_ms)
        if integration_latency_ms is not None:
            series.integration_latency.observe(integration_latency_ms)
        series.data_processed += data_bytes

    def collect(self) -> Iterator[Metric]:
        count = CounterMetricFamily("stageway_requests", "Count: requests served", labels=_LABELS)
        client_errors = CounterMetricFamily("stageway_4xx", "4xx: client errors", labels=_LABELS)
        server_errors = CounterMetricFamily("stageway_5xx", "5xx: server errors", labels=_LABELS)
        latency = HistogramMetricFamily(
            "stageway_latency_milliseconds", "Latency: from receiving the request to answering it", labels=_LABELS
        )
        integration_latency = HistogramMetricFamily(
            "stageway_integration_latency_milliseconds",
            "IntegrationLatency: from calling the integration to its answer",
            labels=_LABELS,
        )
        data_processed = CounterMetricFamily(
            "stageway_data_processed_bytes", "DataProcessed: request and response bytes", labels=_LABELS
        )
        for key, series in list(self._series.items()):
            labels = list(key)
            count.add_metric(labels, series.count)
            client_errors.add_metric(labels, series.client_errors)
            server_errors.add_metric(labels, series.server_errors)
            latency.add_metric(labels, series.latency.cumulative(), series.latency.total)
            integration_latency.add_metric(
                labels, series.integration_latency.cumulative(), series.integration_latency.total
            )
            data_processed.add_metric(labels, series.data_processed)
        lane = CounterMetricFamily(
            "stageway_proxy_lane_requests",
            "Requests answered on the proxy lane: plain HTTP proxy routes served on bytes (no labels)",
            value=self.lane_requests,
        )
        lambda_lane = CounterMetricFamily(
            "stageway_lambda_lane_requests",
            "Requests answered on the Lambda lane: plain Lambda proxy routes of local functions served from callbacks "
            "(no labels)",
            value=self.lambda_lane_requests,
        )
        yield from (count, client_errors, server_errors, latency, integration_latency, data_processed, lane, lambda_lane)
        if self.events_sent_ahead is not None:
            yield CounterMetricFamily(
                "stageway_function_events_sent_ahead",
                "Queued invocations whose event was sent to a busy worker of a local function before it asked "
                "(serve --events-ahead; no labels)",
                value=self.events_sent_ahead(),
            )

    def render(self) -> bytes:
        return generate_latest(self.registry)
