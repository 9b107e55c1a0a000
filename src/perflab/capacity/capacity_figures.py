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


def _vline(x: float | str, text: str, color: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A dashed vertical line across the plot and its label on top."""
    shape = {"type": "line", "x0": x, "x1": x, "yref": "paper", "y0": 0, "y1": 1,
             "line": {"dash": "dash", "color": color}}  # fmt: skip
    label = {"x": x, "yref": "paper", "y": 1, "text": text, "showarrow": False,
             "yanchor": "bottom"}  # fmt: skip
    return shape, label


def _two_axes(
    xaxis: dict[str, Any],
    yaxis: dict[str, Any],
    y2_title: str,
    marks: list[tuple[dict[str, Any], dict[str, Any]]],
) -> dict[str, Any]:
    """A layout with a second y axis on the right (from zero) and vertical marks."""
    return {
        "xaxis": xaxis, "yaxis": yaxis,
        "yaxis2": {"title": {"text": y2_title}, "overlaying": "y", "side": "right",
                   "rangemode": "tozero"},
        "shapes": [m[0] for m in marks], "annotations": [m[1] for m in marks],
        "height": 420, "margin": {"t": 50}, "legend": _LEGEND,
    }  # fmt: skip


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
    marks = [] if knee is None else [_vline(knee, f"knee ≈ {knee:.3g}", "#7f7f7f")]
    layout = _two_axes(
        {"title": {"text": "concurrency (virtual users)"}, "type": "log"},
        {"title": {"text": "throughput (req/s)"}, "rangemode": "tozero"},
        "p99 (ms)",
        marks,
    )
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
    marks = []
    if max_rate is not None:
        marks.append(_vline(max_rate, f"max rate meeting {slo}: {max_rate:.4g}/s", _PASS))
    layout = _two_axes(
        {"title": {"text": "offered arrival rate (req/s)"}, "rangemode": "tozero"},
        {"title": {"text": "p99 (ms)"}, "type": "log"},
        "served (req/s)",
        marks,
    )
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
    if fleet_usable_rps is not None:
        data.append(
            {"x": [history_t[0], ahead[-1]], "y": [fleet_usable_rps, fleet_usable_rps],
             "type": "scatter", "mode": "lines", "name": "fleet capacity (usable)",
             "line": {"dash": "dash", "color": _FAIL}}
        )  # fmt: skip
    marks = [] if runs_out is None else [_vline(runs_out, "capacity runs out", _FAIL)]
    layout = {
        "xaxis": {"title": {"text": "time (UTC)"}},
        "yaxis": {"title": {"text": "requests/s"}, "rangemode": "tozero"},
        "shapes": [m[0] for m in marks], "annotations": [m[1] for m in marks],
        "height": 420, "margin": {"t": 50}, "legend": _LEGEND,
    }  # fmt: skip
    return {"data": data, "layout": layout}
