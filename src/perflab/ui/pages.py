"""The dashboard's HTML: the report's own templates and figures, served instead of inlined.

The run and comparison pages *are* the HTML report (``perflab.report.html``): same figures,
same tables, same template blocks. A Jinja ``ChoiceLoader`` looks in ``ui/templates`` first,
whose ``base.html.j2`` replaces the report's: it adds the dashboard's navigation and loads
plotly.js once from ``/static/plotly.min.js`` rather than embedding 4.8 MB in every page.
Secrets are redacted by the report's own context (``summary.redacted``), and the dashboard's
token is never in the context of any page.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import jinja2

from perflab.model.htmljson import script_json
from perflab.report.changes import comparison_rows
from perflab.report.html import render as report_render
from perflab.report.html.comparison import comparison_figures
from perflab.report.html.data import run_data
from perflab.report.html.figures import run_figures

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(
            [jinja2.FileSystemLoader(TEMPLATES), jinja2.FileSystemLoader(report_render.TEMPLATES)]
        ),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pretty"] = report_render.pretty
    return env


@cache
def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"


def page(
    template: str,
    *,
    root: str = "",
    section: str = "",
    figures: Mapping[str, Any] | None = None,
    chrome: Mapping[str, Any] | None = None,
    **context: Any,
) -> str:
    """Render ``template`` with the dashboard's frame.

    ``chrome`` carries what every page shows around its content (the catalog's redacted URL,
    whether a run is live); ``root`` is the mount path, for links behind a proxy.
    """
    figures = dict(figures or {})
    return (
        environment()
        .get_template(template)
        .render(
            root=root,
            section=section,
            figures=figures,
            figures_json=script_json(figures),
            version=_version("perflab"),
            plotly_version=_version("plotly"),
            generated=time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
            chrome=dict(chrome or {}),
            **context,
        )
    )


def run_page(
    doc: Mapping[str, Any],
    intervals: Sequence[Mapping[str, Any]],
    generator: Sequence[Mapping[str, Any]],
    **frame: Any,
) -> str:
    """A stored run: every chart and table of its HTML report."""
    data = run_data(doc, intervals, generator)
    figures = run_figures(doc, data)
    context = report_render.run_context(doc)
    return page("ui_run.html.j2", section="runs", figures=figures, data=data, **context, **frame)


def compare_page(
    comparison: Mapping[str, Any],
    base: tuple[Mapping[str, Any], Sequence[Mapping[str, Any]]],
    cand: tuple[Mapping[str, Any], Sequence[Mapping[str, Any]]],
    **frame: Any,
) -> str:
    """An A/B comparison: the report's verdict table with confidence intervals and overlays."""
    figures = comparison_figures(comparison, run_data(*base), run_data(*cand))
    return page(
        "ui_compare.html.j2",
        section="runs",
        figures=figures,
        comparison=comparison,
        rows=comparison_rows(comparison),
        base=report_render.run_context(base[0]),
        cand=report_render.run_context(cand[0]),
        **frame,
    )
