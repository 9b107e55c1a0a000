"""A run's per-second rows as chart series: time windows, percentiles, rates, a spectrum.

Long runs are shown in windows of ``window_s`` seconds (at most ``max_points`` of them), and
nothing is averaged that should not be: a window's percentiles come from the exact merge of
its histograms, its max is the max of its seconds, throughput is the window's count divided
by its length. Per-request p99 lines show, per window, the worst second's p99.

Times are elapsed seconds since the first second of the run (0 = start), so two runs can be
overlaid. Latencies are milliseconds; NaN (JSON null) marks a window without responses.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from perflab.report.html.histograms import summarize
from perflab.stats import LatencyHistogram

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

MAX_POINTS = 720
PERCENTILES = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "p99.9": 99.9, "max": 100.0}
PHASES = ("connect", "tls", "send", "wait", "receive")
SPECTRUM_POINTS = 160


@dataclass(frozen=True, slots=True)
class Spectrum:
    """Latency (ms) against percentile, x = 1 / (1 - p) for a log axis (HdrHistogram style)."""

    x: list[float]
    y: list[float]
    label: list[str]
    count: int


@dataclass(slots=True)
class RunData:
    """Every series the charts need; lists are JSON-ready (NaN becomes null)."""

    window_s: int
    t: list[float]  # window starts, elapsed seconds
    throughput: dict[str, list[float]] = field(default_factory=dict)  # per second
    latency: dict[str, list[float]] = field(default_factory=dict)  # corrected, ms
    service: dict[str, list[float]] = field(default_factory=dict)  # service time, ms
    p99_by_name: dict[str, list[float]] = field(default_factory=dict)
    errors_by_kind: dict[str, list[float]] = field(default_factory=dict)  # per second
    phases: dict[str, list[float]] = field(default_factory=dict)  # mean ms per request
    spectrum: dict[str, Spectrum] = field(default_factory=dict)  # "corrected", "service"
    spectrum_by_name: dict[str, Spectrum] = field(default_factory=dict)
    generator_t: list[float] = field(default_factory=list)
    generator: dict[str, list[float]] = field(default_factory=dict)


def window_size(seconds: int, max_points: int = MAX_POINTS) -> int:
    """Seconds per window: 1 up to ``max_points`` seconds, then just enough to fit."""
    return max(1, math.ceil(seconds / max_points))


def _column(rows: Sequence[Mapping[str, Any]], key: str) -> Ints:
    return np.fromiter((r.get(key) or 0 for r in rows), dtype=np.int64, count=len(rows))


def _ms(values: Floats, digits: int = 3) -> list[float]:
    out: list[float] = np.round(values / 1000.0, digits).tolist()
    return out


def _names(doc: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Request names in run.json's order, then any it does not list."""
    seen = {str(r.get("name")) for r in rows}
    known = [str(n) for n in doc.get("by_name") or {} if str(n) in seen]
    return known + sorted(seen - set(known))


def spectrum(hist: LatencyHistogram, points: int = SPECTRUM_POINTS) -> Spectrum:
    """The percentile spectrum: from p0 at x = 1 to the maximum at x = count."""
    n = hist.count
    if n == 0:
        return Spectrum([], [], [], 0)
    top = max(float(n), 10.0)
    decades = 10.0 ** np.arange(math.ceil(math.log10(top)) + 1)  # 90%, 99%, ... exactly
    x = np.unique(np.concatenate((np.logspace(0, math.log10(top), points), [2.0], decades)))
    x = x[x <= top]
    p = 100.0 * (1.0 - 1.0 / x)
    p[-1] = 100.0  # the last point is the exact maximum
    y = hist.percentiles(p).astype(np.float64)
    labels = [_percent_label(v) for v in p.tolist()]
    return Spectrum(np.round(x, 3).tolist(), _ms(y), labels, n)


def _percent_label(p: float) -> str:
    if p >= 100.0:
        return "max"
    decimals = max(0, math.ceil(-math.log10(max(100.0 - p, 1e-12))) + 1)
    text = f"{p:.{min(decimals, 6)}f}"
    return (text.rstrip("0").rstrip(".") if "." in text else text) + "%"


