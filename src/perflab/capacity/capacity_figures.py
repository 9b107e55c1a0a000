"""Plotly figures of a capacity test and of a capacity plan, built from their JSON documents.

Working from the documents (``LiveTestResult.to_json()``, ``Sizing.to_json()``,
``GrowthPlan.to_json()``) rather than the live objects means a stored ``capacity.json`` can be
drawn again later with exactly the figures the test printed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from perflab.capacity.forecast import Forecast

_LEGEND = {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"}
_PASS, _FAIL = "#2ca02c", "#d62728"


def steps_figure(steps: Sequence[Mapping[str, Any]], knee: float | None) -> dict[str, Any]:
    """Throughput and p99 against concurrency, the knee as a vertical line."""
    rows = [s for s in steps if "concurrency" in s]
    n = [s["concurrency"] for s in rows]
    data: list[dict[str, Any]] = [
        {"x": n, "y": [s["throughput"] for s in rows], "type": "scatter",
         "mode": "lines+markers", "name": "throughput (req/s)", "marker": {"color": "#1f77b4"}},
        {"x": n, "y": [s["p99_ms"] for s in rows], "type": "scatter", "mode": "lines+markers",
         "name": "p99 (ms)", "yaxis": "y2", "line": {"dash": "dot", "color": "#ff7f0e"}},
    ]  # fmt: skip
    shapes: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    if knee is not None:
        shapes.append(
            {"type": "line", "x0": knee, "x1": knee, "yref": "paper", "y0": 0, "y1": 1,
             "line": {"dash": "dash", "color": "#7f7f7f"}}
        )  # fmt: skip
        annotations.append(
            {"x": knee, "yref": "paper", "y": 1, "text": f"knee ≈ {knee:.3g}", "showarrow": False,
             "yanchor": "bottom"}
        )  # fmt: skip
    layout = {
        "xaxis": {"title": {"text": "concurrency (virtual users)"}, "type": "log"},
        "yaxis": {"title": {"text": "throughput (req/s)"}, "rangemode": "tozero"},
        "yaxis2": {"title": {"text": "p99 (ms)"}, "overlaying": "y", "side": "right",
                   "rangemode": "tozero"},
        "shapes": shapes, "annotations": annotations, "height": 420, "margin": {"t": 50},
        "legend": _LEGEND,
    }  # fmt: skip
    return {"data": data, "layout": layout}


def search_figure(
    probes: Sequence[Mapping[str, Any]], max_rate: float | None, slo: str
) -> dict[str, Any]:
    """Each SLO probe's p99 against its offered rate, green when it met the SLO."""
    rows = [p for p in probes if "rate" in p]
    colors = [_PASS if p.get("slo_passed") else _FAIL for p in rows]
    labels = [
        f"probe {i + 1}: {'met' if p.get('slo_passed') else 'missed'} the SLO"
        for i, p in enumerate(rows)
    ]
    data: list[dict[str, Any]] = [
        {"x": [p["rate"] for p in rows], "y": [p["p99_ms"] for p in rows], "type": "scatter",
         "mode": "markers", "name": "probes (p99)", "text": labels,
         "marker": {"color": colors, "size": 10}},
        {"x": [p["rate"] for p in rows], "y": [p["throughput"] for p in rows],
         "type": "scatter", "mode": "markers", "name": "served (req/s)", "yaxis": "y2",
         "marker": {"symbol": "x", "color": "#7f7f7f"}},
    ]  # fmt: skip
    shapes: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    if max_rate is not None:
        shapes.append(
            {"type": "line", "x0": max_rate, "x1": max_rate, "yref": "paper", "y0": 0, "y1": 1,
             "line": {"dash": "dash", "color": _PASS}}
        )  # fmt: skip
        annotations.append(
            {"x": max_rate, "yref": "paper", "y": 1, "showarrow": False, "yanchor": "bottom",
             "text": f"max rate meeting {slo}: {max_rate:.4g}/s"}
        )  # fmt: skip
    layout = {
        "xaxis": {"title": {"text": "offered arrival rate (req/s)"}, "rangemode": "tozero"},
        "yaxis": {"title": {"text": "p99 (ms)"}, "type": "log"},
        "yaxis2": {"title": {"text": "served (req/s)"}, "overlaying": "y", "side": "right",
                   "rangemode": "tozero"},
        "shapes": shapes, "annotations": annotations, "height": 420, "margin": {"t": 50},
        "legend": _LEGEND,
    }  # fmt: skip
    return {"data": data, "layout": layout}


