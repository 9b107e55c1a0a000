"""A Prometheus endpoint for a running load test (``perflab run ... --prometheus :9464``).

:class:`PrometheusSink` is a :class:`~perflab.load.sink.RunSink`: it adds each second's rows
to :class:`~perflab.export.metrics.RunMetrics` and serves them from its own
``CollectorRegistry`` (never prometheus_client's global one) on a thread it shuts down at the
end of the run, or ``linger_s`` later so that a last scrape sees the final totals.

Metrics (``name`` is the request name, ``kind`` is ``request`` or a scenario group kind such as
``transaction``; sum over ``kind="request"`` to count HTTP requests once):

- ``perflab_requests_total{name,kind}``, ``perflab_errors_total{name,kind,error}``,
  ``perflab_dropped_total{name,kind}``, ``perflab_received_bytes_total{name,kind}``
- ``perflab_request_duration_seconds{name,kind}``: latency from the intended start
  (coordinated-omission corrected); ``perflab_service_duration_seconds{name,kind}``: from
  the actual send. Both histograms with the buckets of :data:`~perflab.export.metrics.BOUNDS_S`;
  requests that got no response (refused, timed out) are counted in errors only.
- gauges of the generator's last second: ``perflab_inflight``, ``perflab_connections``,
  ``perflab_generator_cpu_percent`` (busiest worker), ``perflab_sched_lag_seconds`` (p99 of
  how late iterations started), ``perflab_vus`` (closed-model runs: virtual users
  running; absent for open-model runs, which have no fixed user count)
- ``perflab_run_info{run_id,name} 1`` and ``perflab_run_active`` (1 until the last second is in)

Why classic ``le`` buckets: Prometheus' native (sparse, exponential) histograms are scraped
through the protobuf exposition format, which prometheus_client does not serve (it writes
them only in the experimental OpenMetrics 2.0 text), and their bucket edges would cut through
ours, so the counts would no longer be exact. Classic buckets work with every Prometheus,
Grafana Agent and VictoriaMetrics, add up across generators, and with our boundaries on our
bucket edges they are exact. No label ever holds a URL's credentials or a header.
"""

from __future__ import annotations

import errno
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from perflab.errors import UsageError
from perflab.export.metrics import (
    BOUNDS_S,
    FailOnce,
    HistogramTotals,
    MetricsSnapshot,
    RunMetrics,
    SeriesTotals,
)
from perflab.model import listen

__all__ = ["PrometheusSink", "RunCollector", "parse_listen"]

DEFAULT_HOST = listen.LOOPBACK
_LE = [*(repr(b) for b in BOUNDS_S), "+Inf"]
_SERIES = ["name", "kind"]


def parse_listen(value: str) -> tuple[str, int]:
    """``--prometheus [HOST]:PORT``; see :func:`perflab.model.listen.parse_listen`."""
    return listen.parse_listen(value, flag="--prometheus", example_port=9464)