def prepare(intervals: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Request rows (not transactions or iterations) in time order."""
    rows = [r for r in intervals if r.get("kind", "request") == "request"]
    rows.sort(key=lambda r: int(r.get("second") or 0))
    return rows


def run_data(
    doc: Mapping[str, Any],
    intervals: Sequence[Mapping[str, Any]],
    generator: Sequence[Mapping[str, Any]] = (),
    *,
    max_points: int = MAX_POINTS,
) -> RunData:
    """All chart series of one run (``doc`` supplies names; the rows supply the numbers)."""
    rows = prepare(intervals)
    seconds = _column(rows, "second")
    first = int(seconds.min()) if seconds.size else 0
    span = int(seconds.max()) - first + 1 if seconds.size else 0
    k = window_size(span, max_points)
    n_windows = math.ceil(span / k) if span else 0
    window = (seconds - first) // k
    cuts = np.searchsorted(window, np.arange(n_windows + 1))
    lengths = np.minimum(k, span - k * np.arange(n_windows)).astype(np.float64)
    data = RunData(k, (np.arange(n_windows) * float(k)).tolist())
    names = _names(doc, rows)
    name_id = {name: i for i, name in enumerate(names)}
    labels = np.fromiter((name_id[str(r.get("name"))] for r in rows), np.int64, len(rows))
    ps = list(PERCENTILES.values())
    corrected = summarize([r.get("latency_hist") for r in rows], cuts, labels, len(names), ps, [99])
    service = summarize(
        [r.get("service_hist") for r in rows], cuts, np.zeros(len(rows), np.int64), 1, ps, []
    )
    for j, key in enumerate(PERCENTILES):
        data.latency[key] = _ms(corrected.window[:, j])
        data.service[key] = _ms(service.window[:, j])
    worst = np.full((len(names), n_windows), np.nan)
    np.fmax.at(worst, (labels, window), corrected.row[:, 0])
    data.p99_by_name = {name: _ms(worst[i]) for i, name in enumerate(names)}
    whole = LatencyHistogram.merged(corrected.merged)
    data.spectrum = {"corrected": spectrum(whole), "service": spectrum(service.merged[0])}
    data.spectrum_by_name = {name: spectrum(corrected.merged[i]) for i, name in enumerate(names)}
    _counts(data, rows, window, n_windows, lengths, service.window_count)
    _generator(data, generator, first, k, n_windows)
    return data


def _per_window(values: Ints | Floats, window: Ints, n_windows: int) -> Floats:
    counts: Floats = np.bincount(window, weights=values, minlength=n_windows).astype(np.float64)
    return counts[:n_windows]


def _counts(
    data: RunData,
    rows: Sequence[Mapping[str, Any]],
    window: Ints,
    n_windows: int,
    lengths: Floats,
    responses: Ints,
) -> None:
    """Throughput, errors by kind and timing phases per window."""
    for key in ("ok", "errors", "dropped"):
        rate = _per_window(_column(rows, key), window, n_windows) / np.maximum(lengths, 1)
        data.throughput[key] = np.round(rate, 3).tolist()
    kinds: dict[str, Floats] = {}
    phases = np.zeros((len(PHASES), n_windows))
    connections = _per_window(_column(rows, "new_connections"), window, n_windows)
    for r, w in zip(rows, window.tolist(), strict=True):
        for kind, n in (r.get("errors_by_kind") or {}).items():
            kinds.setdefault(str(kind), np.zeros(n_windows))[w] += n
        phase_us = r.get("phase_us") or {}
        for i, phase in enumerate(PHASES):
            phases[i, w] += phase_us.get(phase, 0)
    ranked = sorted(kinds.items(), key=lambda kv: -float(kv[1].sum()))
    data.errors_by_kind = {k: np.round(v / lengths, 3).tolist() for k, v in ranked}
    for i, phase in enumerate(PHASES):
        per = connections if phase in ("connect", "tls") else responses.astype(np.float64)
        mean = np.where(per > 0, phases[i] / np.maximum(per, 1), np.nan)
        data.phases[phase] = _ms(mean, 4)


def _generator(
    data: RunData, rows: Sequence[Mapping[str, Any]], first: int, k: int, n_windows: int
) -> None:
    """Generator health per window: lag percentiles, the busiest worker's CPU, in flight."""
    rows = sorted(rows, key=lambda r: int(r.get("second") or 0))
    seconds = _column(rows, "second") - first
    keep = (seconds >= 0) & (seconds < n_windows * k)
    rows = [r for r, ok in zip(rows, keep.tolist(), strict=True) if ok]
    if not rows:
        return
    window = seconds[keep] // k
    cuts = np.searchsorted(window, np.arange(n_windows + 1))
    none = np.full(len(rows), -1, dtype=np.int64)
    for key, name in (("sched_lag_hist", "sched_lag"), ("loop_lag_hist", "loop_lag")):
        lag = summarize([r.get(key) for r in rows], cuts, none, 0, [99.0, 100.0], [])
        data.generator[f"{name}_p99_ms"] = _ms(lag.window[:, 0])
        data.generator[f"{name}_max_ms"] = _ms(lag.window[:, 1])
    for key in ("cpu_pct_max", "inflight", "connections", "steal_pct"):
        # A run without a measurement (older runs, no /proc/stat) keeps NaN: no line drawn.
        blank = 0.0 if key != "steal_pct" else np.nan
        values = np.fromiter(
            (blank if r.get(key) is None else float(r[key]) for r in rows), np.float64, len(rows)
        )
        top = np.full(n_windows, np.nan)
        np.fmax.at(top, window, values)
        data.generator[key] = np.round(top, 2).tolist()
    data.generator_t = data.t
