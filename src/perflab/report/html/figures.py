"""Plotly figure specs (plain dicts, as ``fig.to_json()`` would give) from a run's series.

Built as dicts rather than ``plotly.graph_objects``: validation of thousands of points costs
seconds, and the page's own script hands these straight to ``Plotly.newPlot``. Time axes are
plotly date axes over elapsed time from a midnight (see :func:`elapsed_ms`), so ticks read
00:05:00.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from perflab.report.html.data import PERCENTILES, PHASES, RunData, Spectrum

Figure = dict[str, Any]

COLORS = {
    "p50": "#2563eb",
    "p90": "#0891b2",
    "p99": "#ea580c",
    "p99.9": "#dc2626",
    "max": "#6b7280",
}
OK, ERROR, DROPPED = "#16a34a", "#dc2626", "#d97706"
PALETTE = (
    "#2563eb",
    "#ea580c",
    "#16a34a",
    "#9333ea",
    "#dc2626",
    "#0891b2",
    "#ca8a04",
    "#db2777",
    "#4b5563",
    "#65a30d",
)
PHASE_COLORS = dict(
    zip(PHASES, ("#9333ea", "#db2777", "#0891b2", "#2563eb", "#16a34a"), strict=True)
)
GRID = "#e5e7eb"
SIDE_LEGEND = {"orientation": "v", "x": 1.01, "xanchor": "left", "y": 1, "yanchor": "top"}
EPOCH_MS = 946_684_800_000.0  # 2000-01-01T00:00:00Z


def layout(
    title: str, y_title: str, *, span_s: float | None = None, **extra: Any
) -> dict[str, Any]:
    """The house layout: left-aligned title, light grid, legend under the plot.

    With ``span_s`` (the run's length) the x axis is elapsed time, ticked at least a second
    apart; without, the caller sets its own x axis.
    """
    time_axis = span_s is not None
    base: dict[str, Any] = {
        "title": {"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 15}},
        "height": 340,
        "margin": {"l": 64, "r": 24, "t": 44, "b": 48},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "font": {
            "family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
            "size": 12,
            "color": "#1f2937",
        },
        "yaxis": {
            "title": {"text": y_title},
            "gridcolor": GRID,
            "rangemode": "tozero",
            "zerolinecolor": GRID,
        },
        "legend": {"orientation": "h", "y": -0.18, "x": 0},
        "hovermode": "x unified" if time_axis else "closest",
    }
    if time_axis:
        base["xaxis"] = {
            "type": "date",
            "tickformat": "%H:%M:%S",
            "hoverformat": "%H:%M:%S",
            "gridcolor": GRID,
        }
        if span_s is not None and span_s <= 30:  # plotly would tick every 0.5 s or finer
            base["xaxis"]["dtick"] = 1000 * max(1, math.ceil(span_s / 8))
    else:
        base["xaxis"] = {"gridcolor": GRID}
    base.update(extra)
    return base


def elapsed_ms(t: list[float]) -> list[float]:
    """Elapsed seconds as date-axis milliseconds counted from 2000-01-01 00:00:00.

    Not from 1970: plotly.js reads a number with 2 or 4 digits on a date axis as a year
    (5000 ms would be the year 5000); 13-digit values are always milliseconds.
    """
    return [EPOCH_MS + s * 1000.0 for s in t]


def plot_text(text: str) -> str:
    """Text for plotly, which reads a little HTML (``<a href>``, ``<b>``) in names: escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def line(x: list[float], y: list[float], name: str, color: str, **extra: Any) -> dict[str, Any]:
    trace: dict[str, Any] = {
        "type": "scatter",
        "mode": "lines",
        "name": plot_text(name),
        "x": x,
        "y": y,
        "line": {"color": color, "width": 1.6},
    }
    trace.update(extra)
    return trace


def span(data: RunData) -> float:
    return float(len(data.t) * data.window_s)


def _window_note(data: RunData) -> str:
    return "" if data.window_s == 1 else f" ({data.window_s} s windows)"


def throughput(data: RunData) -> Figure:
    x = elapsed_ms(data.t)
    traces = [
        line(x, data.throughput["ok"], "ok", OK, stackgroup="rps"),
        line(x, data.throughput["errors"], "errors", ERROR, stackgroup="rps"),
    ]
    if any(data.throughput["dropped"]):
        traces.append(line(x, data.throughput["dropped"], "dropped", DROPPED, stackgroup="rps"))
    return {
        "data": traces,
        "layout": layout("Throughput" + _window_note(data), "requests/s", span_s=span(data)),
    }


def percentiles(data: RunData, *, service: bool) -> Figure:
    series = data.service if service else data.latency
    x = elapsed_ms(data.t)
    traces = [line(x, series[p], p, COLORS[p]) for p in PERCENTILES]
    title = "Service time" if service else "Latency from intended start (corrected)"
    return {"data": traces, "layout": layout(title + _window_note(data), "ms", span_s=span(data))}


def p99_by_name(data: RunData) -> Figure:
    x = elapsed_ms(data.t)
    traces = [
        line(x, values, name, PALETTE[i % len(PALETTE)])
        for i, (name, values) in enumerate(data.p99_by_name.items())
    ]
    note = "" if data.window_s == 1 else f" (worst second per {data.window_s} s)"
    return {"data": traces, "layout": layout("p99 by request" + note, "ms", span_s=span(data))}


def spectrum_axis(count: int) -> dict[str, Any]:
    """A log x axis of 1 / (1 - p) labelled 0%, 50%, 90%, 99%, 99.9%, ..."""
    nines = max(1, math.ceil(math.log10(max(count, 10))))
    values = [1.0, 2.0] + [10.0**i for i in range(1, nines + 1)]
    text = ["0%", "50%"] + [f"{100 - 100 / 10**i:.{max(0, i - 2)}f}%" for i in range(1, nines + 1)]
    return {
        "type": "log",
        "tickvals": values,
        "ticktext": text,
        "gridcolor": GRID,
        "title": {"text": "percentile"},
    }


def spectrum_trace(s: Spectrum, name: str, color: str, **extra: Any) -> dict[str, Any]:
    style = {"color": color, "width": 1.8, "shape": "hv"}
    style.update(extra.pop("line", {}))
    hover = "%{customdata}: %{y:.3f} ms<extra>%{fullData.name}</extra>"
    return line(s.x, s.y, name, color, customdata=s.label, hovertemplate=hover, line=style, **extra)


def spectrum(data: RunData) -> Figure:
    traces = [
        spectrum_trace(data.spectrum["corrected"], "all requests (corrected)", "#111827"),
        spectrum_trace(
            data.spectrum["service"], "all requests (service time)", "#6b7280", visible="legendonly"
        ),
    ]
    if len(data.spectrum_by_name) > 1:
        for i, (name, s) in enumerate(data.spectrum_by_name.items()):
            traces.append(spectrum_trace(s, name, PALETTE[i % len(PALETTE)]))
    count = data.spectrum["corrected"].count
    fig_layout = layout("Latency by percentile", "ms", height=400)
    fig_layout["xaxis"] = spectrum_axis(count)
    fig_layout["legend"] = dict(SIDE_LEGEND)
    return {"data": traces, "layout": fig_layout}


def errors(data: RunData) -> Figure:
    x = elapsed_ms(data.t)
    traces = [
        line(x, values, kind, PALETTE[(i + 4) % len(PALETTE)], stackgroup="errors")
        for i, (kind, values) in enumerate(data.errors_by_kind.items())
    ]
    return {
        "data": traces,
        "layout": layout("Errors by kind" + _window_note(data), "errors/s", span_s=span(data)),
    }


def phases_by_name(doc: Mapping[str, Any]) -> Figure | None:
    rows = [(n, s.get("phases_mean_ms") or {}) for n, s in (doc.get("by_name") or {}).items()]
    rows = [(n, p) for n, p in rows if any(p.values())]
    if not rows:
        return None
    names = [plot_text(n) for n, _ in rows]
    traces = [
        {
            "type": "bar",
            "orientation": "h",
            "name": phase,
            "y": names,
            "x": [round(float(p.get(phase, 0.0)), 4) for _, p in rows],
            "marker": {"color": PHASE_COLORS[phase]},
        }
        for phase in PHASES
    ]
    height = max(220, 80 + 34 * len(names))
    fig_layout = layout("Mean time per phase", "", barmode="stack", height=height)
    fig_layout["legend"]["traceorder"] = "normal"
    fig_layout["xaxis"] = {"title": {"text": "ms"}, "gridcolor": GRID}
    fig_layout["yaxis"] = {"automargin": True, "autorange": "reversed"}
    return {"data": traces, "layout": fig_layout}


def phases_over_time(data: RunData) -> Figure:
    x = elapsed_ms(data.t)
    traces = [
        line(x, data.phases[p], p, PHASE_COLORS[p], stackgroup="phases")
        for p in PHASES
        if any(v == v and v > 0 for v in data.phases[p])  # NaN != NaN: skip empty phases
    ]
    title = "Mean time per phase over time" + _window_note(data)
    return {"data": traces, "layout": layout(title, "ms per request", span_s=span(data))}


def has_values(values: list[float]) -> bool:
    return any(v == v for v in values)  # NaN != NaN


def generator_lag(data: RunData) -> Figure | None:
    x = elapsed_ms(data.generator_t)
    g = data.generator
    series = (
        ("sched_lag_p99_ms", "scheduling lag p99", "#ea580c"),
        ("sched_lag_max_ms", "scheduling lag max", "#fdba74"),
        ("loop_lag_p99_ms", "event-loop lag p99", "#2563eb"),
        ("loop_lag_max_ms", "event-loop lag max", "#93c5fd"),
    )
    traces = [line(x, g[key], name, color) for key, name, color in series if has_values(g[key])]
    if not traces:
        return None
    title = "Generator lag" + _window_note(data)
    return {"data": traces, "layout": layout(title, "ms", span_s=span(data))}


def generator_load(data: RunData) -> Figure:
    x = elapsed_ms(data.generator_t)
    g = data.generator
    traces = [
        line(x, g["cpu_pct_max"], "busiest worker CPU %", "#dc2626"),
        line(x, g["inflight"], "in flight", "#2563eb", yaxis="y2"),
        line(x, g["connections"], "connections", "#16a34a", yaxis="y2"),
    ]
    if has_values(g.get("steal_pct", [])):
        traces.append(line(x, g["steal_pct"], "host steal % (hypervisor)", "#9333ea"))
    fig_layout = layout("Generator load" + _window_note(data), "CPU %", span_s=span(data))
    fig_layout["yaxis"]["range"] = [0, 105]
    fig_layout["margin"]["r"] = 64
    fig_layout["yaxis2"] = {
        "overlaying": "y",
        "side": "right",
        "rangemode": "tozero",
        "showgrid": False,
        "title": {"text": "count"},
    }
    return {"data": traces, "layout": fig_layout}


def run_figures(doc: Mapping[str, Any], data: RunData) -> dict[str, Figure]:
    """Every chart of a run report, keyed by the id its container uses."""
    figures: dict[str, Figure] = {}
    if data.t:
        figures["throughput"] = throughput(data)
        figures["latency"] = percentiles(data, service=False)
        figures["service"] = percentiles(data, service=True)
        if len(data.p99_by_name) > 1:
            figures["p99_by_name"] = p99_by_name(data)
    if data.spectrum.get("corrected") and data.spectrum["corrected"].count:
        figures["spectrum"] = spectrum(data)
    if data.errors_by_kind:
        figures["errors"] = errors(data)
    by_name = phases_by_name(doc)
    if by_name is not None:
        figures["phases_by_name"] = by_name
    if data.t and phases_over_time(data)["data"]:
        figures["phases_time"] = phases_over_time(data)
    if data.generator:
        lag = generator_lag(data)
        if lag is not None:
            figures["generator_lag"] = lag
        figures["generator_load"] = generator_load(data)
    return figures
