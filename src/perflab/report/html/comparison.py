"""The comparison page's charts, from ``compare_runs``' result (see
:mod:`perflab.report.changes`) and both runs' series."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from perflab.report.changes import display_name, normal_verdict, ordered
from perflab.report.html.data import RunData
from perflab.report.html.figures import (
    GRID,
    SIDE_LEGEND,
    Figure,
    elapsed_ms,
    layout,
    line,
    plot_text,
    span,
    spectrum_axis,
    spectrum_trace,
)

TONE = {"regressed": "#dc2626", "improved": "#16a34a", "no_change": "#6b7280"}
BASE, CAND = "#9ca3af", "#2563eb"


def _number(value: Any, default: float) -> float:
    return float(value) if isinstance(value, int | float) else default


def forest(comparison: Mapping[str, Any]) -> Figure | None:
    """Each change with its confidence interval as an error bar, coloured by verdict.

    An interval end that is unbounded or undefined is drawn at the point itself.
    Percentage-point changes (unit "pp") share the axis and say so in their label.
    """
    points = []
    for name, metric, m in ordered(comparison):
        if not isinstance(m.get("change_pct"), int | float):
            continue
        unit = " (pp)" if m.get("unit") == "pp" else ""
        points.append((plot_text(f"{display_name(name)} · {metric}{unit}"), m))
    if not points:
        return None
    traces = []
    for verdict, color in TONE.items():
        mine = [(label, m) for label, m in points if normal_verdict(m.get("verdict")) == verdict]
        if not mine:
            continue
        change = [float(m["change_pct"]) for _, m in mine]
        ends = [
            (_number(m.get("ci_low_pct"), c), _number(m.get("ci_high_pct"), c))
            for (_, m), c in zip(mine, change, strict=True)
        ]
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": verdict.replace("_", " "),
                "x": change,
                "y": [label for label, _ in mine],
                "marker": {"color": color, "size": 9},
                "error_x": {
                    "type": "data",
                    "symmetric": False,
                    "array": [max(0.0, hi - c) for (_, hi), c in zip(ends, change, strict=True)],
                    "arrayminus": [
                        max(0.0, c - lo) for (lo, _), c in zip(ends, change, strict=True)
                    ],
                    "color": color,
                    "thickness": 1.5,
                },
                "customdata": [[lo, hi] for lo, hi in ends],
                "hovertemplate": "%{y}: %{x:+.1f} (%{customdata[0]:+.1f} .. "
                "%{customdata[1]:+.1f})<extra></extra>",
            }
        )
    order = [label for label, _ in points]
    fig_layout = layout(
        "Change with 95% confidence interval", "", height=max(260, 90 + 24 * len(points))
    )
    fig_layout["legend"] = {
        "orientation": "h",
        "x": 1,
        "xanchor": "right",
        "y": 1.02,
        "yanchor": "bottom",
    }
    fig_layout["xaxis"] = {
        "title": {"text": "change vs base (%)"},
        "gridcolor": GRID,
        "zeroline": True,
        "zerolinecolor": "#111827",
        "zerolinewidth": 1.5,
    }
    fig_layout["yaxis"] = {
        "categoryorder": "array",
        "categoryarray": order,
        "autorange": "reversed",
        "automargin": True,
        "gridcolor": GRID,
    }
    effect = comparison.get("min_effect")
    if isinstance(effect, int | float) and effect > 0:
        fig_layout["shapes"] = [
            {
                "type": "line",
                "xref": "x",
                "yref": "paper",
                "x0": x,
                "x1": x,
                "y0": 0,
                "y1": 1,
                "line": {"color": "#9ca3af", "dash": "dot", "width": 1},
            }
            for x in (-100 * effect, 100 * effect)
        ]
    return {"data": traces, "layout": fig_layout}


def _overlay_latency(base: RunData, cand: RunData) -> Figure:
    traces = []
    for p, width in (("p50", 1.4), ("p99", 2.0)):
        traces.append(
            line(
                elapsed_ms(base.t),
                base.latency[p],
                f"base {p}",
                BASE,
                line={"color": BASE, "width": width, "dash": "dash"},
            )
        )
        traces.append(
            line(
                elapsed_ms(cand.t),
                cand.latency[p],
                f"candidate {p}",
                CAND,
                line={"color": CAND, "width": width},
            )
        )
    return {
        "data": traces,
        "layout": layout("Latency over time (corrected)", "ms", span_s=max(span(base), span(cand))),
    }


def _overlay_throughput(base: RunData, cand: RunData) -> Figure:
    def total(d: RunData) -> list[float]:
        return [a + b for a, b in zip(d.throughput["ok"], d.throughput["errors"], strict=True)]

    traces = [
        line(elapsed_ms(base.t), total(base), "base", BASE, line={"color": BASE, "dash": "dash"}),
        line(elapsed_ms(cand.t), total(cand), "candidate", CAND),
    ]
    return {
        "data": traces,
        "layout": layout("Throughput", "requests/s", span_s=max(span(base), span(cand))),
    }


def _overlay_spectrum(base: RunData, cand: RunData) -> Figure:
    b, c = base.spectrum["corrected"], cand.spectrum["corrected"]
    traces = [
        spectrum_trace(
            b, "base", BASE, line={"color": BASE, "width": 2, "dash": "dash", "shape": "hv"}
        ),
        spectrum_trace(c, "candidate", CAND),
    ]
    fig_layout = layout("Latency by percentile", "ms", height=400)
    fig_layout["xaxis"] = spectrum_axis(max(b.count, c.count))
    fig_layout["legend"] = dict(SIDE_LEGEND)
    return {"data": traces, "layout": fig_layout}


def comparison_figures(
    comparison: Mapping[str, Any], base: RunData, cand: RunData
) -> dict[str, Figure]:
    figures: dict[str, Figure] = {}
    chart = forest(comparison)
    if chart is not None:
        figures["forest"] = chart
    if base.t or cand.t:
        figures["overlay_latency"] = _overlay_latency(base, cand)
        figures["overlay_throughput"] = _overlay_throughput(base, cand)
    if base.spectrum["corrected"].count or cand.spectrum["corrected"].count:
        figures["overlay_spectrum"] = _overlay_spectrum(base, cand)
    return figures
