"""OtlpSink: endpoint parsing, the OTLP batch it builds, and a push to a real local receiver."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pytest
from tests.servers.otlp_receiver import otlp_receiver

from perflab.errors import UsageError
from perflab.export.metrics import BOUNDS_S, RunMetrics
from perflab.export.otlp import OtlpSink, metrics_data, parse_otlp_endpoint, require_otlp
from perflab.stats import LatencyHistogram


@pytest.mark.parametrize(
    ("url", "endpoint"),
    [
        ("http://127.0.0.1:4318", "http://127.0.0.1:4318/v1/metrics"),
        ("http://127.0.0.1:4318/", "http://127.0.0.1:4318/v1/metrics"),
        ("https://otel.example.com/v1/metrics", "https://otel.example.com/v1/metrics"),
        ("https://gw.example.com/otlp", "https://gw.example.com/otlp/v1/metrics"),
    ],
)
def test_parse_otlp_endpoint(url: str, endpoint: str) -> None:
    assert parse_otlp_endpoint(url) == endpoint


@pytest.mark.parametrize("url", ["127.0.0.1:4318", "grpc://h:4317", "http://", "http://h:99999"])
def test_parse_otlp_endpoint_rejects(url: str) -> None:
    with pytest.raises(UsageError, match="--otlp"):
        parse_otlp_endpoint(url)


def test_missing_exporter_is_a_one_line_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.http.metric_exporter", None)
    with pytest.raises(UsageError) as info:
        require_otlp()
    assert "perflab[otlp]" in info.value.one_line() and "\n" not in info.value.one_line()


def _row(name: str, values: list[int], **extra: Any) -> dict[str, Any]:
    hist = LatencyHistogram()
    hist.record_many(np.array(values))
    row: dict[str, Any] = {
        "name": name,
        "kind": "request",
        "requests": len(values),
        "errors_by_kind": {},
        "latency_hist": hist.to_bytes(),
        "service_hist": hist.to_bytes(),
    }
    row.update(extra)
    return row


def test_batch_has_cumulative_sums_and_exact_explicit_buckets() -> None:
    from opentelemetry.sdk.metrics.export import (
        AggregationTemporality,
        Gauge,
        Histogram,
        HistogramDataPoint,
        NumberDataPoint,
        Sum,
    )

    metrics = RunMetrics()
    metrics.begin({"id": "run-1", "name": "smoke"})
    metrics.add_interval([_row("GET /", [150, 900], errors_by_kind={"timeout": 1})], {})
    metrics.add_interval([_row("GET /", [4_000])], {"inflight": 2})
    data = metrics_data(metrics.snapshot(), now_ns=metrics.snapshot().start_time_ns + 10)
    (rm,) = data.resource_metrics
    assert rm.resource.attributes["perflab.run.id"] == "run-1"
    by_name = {m.name: m.data for m in rm.scope_metrics[0].metrics}
    requests, errors = by_name["perflab.requests"], by_name["perflab.errors"]
    assert isinstance(requests, Sum) and isinstance(errors, Sum) and requests.is_monotonic
    assert requests.aggregation_temporality is AggregationTemporality.CUMULATIVE
    (point,) = requests.data_points
    assert point.value == 3 and dict(point.attributes or {}) == {"name": "GET /", "kind": "request"}
    (err,) = errors.data_points
    assert err.value == 1 and (err.attributes or {})["error"] == "timeout"
    latency = by_name["perflab.request.duration"]
    assert isinstance(latency, Histogram)
    (hist,) = latency.data_points
    assert isinstance(hist, HistogramDataPoint)
    assert list(hist.explicit_bounds) == list(BOUNDS_S)
    assert hist.count == 3 and sum(hist.bucket_counts) == 3
    assert list(hist.bucket_counts)[:6] == [0, 1, 0, 1, 0, 1]
    assert hist.sum == pytest.approx(0.00505) and hist.max == pytest.approx(0.004)
    inflight = by_name["perflab.inflight"]
    assert isinstance(inflight, Gauge)
    (gauge,) = inflight.data_points
    assert isinstance(gauge, NumberDataPoint) and gauge.value == 2


def test_the_sink_pushes_every_second_and_the_totals_at_the_end() -> None:
    with otlp_receiver() as receiver:
        sink = OtlpSink(parse_otlp_endpoint(receiver.url), push_every_s=0.05)
        sink.begin({"id": "run-2", "name": "push"})
        for second in range(3):
            sink.interval(second, [_row("GET /", [100] * 10)], {"inflight": 1})
        sink.end({"status": "passed"})
        assert sink.pushed >= 1 and len(receiver.requests) == sink.pushed
        (point,) = receiver.points("perflab.requests")
        assert point.as_int == 30
        (hist,) = receiver.points("perflab.request.duration")
        assert hist.count == 30 and list(hist.explicit_bounds) == list(BOUNDS_S)
        assert receiver.resource()["perflab.run.name"] == "push"
        (active,) = receiver.points("perflab.run.active")
        assert active.as_int == 0


def test_an_unreachable_receiver_never_reaches_the_engine(
    caplog: pytest.LogCaptureFixture, refused_url: str
) -> None:
    sink = OtlpSink(parse_otlp_endpoint(refused_url), timeout_s=0.5)
    sink.begin({"id": "run-3", "name": "down"})
    sink.interval(0, [_row("GET /", [100])], {})
    sink.end({"status": "passed"})  # logs, does not raise
    assert sink.pushed == 0
    assert any("otlp export: end failed" in r.getMessage() for r in caplog.records)