def sizing_figure(sizing: Mapping[str, Any]) -> dict[str, Any]:
    """Erlang C: p99 response and waiting probability by number of servers."""
    table = sizing["table"]
    servers = [r["servers"] for r in table]
    data: list[dict[str, Any]] = [
        {"x": servers, "y": [r["p99_response_ms"] for r in table], "type": "bar",
         "name": "p99 response (ms)",
         "marker": {"color": [_PASS if r["meets_target"] else _FAIL for r in table]}},
        {"x": servers, "y": [r["prob_wait"] for r in table], "type": "scatter",
         "mode": "lines+markers", "name": "P(wait)", "yaxis": "y2"},
    ]  # fmt: skip
    layout = {
        "xaxis": {"title": {"text": "servers"}, "dtick": 1},
        "yaxis": {"title": {"text": "p99 response (ms)"}, "rangemode": "tozero"},
        "yaxis2": {"title": {"text": "P(wait)"}, "overlaying": "y", "side": "right",
                   "range": [0, 1]},
        "height": 380, "margin": {"t": 50}, "legend": _LEGEND,
    }  # fmt: skip
    return {"data": data, "layout": layout}


def growth_figure(
    history_t: Sequence[str],
    history_rps: Sequence[float],
    forecast: Forecast,
    fleet_usable_rps: float | None,
    runs_out: str | None,
) -> dict[str, Any]:
    """Traffic history, the forecast with its 90 % band, the fleet's usable capacity."""
    ahead = [t.isoformat() for t in forecast.times]
    data: list[dict[str, Any]] = [
        {"x": list(history_t), "y": list(history_rps), "type": "scatter", "mode": "lines",
         "name": "history (req/s)", "line": {"color": "#1f77b4", "width": 1}},
        {"x": ahead + ahead[::-1],
         "y": [float(v) for v in forecast.high] + [float(v) for v in forecast.low[::-1]],
         "type": "scatter", "fill": "toself", "line": {"width": 0}, "hoverinfo": "skip",
         "fillcolor": "rgba(255,127,14,0.18)", "name": "90 % interval"},
        {"x": ahead, "y": [float(v) for v in forecast.point], "type": "scatter",
         "mode": "lines", "name": "forecast", "line": {"color": "#ff7f0e", "width": 1}},
    ]  # fmt: skip
    shapes: list[dict[str, Any]] = []
    if fleet_usable_rps is not None:
        data.append(
            {"x": [history_t[0], ahead[-1]], "y": [fleet_usable_rps, fleet_usable_rps],
             "type": "scatter", "mode": "lines", "name": "fleet capacity (usable)",
             "line": {"dash": "dash", "color": _FAIL}}
        )  # fmt: skip
    if runs_out is not None:
        shapes.append(
            {"type": "line", "x0": runs_out, "x1": runs_out, "yref": "paper", "y0": 0, "y1": 1,
             "line": {"dash": "dot", "color": _FAIL}}
        )  # fmt: skip
    layout = {
        "xaxis": {"title": {"text": "time (UTC)"}},
        "yaxis": {"title": {"text": "requests/s"}, "rangemode": "tozero"},
        "shapes": shapes, "height": 420, "margin": {"t": 50}, "legend": _LEGEND,
    }  # fmt: skip
    return {"data": data, "layout": layout}
