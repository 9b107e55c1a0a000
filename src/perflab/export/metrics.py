"""A run's metrics as exporters see them: cumulative counters and fixed-bucket histograms.

The engine hands a sink one row per request name each second (see
:class:`perflab.load.sink.RunSink`); :class:`RunMetrics` adds them up per ``(name, kind)``
into totals that only grow, which is what Prometheus counters and OTLP cumulative sums want.

Buckets. Prometheus and OTLP histograms have fixed boundaries and count the values ``<= le``.
:data:`BOUNDS_US` is a 1-2.5-5 series from 100 µs to 60 s (three per decade, 18 in all), each
moved to the upper edge of the :class:`~perflab.stats.LatencyHistogram` bucket holding the
round value (at most 0.1 % above it: 5 ms becomes 5.003 ms). Every one of our buckets then
lies wholly below or wholly above each boundary, so the exported counts are exact, not
interpolated, and adding the buckets of several generators gives the buckets of the whole.

Threads: sinks feed :class:`RunMetrics` on the coordinator's thread; exporters read
:meth:`RunMetrics.snapshot` on their own (an HTTP scrape, an OTLP push). One lock guards the
totals, and a snapshot is a copy that later seconds cannot change.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from perflab.model.redact import redact_url
from perflab.stats import LatencyHistogram
from perflab.stats.hdr_codec import bucket_bounds, index_of

__all__ = [
    "BOUNDS_S",
    "BOUNDS_US",
    "FailOnce",
    "GeneratorGauges",
    "HistogramTotals",
    "MetricsSnapshot",
    "RunMetrics",
    "SeriesTotals",
    "safe_label",
]

log = logging.getLogger("perflab.export")

# 1-2.5-5 per decade from 100 µs to 25 s, then 60 s (a timeout-sized top); 18 boundaries
_ROUND_BOUNDS_US = (
    *(100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000),
    *(100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000),
    *(10_000_000, 25_000_000, 60_000_000),
)


def _upper_edge(value_us: int) -> int:
    """The highest value of the histogram bucket that holds ``value_us``."""
    _, high = bucket_bounds(np.array([index_of(value_us)], dtype=np.int64))
    return int(high[0])


BOUNDS_US: tuple[int, ...] = tuple(_upper_edge(v) for v in _ROUND_BOUNDS_US)
"""Histogram boundaries (``le``) in µs: 100, 250, 500, 1000, 2501, 5003, ... 60030975."""
BOUNDS_S: tuple[float, ...] = tuple(v / 1e6 for v in BOUNDS_US)
"""The same boundaries in seconds, as exported."""
_BOUNDS = np.array(BOUNDS_US, dtype=np.int64)


@dataclass(slots=True)
class HistogramTotals:
    """Counts per boundary slot (not cumulative; the last slot is above every boundary)."""

    counts: npt.NDArray[np.int64] = field(
        default_factory=lambda: np.zeros(len(BOUNDS_US) + 1, dtype=np.int64)
    )
    sum_us: int = 0
    count: int = 0
    min_us: int = 0
    max_us: int = 0

    def add(self, hist: LatencyHistogram) -> None:
        """Add every value of ``hist``: exact, since no bucket of it straddles a boundary."""
        if hist.count == 0:
            return
        values, counts = hist.iter_values()
        np.add.at(self.counts, np.searchsorted(_BOUNDS, values, side="left"), counts)
        self.min_us = hist.min if self.count == 0 else min(self.min_us, hist.min)
        self.max_us = max(self.max_us, hist.max)
        self.sum_us += hist.sum
        self.count += hist.count

    def cumulative(self) -> list[int]:
        """Values ``<= le`` for each boundary, then the total (the ``+Inf`` bucket)."""
        return [int(c) for c in np.cumsum(self.counts)]

    def copy(self) -> HistogramTotals:
        return replace(self, counts=self.counts.copy())


@dataclass(slots=True)
class SeriesTotals:
    """Everything counted for one (request name, kind) since the run began."""

    requests: int = 0
    ok: int = 0
    errors: int = 0
    dropped: int = 0
    bytes_in: int = 0
    errors_by_kind: dict[str, int] = field(default_factory=dict)
    latency: HistogramTotals = field(default_factory=HistogramTotals)
    service: HistogramTotals = field(default_factory=HistogramTotals)

    def copy(self) -> SeriesTotals:
        return replace(
            self,
            errors_by_kind=dict(self.errors_by_kind),
            latency=self.latency.copy(),
            service=self.service.copy(),
        )


@dataclass(frozen=True, slots=True)
class GeneratorGauges:
    """The generator's last second. ``vus`` is None when the row does not carry it."""

    inflight: int = 0
    connections: int = 0
    cpu_percent: float = 0.0
    sched_lag_p99_s: float = 0.0
    vus: int | None = None


