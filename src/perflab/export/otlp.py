"""OTLP/HTTP metrics export for a running load test (``perflab run ... --otlp URL``).

:class:`OtlpSink` pushes the same cumulative totals as the Prometheus endpoint to an
OpenTelemetry collector (or anything that accepts OTLP/HTTP protobuf at ``/v1/metrics``):
once a second from its own thread while seconds arrive, and once more, synchronously, when
the run ends, so the receiver's last point holds the run's totals.

It builds the SDK's ``MetricsData`` directly and hands it to ``OTLPMetricExporter`` instead
of going through a ``MeterProvider``: our totals are already aggregated (and the histograms
already bucketed), while SDK instruments would need every latency recorded again, one Python
call per request. Points are cumulative from the run's start; the histograms use explicit
bounds :data:`~perflab.export.metrics.BOUNDS_S`, exact as explained there.

Metrics, with attributes ``name`` and ``kind`` (plus ``error`` on errors), resource
attributes ``service.name=perflab``, ``perflab.run.id``, ``perflab.run.name``:
``perflab.requests``, ``perflab.errors``, ``perflab.dropped``, ``perflab.received_bytes``
(monotonic sums); ``perflab.request.duration``, ``perflab.service.duration`` (histograms, s);
``perflab.inflight``, ``perflab.connections``, ``perflab.generator.cpu_percent``,
``perflab.sched_lag`` (s, p99 of the last second), ``perflab.vus``, ``perflab.run.active``
(gauges). A collector's Prometheus exporter turns them into the endpoint's names.

The exporter is an optional dependency: ``pip install 'perflab[otlp]'``. Authentication
headers, if the receiver needs them, come from ``OTEL_EXPORTER_OTLP_HEADERS`` as usual for
OpenTelemetry; they are never part of a metric.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from perflab.errors import UsageError
from perflab.export.metrics import BOUNDS_S, FailOnce, HistogramTotals, MetricsSnapshot, RunMetrics
from perflab.model.redact import redact_url

if TYPE_CHECKING:
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics.export import Metric, MetricsData

__all__ = ["OtlpSink", "metrics_data", "parse_otlp_endpoint", "require_otlp"]

INSTALL_HINT = "pip install 'perflab[otlp]'"
PUSH_EVERY_S = 1.0
TIMEOUT_S = 5.0
_EXPORTER = "opentelemetry.exporter.otlp.proto.http.metric_exporter"
_EXPORTER_LOGS = "opentelemetry.exporter.otlp.proto.http"  # logs every retry of every push


def require_otlp() -> None:
    """Fail with a one-line usage error when the OTLP exporter is not installed."""
    try:
        for module in ("opentelemetry.sdk.metrics.export", _EXPORTER):
            importlib.import_module(module)
    except ImportError as exc:
        raise UsageError(
            "--otlp needs the OpenTelemetry SDK and OTLP/HTTP exporter", hint=INSTALL_HINT
        ) from exc


def parse_otlp_endpoint(url: str) -> str:
    """The full metrics endpoint for ``--otlp``: a base URL gets ``/v1/metrics`` appended.

    Raises:
        UsageError: not an http(s) URL with a host.
    """
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018  # raises ValueError on a bad port
    except ValueError as exc:
        raise UsageError(f"--otlp {url!r}: {exc}") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"--otlp {url!r}: expected an http(s) URL such as http://127.0.0.1:4318 "
            "(OTLP over HTTP; gRPC is not supported)"
        )
    path = parts.path.rstrip("/")
    if not path.endswith("/v1/metrics"):
        path += "/v1/metrics"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


class OtlpSink:
    """Pushes the run's metrics over OTLP/HTTP; see the module docstring."""

    def __init__(
        self, endpoint: str, *, push_every_s: float = PUSH_EVERY_S, timeout_s: float = TIMEOUT_S
    ) -> None:
        """Set up the exporter (no connection yet); ``endpoint`` is the full ``/v1/metrics`` URL.

        Raises:
            UsageError: the exporter is not installed.
        """
        require_otlp()
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        self.endpoint = endpoint
        self.metrics = RunMetrics()
        self.push_every_s = push_every_s
        self.timeout_s = timeout_s
        self._exporter: OTLPMetricExporter = OTLPMetricExporter(
            endpoint=endpoint, timeout=timeout_s
        )
        self._fail = FailOnce("otlp")
        self._library_log = logging.getLogger(_EXPORTER_LOGS)
        self._library_level = self._library_log.level
        self._library_log.setLevel(logging.CRITICAL)  # our FailOnce says it once instead
        self._fresh = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.pushed = 0  # successful exports, for tests and diagnostics

    def begin(self, doc: dict[str, Any]) -> None:
        with self._fail.guard("begin"):
            self.metrics.begin(doc)
            self._thread = threading.Thread(target=self._loop, name="perflab-otlp", daemon=True)
            self._thread.start()

    def interval(self, second: int, rows: list[dict[str, Any]], generator: dict[str, Any]) -> None:
        with self._fail.guard(f"second {second}"):
            self.metrics.add_interval(rows, generator)
            self._fresh.set()

    def update(self, doc: dict[str, Any]) -> None:
        pass  # the totals come from the intervals

    def end(self, doc: dict[str, Any]) -> None:
        """Stop the periodic push, then push the final totals (waits up to a few seconds)."""
        with self._fail.guard("end"):
            self.metrics.finish()
            self._stop_thread()
            self._push()
        self.close()

    def close(self) -> None:
        """Stop pushing and release the exporter; safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        self._stop_thread()
        self._exporter.shutdown()
        self._library_log.setLevel(self._library_level)

    def _stop_thread(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout_s * 2)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self.push_every_s):
            if self._fresh.is_set():
                self._fresh.clear()
                with self._fail.guard("push"):
                    self._push()

    def _push(self) -> None:
        from opentelemetry.sdk.metrics.export import MetricExportResult

        data = metrics_data(self.metrics.snapshot())
        result = self._exporter.export(data, timeout_millis=self.timeout_s * 1000)
        if result is not MetricExportResult.SUCCESS:
            where = redact_url(self.endpoint)
            raise ConnectionError(f"the receiver at {where} did not accept the metrics")
        self.pushed += 1


def metrics_data(snap: MetricsSnapshot, now_ns: int | None = None) -> MetricsData:
    """One OTLP batch of every metric in ``snap``: cumulative since the run's start."""
    from opentelemetry.sdk.metrics.export import MetricsData, ResourceMetrics, ScopeMetrics
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope

    from perflab import __version__

    now = time.time_ns() if now_ns is None else now_ns
    resource = Resource.create(
        {
            "service.name": "perflab",
            "perflab.run.id": snap.run_id,
            "perflab.run.name": snap.run_name,
        }
    )
    scope = ScopeMetrics(
        scope=InstrumentationScope("perflab", __version__),
        metrics=[*_sums(snap, now), *_histograms(snap, now), *_gauges(snap, now)],
        schema_url="",
    )
    return MetricsData([ResourceMetrics(resource=resource, scope_metrics=[scope], schema_url="")])


