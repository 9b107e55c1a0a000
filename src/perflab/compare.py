"""Compare two stored runs: per-name changes with confidence intervals, and a verdict.

``compare_runs(base, candidate)`` loads both runs' per-second intervals and hands them to the
pure :func:`perflab.stats.compare.compare` (whose docstring states the method), then returns
one JSON-ready document::

    {"schema": "perflab.compare/1", "verdict": "regressed" | "improved" | "no_change",
     "by_name": {NAME: {METRIC: {"base", "candidate", "change_pct", "ci_low_pct",
                                 "ci_high_pct", "verdict", "unit"}}},
     "base": {...}, "candidate": {...}, "added": [...], "removed": [...],
     "min_effect": 0.05, "min_effect_pct": 5.0, "confidence": 0.95, "resamples", "seed",
     "block_seconds": {"base", "candidate"}, "method": "...", "notes": [...]}

``"*"`` holds the overall figures (every request row). Transactions and iteration groups are
compared under their own names. Metrics are p50, p90, p99, p99.9 (ms), error_rate (a fraction)
and rps (requests/s). ``unit`` is ``"%"`` for a relative change, or ``"pp"`` for a change in
percentage points (an error rate against a base that had no errors).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from perflab.errors import UsageError
from perflab.stats.compare import (
    MetricChange,
    RunSeries,
    Series,
    TooFewSeconds,
    compare,
)
from perflab.stats.histogram import LatencyHistogram
from perflab.store import find_run, load_run, read_intervals

__all__ = ["OVERALL", "SCHEMA", "compare_runs"]

SCHEMA = "perflab.compare/1"
OVERALL = "*"
SHORT_S = 20  # below this, say that the intervals are wide and long drifts may be missed
METHOD = (
    "Circular block bootstrap over each run's per-second intervals (blocks of ceil(sqrt(n)) "
    "seconds; each resample's percentiles come exactly from its merged histogram), paired "
    "into changes candidate/base. Each run's spread is corrected for the block bootstrap's "
    "bias and for autocorrelation beyond a block, and the intervals use Student's t, so they "
    "stay honest with 30-60 s of data. The intervals are simultaneous over every metric of every "
    "name, so an A/A comparison flags something at most 1 - confidence of the time. A metric "
    "changed when its interval excludes 0 and its estimate is beyond the minimum effect."
)
_CONFIG_KEYS = {
    "model": "load model",
    "start": "starting load",
    "stages": "load stages",
    "duration_s": "planned duration",
    "workers": "worker processes",
    "connections": "connection cap",
    "http2": "HTTP/2",
}
_ENV_KEYS = {"hostname": "host", "cpu_model": "CPU", "cpu_count": "CPU count", "perflab": "perflab"}


def compare_runs(
    base: str | Path,
    candidate: str | Path,
    *,
    min_effect: float = 0.05,
    confidence: float = 0.95,
    seed: int = 0,
    resamples: int = 2000,
) -> dict[str, Any]:
    """Compare two runs (each a directory, run.json, id prefix or name); see the module doc.

    Raises:
        UsageError: a run cannot be found or read, is too short, or an option is out of range.
    """
    if not 0.0 <= min_effect < 10.0:
        raise UsageError(f"bad minimum effect {min_effect!r}: expected a fraction like 0.05")
    if not 0.5 <= confidence < 1.0:
        raise UsageError(f"bad confidence {confidence!r}: expected a fraction like 0.95")
    if resamples < 100:
        raise UsageError(f"bad resamples {resamples}: at least 100 are needed")
    docs = [load_run(find_run(str(ref))) for ref in (base, candidate)]
    series = [_run_series(doc) for doc in docs]
    try:
        result = compare(
            series[0],
            series[1],
            min_effect=min_effect,
            confidence=confidence,
            resamples=resamples,
            seed=seed,
        )
    except TooFewSeconds as exc:
        raise UsageError(
            f"cannot compare {base} with {candidate}: {exc}",
            hint="run each test for 30 s or more (--duration 30s)",
        ) from None
    notes = _run_notes(docs, series) + result.notes
    return {
        "schema": SCHEMA,
        "verdict": result.verdict,
        "by_name": {
            name: {metric: _figures(metric, change) for metric, change in figures.items()}
            for name, figures in result.by_name.items()
        },
        "base": _identity(docs[0]),
        "candidate": _identity(docs[1]),
        "added": result.added,
        "removed": result.removed,
        "min_effect": min_effect,
        "min_effect_pct": round(min_effect * 100.0, 6),
        "confidence": confidence,
        "resamples": resamples,
        "seed": seed,
        "block_seconds": dict(zip(("base", "candidate"), result.block_seconds, strict=True)),
        "method": METHOD,
        "notes": notes,
    }


def _run_series(doc: dict[str, Any]) -> RunSeries:
    """Per-second series of every name in a run: "*" (all requests), requests, then groups."""
    rows = read_intervals(Path(doc["path"]))
    n = max((int(row["second"]) for row in rows), default=-1) + 1
    duration = doc.get("duration_s")
    if isinstance(duration, int | float) and duration > 0:
        exposure = np.clip(float(duration) - np.arange(n), 0.0, 1.0)
    else:
        exposure = np.ones(n)
    requests = [row for row in rows if row.get("kind", "request") == "request"]
    request_names = {str(row["name"]) for row in requests}
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in requests:
        grouped[str(row["name"])].append(row)
    for row in rows:
        kind = str(row.get("kind", "request"))
        if kind != "request":
            name = str(row["name"])
            grouped[f"{name} ({kind})" if name in request_names else name].append(row)
    names = {OVERALL: _series(requests, n)} if requests else {}
    names.update((name, _series(group, n)) for name, group in grouped.items())
    return RunSeries(exposure, names)


def _series(rows: Iterable[dict[str, Any]], n: int) -> Series:
    hists = [LatencyHistogram() for _ in range(n)]
    requests, errors = np.zeros(n), np.zeros(n)
    for row in rows:
        second = int(row["second"])
        try:
            hists[second].merge(LatencyHistogram.from_bytes(row["latency_hist"]))
        except ValueError as exc:
            raise UsageError(f"second {second} of {row['name']!r} is unreadable: {exc}") from None
        requests[second] += row.get("requests") or 0
        errors[second] += row.get("errors") or 0
    return Series.from_histograms(hists, requests, errors)


def _figures(metric: str, change: MetricChange) -> dict[str, Any]:
    """One metric as JSON: latencies µs -> ms; everything rounded to what it can mean."""
    scale, digits = {"error_rate": (1.0, 6), "rps": (1.0, 3)}.get(metric, (1e-3, 3))

    def rounded(value: float | None, factor: float = 1.0, places: int = 3) -> float | None:
        return None if value is None else round(value * factor, places)

    return {
        "base": rounded(change.base, scale, digits),
        "candidate": rounded(change.candidate, scale, digits),
        "change_pct": rounded(change.change_pct),
        "ci_low_pct": rounded(change.ci_low_pct),
        "ci_high_pct": rounded(change.ci_high_pct),
        "verdict": change.verdict,
        "unit": change.unit,
    }


def _identity(doc: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "name", "path", "started_at", "status", "duration_s")
    return {key: doc.get(key) for key in keys}


def _run_notes(docs: list[dict[str, Any]], series: list[RunSeries]) -> list[str]:
    """What makes the two runs less comparable than an A/A pair, in words."""
    notes = []
    configs = [doc.get("config") or {} for doc in docs]
    envs = [doc.get("environment") or {} for doc in docs]
    for sources, labels in ((configs, _CONFIG_KEYS), (envs, _ENV_KEYS)):
        for key, label in labels.items():
            if sources[0].get(key) != sources[1].get(key):
                before, after = sources[0].get(key), sources[1].get(key)
                notes.append(
                    f"different {label}: {before!r} in the base, {after!r} in the candidate"
                )
    targets = [sorted(str(r.get("url", "")) for r in c.get("requests") or []) for c in configs]
    if targets[0] != targets[1]:
        notes.append("the runs sent different requests (URLs differ)")
    for label, doc, run in zip(("base", "candidate"), docs, series, strict=True):
        if doc.get("status") in ("aborted", "interrupted", "error"):
            notes.append(f"the {label} run ended {doc['status']}; it may not be representative")
        if (doc.get("generator") or {}).get("saturated"):
            notes.append(
                f"the {label} run's load generator was saturated: its figures measure the generator"
            )
        if (doc.get("generator") or {}).get("host_noise"):
            steal = doc["generator"].get("steal_pct") or 0.0
            notes.append(
                f"the {label} run lost {steal:.0f}% of its CPU to the hypervisor (steal): "
                "its tail latencies carry the host's pauses"
            )
        seconds = float(run.exposure.sum())
        if seconds < SHORT_S:
            notes.append(
                f"the {label} run is short ({seconds:.0f} s): intervals are wide and drifts longer "
                f"than a few seconds may be missed; 30-60 s runs compare better"
            )
    return notes