SeriesKey = tuple[str, str]  # (request name, kind), label-safe


@dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    """A consistent copy of the totals, for one scrape or one push."""

    run_id: str
    run_name: str
    active: bool
    start_time_ns: int
    series: Mapping[SeriesKey, SeriesTotals]
    gauges: GeneratorGauges


def safe_label(value: object) -> str:
    """A label value that cannot leak a secret: URL passwords and token-like query values
    are redacted wherever a word looks like a URL or carries a query."""
    words = str(value).split(" ")
    return " ".join(redact_url(w) if "://" in w or "?" in w else w for w in words)


class RunMetrics:
    """Cumulative per-(name, kind) totals and the generator's gauges for one run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._series: dict[SeriesKey, SeriesTotals] = {}
        self._gauges = GeneratorGauges()
        self._run_id = ""
        self._run_name = ""
        self._active = False
        self._start_time_ns = time.time_ns()

    def begin(self, doc: Mapping[str, Any]) -> None:
        with self._lock:
            self._run_id = safe_label(doc.get("id", ""))
            self._run_name = safe_label(doc.get("name", ""))
            self._active = True
            self._start_time_ns = time.time_ns()

    def add_interval(self, rows: Sequence[Mapping[str, Any]], generator: Mapping[str, Any]) -> None:
        """Fold in one second; the histograms are decoded before the lock is taken."""
        decoded = [
            (
                row,
                LatencyHistogram.from_bytes(row["latency_hist"]),
                LatencyHistogram.from_bytes(row["service_hist"]),
            )
            for row in rows
        ]
        gauges = _gauges(generator)
        with self._lock:
            for row, latency, service in decoded:
                key = (safe_label(row["name"]), safe_label(row.get("kind", "request")))
                totals = self._series.setdefault(key, SeriesTotals())
                totals.requests += int(row["requests"])
                totals.ok += int(row.get("ok", 0))
                totals.errors += int(row.get("errors", 0))
                totals.dropped += int(row.get("dropped", 0))
                totals.bytes_in += int(row.get("bytes_in", 0))
                for kind, n in row.get("errors_by_kind", {}).items():
                    error = safe_label(kind)
                    totals.errors_by_kind[error] = totals.errors_by_kind.get(error, 0) + int(n)
                totals.latency.add(latency)
                totals.service.add(service)
            self._gauges = gauges

    def finish(self) -> None:
        with self._lock:
            self._active = False

    def snapshot(self) -> MetricsSnapshot:
        with self._lock:
            return MetricsSnapshot(
                run_id=self._run_id,
                run_name=self._run_name,
                active=self._active,
                start_time_ns=self._start_time_ns,
                series={k: v.copy() for k, v in self._series.items()},
                gauges=self._gauges,
            )


def _gauges(generator: Mapping[str, Any]) -> GeneratorGauges:
    lag = generator.get("sched_lag_hist")
    lag_p99_us = LatencyHistogram.from_bytes(lag).percentile(99.0) if lag else 0
    vus = generator.get("vus")
    return GeneratorGauges(
        inflight=int(generator.get("inflight", 0)),
        connections=int(generator.get("connections", 0)),
        cpu_percent=float(generator.get("cpu_pct_max", 0.0)),
        sched_lag_p99_s=lag_p99_us / 1e6,
        vus=None if vus is None else int(vus),
    )


class FailOnce:
    """Keeps an exporter's failures out of the engine: each is swallowed, the first logged.

    A sink runs on the coordinator's thread, so an exception there would end the run; a
    metrics endpoint is never worth that, and one warning is enough to say it broke.
    """

    def __init__(self, exporter: str) -> None:
        self.exporter = exporter
        self.failures = 0

    @contextmanager
    def guard(self, what: str) -> Iterator[None]:
        try:
            yield
        except Exception as exc:
            self.failures += 1
            if self.failures == 1:
                log.warning(
                    "%s export: %s failed (%s: %s); later failures are not shown",
                    self.exporter,
                    what,
                    type(exc).__name__,
                    exc,
                )
