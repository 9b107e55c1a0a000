"""One self-contained HTML page per run or comparison: Jinja2 markup, plotly.js inlined once.

The page needs no network: the CSS, plotly.js and the figures (as JSON) are all inside it.
Figures travel in a ``<script type="application/json">`` block with ``<``, ``>`` and ``&``
escaped, so no value (a request name, an error message) can end the script early. A small
inline script draws every ``[data-figure]`` container, then sets ``data-rendered`` (charts
drawn) and ``data-failed`` on ``<body>``; a chart that fails shows why, in its place.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from perflab.model.htmljson import script_json
from perflab.report import summary
from perflab.report.changes import comparison_rows
from perflab.report.html.comparison import comparison_figures
from perflab.report.html.data import run_data
from perflab.report.html.figures import run_figures
from perflab.report.html.process import memory_figure

TEMPLATES = Path(__file__).parent / "templates"
_CONFIG_LIMIT = 40_000  # characters of config JSON shown; replay configs can be huge


@cache
def _environment(extra: Path | None = None) -> jinja2.Environment:
    """The report templates; ``extra`` puts another folder of templates first (the capacity
    report extends this base template)."""
    folders = [TEMPLATES] if extra is None else [extra, TEMPLATES]
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folders),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pretty"] = pretty
    return env


@cache
def plotly_js() -> str:
    """plotly.js, minified, as shipped inside the plotly Python package (read once)."""
    from plotly.offline import get_plotlyjs

    source: str = get_plotlyjs()
    if "</script" in source.lower():  # would end the inline <script> early
        source = source.replace("</script", "<\\/script").replace("</SCRIPT", "<\\/SCRIPT")
    return source


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"


def pretty(value: Any) -> str:
    text = json.dumps(value, indent=2, sort_keys=False, default=str, ensure_ascii=False)
    if len(text) > _CONFIG_LIMIT:
        text = text[:_CONFIG_LIMIT] + f"\n... ({len(text) - _CONFIG_LIMIT:,} more characters)"
    return text


def render_page(
    template: str, figures: Mapping[str, Any], *, templates: Path | None = None, **context: Any
) -> str:
    """A self-contained page: ``template`` (from ``templates`` or the report's own) with the
    figures, plotly.js inlined and the version line every perflab page carries."""
    return (
        _environment(templates)
        .get_template(template)
        .render(
            figures=figures,
            figures_json=script_json(figures),
            plotly_js=Markup(plotly_js()),
            plotly_version=_version("plotly"),
            version=_version("perflab"),
            generated=time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
            **context,
        )
    )


def run_context(doc: Mapping[str, Any]) -> dict[str, Any]:
    generator = doc.get("generator") or {}
    return {
        "doc": doc,
        "verdict": summary.verdict(doc),
        "numbers": summary.key_numbers(doc),
        "thresholds": summary.thresholds(doc),
        "requests": summary.request_rows(doc),
        "target": summary.target(doc),
        "errors_by_kind": (doc.get("totals") or {}).get("errors_by_kind") or {},
        "transactions": doc.get("transactions") or {},
        "checks": doc.get("checks") or {},
        "exceptions": doc.get("exceptions") or [],
        "generator": generator,
        "environment": summary.redacted(doc.get("environment") or {}),
        "config": summary.redacted(doc.get("config") or {}),
        "tags": summary.redacted((doc.get("config") or {}).get("tags") or {}),
    }


def render_run(
    doc: Mapping[str, Any],
    intervals: Sequence[Mapping[str, Any]],
    generator: Sequence[Mapping[str, Any]] = (),
    process: Mapping[str, Any] | None = None,
) -> str:
    """The HTML report of one run (run.json's document plus its interval and generator rows).

    ``process``: what was watched of the target during the run, when it was (``{"memory":
    {"rows", "verdict", "exited"}, "profile": {"samples", "duration_s", "top", "flamegraph",
    "folded"}}``, either part optional); it becomes the "Target process" section.
    """
    data = run_data(doc, intervals, generator)
    figures = run_figures(doc, data)
    memory = (process or {}).get("memory")
    if memory and memory.get("rows"):
        figures["memory"] = memory_figure(memory["rows"], memory.get("verdict"))
    return render_page("run.html.j2", figures, data=data, process=process, **run_context(doc))


def render_comparison(
    comparison: Mapping[str, Any],
    base_doc: Mapping[str, Any],
    base_intervals: Sequence[Mapping[str, Any]],
    cand_doc: Mapping[str, Any],
    cand_intervals: Sequence[Mapping[str, Any]],
) -> str:
    """The HTML report of an A/B comparison (``perflab.compare.compare_runs``' result)."""
    base = run_data(base_doc, base_intervals)
    cand = run_data(cand_doc, cand_intervals)
    figures = comparison_figures(comparison, base, cand)
    return render_page(
        "compare.html.j2",
        figures,
        comparison=comparison,
        rows=comparison_rows(comparison),
        base=run_context(base_doc),
        cand=run_context(cand_doc),
    )
