"""A comparison's figures as table rows, shared by the HTML, Markdown and JUnit renderers.

The comparison is ``perflab.compare.compare_runs``' result: ``{"verdict", "by_name": {NAME:
{METRIC: {"base", "candidate", "change_pct", "ci_low_pct", "ci_high_pct", "verdict"[,
"unit"]}}}, ...}`` with the overall figures under ``"*"``; latencies in ms, error rates as
fractions, throughput in requests/s. ``unit == "pp"`` marks a change in percentage points
(an error rate compared with a base that had none).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from perflab.report.units import format_ms

METRIC_ORDER = ("p50", "p90", "p95", "p99", "p99.9", "max", "mean", "error_rate", "rps")
ALL = "*"


def normal_verdict(verdict: Any) -> str:
    """``regressed``, ``improved`` or ``no_change`` ("no significant change" included)."""
    text = str(verdict or "").lower()
    if text.startswith("regress"):
        return "regressed"
    if text.startswith("improv"):
        return "improved"
    return "no_change"


def display_name(name: str) -> str:
    return "all requests" if name == ALL else name


def format_value(metric: str, value: Any) -> str:
    if not isinstance(value, int | float):
        return "-"
    if metric == "error_rate":
        return f"{value * 100:.2f}%"
    if metric == "rps":
        return f"{value:,.1f}/s"
    return format_ms(float(value))


def format_change(value: Any, unit: str = "%") -> str:
    if not isinstance(value, int | float):
        return "-"
    return f"{value:+.2f} pp" if unit == "pp" else f"{value:+.1f}%"


def ordered(comparison: Mapping[str, Any]) -> list[tuple[str, str, Mapping[str, Any]]]:
    """(name, metric, figures): overall first, then names A-Z; metrics in a fixed order."""
    by_name = comparison.get("by_name") or {}
    rank = {m: i for i, m in enumerate(METRIC_ORDER)}
    out = []
    for name in sorted(by_name, key=lambda n: (n != ALL, n)):
        metrics = by_name[name] or {}
        for metric in sorted(metrics, key=lambda m: (rank.get(m, len(rank)), m)):
            out.append((str(name), str(metric), metrics[metric] or {}))
    return out


def comparison_rows(comparison: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One formatted row per name and metric, in :func:`ordered` order."""
    rows = []
    for name, metric, m in ordered(comparison):
        unit = str(m.get("unit") or "%")
        low, high = m.get("ci_low_pct"), m.get("ci_high_pct")
        bounded = isinstance(low, int | float) or isinstance(high, int | float)
        ci = f"{format_change(low, unit)} .. {format_change(high, unit)}" if bounded else "-"
        rows.append(
            {
                "name": display_name(name),
                "metric": metric,
                "base": format_value(metric, m.get("base")),
                "candidate": format_value(metric, m.get("candidate")),
                "change": format_change(m.get("change_pct"), unit),
                "ci": ci,
                "verdict": normal_verdict(m.get("verdict")),
            }
        )
    return rows