class RunCollector(Collector):
    """Turns a :class:`RunMetrics` snapshot into metric families at each scrape."""

    def __init__(self, metrics: RunMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterable[Metric]:
        return families(self.metrics.snapshot())


def families(snap: MetricsSnapshot) -> Iterator[Metric]:
    """Every family for one snapshot, series in a stable order."""
    info = GaugeMetricFamily(
        "perflab_run_info", "The run being measured (always 1).", labels=["run_id", "name"]
    )
    if snap.run_id:  # known once the run has begun
        info.add_metric([snap.run_id, snap.run_name], 1)
    yield info
    yield GaugeMetricFamily(
        "perflab_run_active",
        "1 while the run is going; 0 once its last second is counted.",
        value=1 if snap.active else 0,
    )
    series = sorted(snap.series.items())
    yield from _counters(series)
    yield _histogram(
        "perflab_request_duration_seconds",
        "Latency from each request's intended start (coordinated-omission corrected).",
        [(key, totals.latency) for key, totals in series],
    )
    yield _histogram(
        "perflab_service_duration_seconds",
        "Service time: from the actual send to the end of the response.",
        [(key, totals.service) for key, totals in series],
    )
    yield from _gauges(snap)


def _counters(series: list[tuple[tuple[str, str], SeriesTotals]]) -> Iterator[Metric]:
    simple = {
        "perflab_requests": ("Requests sent (transactions, for group kinds).", "requests"),
        "perflab_dropped": ("Arrivals dropped: over --max-inflight or too late.", "dropped"),
        "perflab_received_bytes": ("Response bytes received.", "bytes_in"),
    }
    for metric, (help_text, attr) in simple.items():
        family = CounterMetricFamily(metric, help_text, labels=_SERIES)
        for key, totals in series:
            family.add_metric(list(key), getattr(totals, attr))
        yield family
    errors = CounterMetricFamily(
        "perflab_errors", "Failed requests by kind of error.", labels=[*_SERIES, "error"]
    )
    for key, totals in series:
        for error, n in sorted(totals.errors_by_kind.items()):
            errors.add_metric([*key, error], n)
    yield errors


def _histogram(
    metric: str, help_text: str, series: list[tuple[tuple[str, str], HistogramTotals]]
) -> Metric:
    family = HistogramMetricFamily(metric, help_text, labels=_SERIES, unit="seconds")
    for key, hist in series:
        buckets = list(zip(_LE, hist.cumulative(), strict=True))
        family.add_metric(list(key), buckets, sum_value=hist.sum_us / 1e6)
    return family


def _gauges(snap: MetricsSnapshot) -> Iterator[Metric]:
    g = snap.gauges
    values: dict[str, tuple[str, float]] = {
        "perflab_inflight": ("Requests in flight at the end of the last second.", g.inflight),
        "perflab_connections": ("Open connections at the end of the last second.", g.connections),
        "perflab_generator_cpu_percent": (
            "CPU of the busiest worker in the last second, % of a core (spinning excluded).",
            g.cpu_percent,
        ),
        "perflab_sched_lag_seconds": (
            "p99 of how late iterations started in the last second (generator health).",
            g.sched_lag_p99_s,
        ),
    }
    if g.vus is not None:
        values["perflab_vus"] = ("Virtual users running (closed model).", g.vus)
    for metric, (help_text, value) in values.items():
        yield GaugeMetricFamily(metric, help_text, value=value)


class PrometheusSink:
    """Serves a run's metrics over HTTP while it runs; see the module docstring."""

    def __init__(
        self, server: WSGIServer, thread: threading.Thread, metrics: RunMetrics, *, linger_s: float
    ) -> None:
        self._server = server
        self._thread = thread
        self.metrics = metrics
        self.linger_s = linger_s
        self._fail = FailOnce("prometheus")
        self._closed = False

    @classmethod
    def serve(cls, host: str, port: int, *, linger_s: float = 0.0) -> PrometheusSink:
        """Start listening now, so a taken port is a usage error before the run starts.

        Raises:
            UsageError: the port is in use, or the host cannot be listened on.
        """
        metrics = RunMetrics()
        registry = CollectorRegistry(auto_describe=False)
        registry.register(RunCollector(metrics))
        try:
            server, thread = start_http_server(port, addr=host, registry=registry)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise UsageError(
                    f"--prometheus: port {port} is already in use on {host}",
                    hint="pick another port, or :0 for any free one",
                ) from exc
            reason = exc.strerror or str(exc)
            raise UsageError(f"--prometheus: cannot listen on {host}:{port}: {reason}") from exc
        return cls(server, thread, metrics, linger_s=linger_s)

    @property
    def port(self) -> int:
        """The bound port (the chosen one when port 0 was asked for)."""
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        host = str(self._server.server_address[0])
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.port}/metrics"

    def begin(self, doc: dict[str, Any]) -> None:
        with self._fail.guard("begin"):
            self.metrics.begin(doc)

    def interval(self, second: int, rows: list[dict[str, Any]], generator: dict[str, Any]) -> None:
        with self._fail.guard(f"second {second}"):
            self.metrics.add_interval(rows, generator)

    def update(self, doc: Mapping[str, Any]) -> None:
        pass  # the totals come from the intervals; the document adds nothing to export

    def end(self, doc: dict[str, Any]) -> None:
        """Mark the run finished, keep serving ``linger_s`` unless it was interrupted, stop.

        The linger happens after the run directory is complete; Ctrl-C cuts it short.
        """
        with self._fail.guard("end"):
            self.metrics.finish()
            if self.linger_s > 0 and not self._closed and doc.get("status") != "interrupted":
                try:
                    time.sleep(self.linger_s)
                except KeyboardInterrupt:
                    pass  # the run is over and saved: stop waiting, not an interrupt
        self.close()

    def close(self) -> None:
        """Stop serving and free the port; safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5.0)
