"""Capacity results as one self-contained HTML report (plotly.js inlined, nothing from the
network): the USL fit (measured points, fitted curve with its band, linear scaling, the peak
and the knee marked), a live capacity test's steps and SLO probes, and a plan's Erlang C
sizing or growth forecast, each a section present when its result is.

The page reuses the run report's base template, CSS and chart script, so it looks and loads
like the other perflab reports.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from perflab.capacity.capacity_figures import (
    growth_figure,
    search_figure,
    sizing_figure,
    steps_figure,
)
from perflab.capacity.plan import GrowthPlan
from perflab.capacity.usl import UslFit, fit_usl
from perflab.errors import PerflabError
from perflab.report.html.render import render_page

TEMPLATES = Path(__file__).parent / "templates"


def _fmt(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.4g}"


def usl_figure(fit: UslFit, knee: float | None = None) -> dict[str, Any]:
    """The plotly figure: points, curve, band, λN, the peak and (from a live test) the knee."""
    top = float(np.max(fit.concurrency))
    peak = fit.peak_concurrency
    if math.isfinite(peak):
        top = max(top, min(1.5 * peak, 4.0 * top))
    grid = np.linspace(min(float(np.min(fit.concurrency)), 1.0), top * 1.1, 200)
    mean, low, high = fit.predict(grid)
    data: list[dict[str, Any]] = []
    if low is not None and high is not None:
        data.append(
            {
                "x": np.concatenate([grid, grid[::-1]]).tolist(),
                "y": np.concatenate([high, low[::-1]]).tolist(),
                "type": "scatter", "fill": "toself", "line": {"width": 0},
                "fillcolor": "rgba(31,119,180,0.18)", "name": "95 % interval", "hoverinfo": "skip",
            }
        )  # fmt: skip
    ceiling = float(np.nanmax(high if high is not None else mean)) * 1.15
    linear = np.where(fit.lambda_ * grid <= ceiling, fit.lambda_ * grid, np.nan)  # NaN: gap
    data += [
        {"x": grid.tolist(), "y": mean.tolist(), "type": "scatter", "mode": "lines",
         "name": "USL fit", "line": {"color": "#1f77b4"}},
        {"x": grid.tolist(), "y": linear.tolist(), "type": "scatter", "mode": "lines",
         "name": "linear λN", "line": {"dash": "dash", "color": "#888"}},
        {"x": fit.concurrency.tolist(), "y": fit.throughput.tolist(), "type": "scatter",
         "mode": "markers", "name": "measured", "marker": {"color": "#d62728", "size": 8}},
    ]  # fmt: skip
    if math.isfinite(peak):
        data.append(
            {"x": [peak], "y": [fit.peak_throughput], "type": "scatter", "mode": "markers+text",
             "name": "peak N*", "text": [f"peak N* = {peak:.3g}"], "textposition": "top center",
             "marker": {"symbol": "star", "size": 14, "color": "#ff7f0e"}}
        )  # fmt: skip
    if knee is not None and math.isfinite(knee):
        at = float(fit.predict(np.array([knee]))[0][0])
        data.append(
            {"x": [knee], "y": [at], "type": "scatter", "mode": "markers+text",
             "name": "knee", "text": [f"knee ≈ {knee:.3g}"], "textposition": "bottom right",
             "marker": {"symbol": "diamond", "size": 12, "color": "#2ca02c"}}
        )  # fmt: skip
    layout = {
        "xaxis": {"title": {"text": "concurrency N"}, "rangemode": "tozero"},
        "yaxis": {"title": {"text": "throughput X(N)"}, "rangemode": "tozero"},
        "height": 480,
        "margin": {"t": 50},
        "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
    }
    return {"data": data, "layout": layout}


def _rows(fit: UslFit) -> list[tuple[str, str, str]]:
    def interval(name: str) -> str:
        ci = fit.ci.get(name)
        return "-" if ci is None else f"[{_fmt(ci[0])}, {_fmt(ci[1])}]"

    return [
        ("sigma (contention)", _fmt(fit.sigma), interval("sigma")),
        ("kappa (coherency)", _fmt(fit.kappa), interval("kappa")),
        ("lambda (single-user throughput)", _fmt(fit.lambda_), interval("lambda")),
        ("peak concurrency N*", _fmt(fit.peak_concurrency), ""),
        ("peak throughput", _fmt(fit.peak_throughput), ""),
        ("contention limit lambda/sigma", _fmt(fit.limit_throughput), ""),
        ("residual standard error", _fmt(fit.rse), ""),
        ("R²", f"{fit.r2:.4f}", ""),
    ]


def render_usl_html(fit: UslFit, title: str) -> str:
    """The page of a fit alone; ``title`` names the data (a file name)."""
    return render_capacity_html(title, fit=fit)


def render_capacity_html(
    title: str,
    *,
    fit: UslFit | None = None,
    live: Mapping[str, Any] | None = None,
    sizing: Mapping[str, Any] | None = None,
    growth: GrowthPlan | None = None,
) -> str:
    """One report with a section per result given.

    ``live`` is a capacity test's JSON document (``LiveTestResult.to_json()``); its fit is
    redone from the steps when ``fit`` is not given (the same deterministic fit the test made),
    so a stored ``capacity.json`` renders the same page again.
    """
    figures: dict[str, Any] = {}
    steps: list[Mapping[str, Any]] = []
    probes: list[Mapping[str, Any]] = []
    knee = None
    if live is not None:
        rows = list(live.get("steps") or [])
        steps = [r for r in rows if "concurrency" in r]
        probes = [r for r in rows if "rate" in r]
        knee = live.get("knee_concurrency")
        if fit is None and live.get("usl"):
            fit = _refit(steps)
        if steps:
            figures["steps"] = steps_figure(steps, knee)
        if probes:
            figures["search"] = search_figure(probes, live.get("max_rate"), live.get("slo") or "")
    if fit is not None:
        figures["usl"] = usl_figure(fit, knee)
    if sizing is not None:
        figures["sizing"] = sizing_figure(sizing)
    growth_doc = None
    if growth is not None:
        growth_doc = growth.to_json()
        figures["growth"] = growth_figure(
            [t.isoformat() for t in growth.history.timestamps],
            [float(v) for v in growth.history.rps],
            growth.forecast,
            growth_doc["capacity"]["fleet_usable_rps"],
            growth_doc["runs_out"],
        )
    return render_page(
        "capacity.html.j2",
        figures,
        templates=TEMPLATES,
        title=title,
        fit=None if fit is None else fit.to_json(),
        rows=[] if fit is None else _rows(fit),
        live=live,
        steps=steps,
        probes=probes,
        sizing=sizing,
        growth=growth_doc,
    )


def _refit(steps: list[Mapping[str, Any]]) -> UslFit | None:
    points = [(float(s["concurrency"]), float(s["throughput"])) for s in steps]
    points = [(n, x) for n, x in points if x > 0]
    try:
        return fit_usl([n for n, _ in points], [x for _, x in points])
    except (PerflabError, ValueError, ArithmeticError):
        return None
