"""Threshold grammar: ``[SCOPE:] METRIC OP VALUE[UNIT]``.

Examples: ``p99<300ms``, ``error_rate<1%``, ``GET /items: p95<=100ms``, ``rps>=900``.
Values are normalised when parsed: latencies to milliseconds, rates (``error_rate``,
``checks``) to fractions, ``rps`` to requests per second, ``dropped`` to a count, so that
evaluation compares plain numbers against run.json's summary figures.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from perflab.errors import UsageError

LATENCY_METRICS = ("p50", "p90", "p95", "p99", "p99.9", "max", "mean", "min")
RATE_METRICS = ("error_rate", "checks")
COUNT_METRICS = ("rps", "dropped", "requests", "errors")
METRICS = LATENCY_METRICS + RATE_METRICS + COUNT_METRICS
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}
_EXPR = re.compile(r"^\s*([a-z_][a-z0-9_.]*)\s*(<=|>=|<|>)\s*([0-9]*\.?[0-9]+)\s*([a-zµ%/]*)\s*$")
_LATENCY_UNITS = {"us": 1e-3, "µs": 1e-3, "ms": 1.0, "s": 1000.0}


@dataclass(frozen=True, slots=True)
class Threshold:
    """A parsed threshold; ``value`` is in the metric's canonical unit (see module doc)."""

    source: str
    metric: str
    op: str
    value: float
    scope: str | None = None

    def holds(self, observed: float) -> bool:
        return _OPS[self.op](observed, self.value)


def parse_threshold(text: str) -> Threshold:
    scope: str | None = None
    expr = text
    if ":" in text:
        head, _, tail = text.rpartition(":")
        if _EXPR.match(tail):
            scope, expr = head.strip() or None, tail
    match = _EXPR.match(expr)
    if not match:
        raise UsageError(
            f"bad threshold {text!r}: expected [SCOPE:] METRIC OP VALUE[UNIT], "
            "e.g. 'p99<300ms', 'error_rate<1%', 'GET /items: p95<=100ms'"
        )
    metric, op, number, unit = match.groups()
    if metric not in METRICS:
        raise UsageError(
            f"bad threshold {text!r}: unknown metric {metric!r}; known: " + " ".join(METRICS)
        )
    return Threshold(text.strip(), metric, op, _normalise(text, metric, float(number), unit), scope)


def _normalise(text: str, metric: str, value: float, unit: str) -> float:
    if metric in LATENCY_METRICS:
        if unit not in _LATENCY_UNITS:
            raise UsageError(f"bad threshold {text!r}: {metric} needs a unit us, ms or s")
        return value * _LATENCY_UNITS[unit]
    if metric in RATE_METRICS:
        if unit == "%":
            return value / 100.0
        if unit == "":
            return value
        raise UsageError(f"bad threshold {text!r}: {metric} takes a percentage, e.g. 1%")
    if unit not in ("", "/s") or (unit == "/s" and metric != "rps"):
        raise UsageError(f"bad threshold {text!r}: {metric} takes a plain number")
    return value


@dataclass(frozen=True, slots=True)
class ThresholdResult:
    threshold: Threshold
    observed: float | None
    passed: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold.source,
            "scope": self.threshold.scope,
            "metric": self.threshold.metric,
            "observed": self.observed,
            "limit": self.threshold.value,
            "passed": self.passed,
        }


def observe(metric: str, summary: Mapping[str, Any]) -> float | None:
    """The figure a threshold's metric refers to in a run.json summary block."""
    if metric in LATENCY_METRICS:
        return float(summary["latency_ms"][metric])
    if metric == "checks":
        checks = summary.get("checks")
        return None if checks is None else float(checks)
    value = summary.get(metric)
    return None if value is None else float(value)


def evaluate(
    thresholds: tuple[Threshold, ...],
    totals: Mapping[str, Any],
    by_name: Mapping[str, Mapping[str, Any]],
) -> list[ThresholdResult]:
    """Evaluate on merged summaries. A scope with no traffic fails: silence is not success."""
    results = []
    for th in thresholds:
        summary = totals if th.scope is None else by_name.get(th.scope)
        if summary is None or not summary.get("requests"):
            results.append(ThresholdResult(th, None, False))
            continue
        observed = observe(th.metric, summary)
        results.append(ThresholdResult(th, observed, observed is None or th.holds(observed)))
    return results