def _sums(snap: MetricsSnapshot, now: int) -> list[Metric]:
    from opentelemetry.sdk.metrics.export import (
        AggregationTemporality,
        Metric,
        NumberDataPoint,
        Sum,
    )

    def total(metric: str, description: str, unit: str, points: list[NumberDataPoint]) -> Metric:
        data = Sum(points, AggregationTemporality.CUMULATIVE, is_monotonic=True)
        return Metric(metric, description, unit, data)

    def point(attributes: dict[str, str], value: int) -> NumberDataPoint:
        return NumberDataPoint(attributes, snap.start_time_ns, now, value)

    series = sorted(snap.series.items())
    simple = {
        "perflab.requests": (
            "Requests sent (transactions, for group kinds).",
            "{request}",
            "requests",
        ),
        "perflab.dropped": (
            "Arrivals dropped: over --max-inflight or too late.",
            "{request}",
            "dropped",
        ),
        "perflab.received_bytes": ("Response bytes received.", "By", "bytes_in"),
    }
    out = [
        total(
            metric,
            description,
            unit,
            [point({"name": name, "kind": kind}, getattr(t, field)) for (name, kind), t in series],
        )
        for metric, (description, unit, field) in simple.items()
    ]
    errors = [
        point({"name": name, "kind": kind, "error": error}, n)
        for (name, kind), t in series
        for error, n in sorted(t.errors_by_kind.items())
    ]
    out.append(total("perflab.errors", "Failed requests by kind of error.", "{request}", errors))
    return out


def _histograms(snap: MetricsSnapshot, now: int) -> list[Metric]:
    from opentelemetry.sdk.metrics.export import (
        AggregationTemporality,
        Histogram,
        HistogramDataPoint,
        Metric,
    )

    def point(name: str, kind: str, hist: HistogramTotals) -> HistogramDataPoint:
        return HistogramDataPoint(
            attributes={"name": name, "kind": kind},
            start_time_unix_nano=snap.start_time_ns,
            time_unix_nano=now,
            count=hist.count,
            sum=hist.sum_us / 1e6,
            bucket_counts=[int(c) for c in hist.counts],
            explicit_bounds=list(BOUNDS_S),
            min=hist.min_us / 1e6,
            max=hist.max_us / 1e6,
        )

    series = sorted(snap.series.items())
    latency = [point(name, kind, t.latency) for (name, kind), t in series]
    service = [point(name, kind, t.service) for (name, kind), t in series]
    cumulative = AggregationTemporality.CUMULATIVE
    return [
        Metric(
            "perflab.request.duration",
            "Latency from each request's intended start (coordinated-omission corrected).",
            "s",
            Histogram(latency, cumulative),
        ),
        Metric(
            "perflab.service.duration",
            "Service time: from the actual send to the end of the response.",
            "s",
            Histogram(service, cumulative),
        ),
    ]


def _gauges(snap: MetricsSnapshot, now: int) -> list[Metric]:
    from opentelemetry.sdk.metrics.export import Gauge, Metric, NumberDataPoint

    g = snap.gauges
    values: dict[str, tuple[str, str, float]] = {
        "perflab.inflight": (
            "Requests in flight at the end of the last second.",
            "{request}",
            g.inflight,
        ),
        "perflab.connections": (
            "Open connections at the end of the last second.",
            "{connection}",
            g.connections,
        ),
        "perflab.generator.cpu_percent": (
            "CPU of the busiest worker in the last second.",
            "%",
            g.cpu_percent,
        ),
        "perflab.sched_lag": (
            "p99 of how late iterations started in the last second.",
            "s",
            g.sched_lag_p99_s,
        ),
        "perflab.run.active": ("1 while the run is going.", "1", 1 if snap.active else 0),
    }
    if g.vus is not None:
        values["perflab.vus"] = ("Virtual users running (closed model).", "{user}", g.vus)
    return [
        Metric(
            metric, description, unit, Gauge([NumberDataPoint({}, snap.start_time_ns, now, value)])
        )
        for metric, (description, unit, value) in values.items()
    ]
