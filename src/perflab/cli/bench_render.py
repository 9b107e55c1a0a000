"""How ``perflab bench`` shows results: rich tables, Markdown job summaries, JUnit XML.

Kept out of :mod:`perflab.bench` (engines never render) and out of ``cli/bench.py`` (wiring
only). Markdown and JUnit reuse the escaping of :mod:`perflab.report.markdown` and
:mod:`perflab.report.junit`, so benchmark names cannot break a table or the XML.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

from rich.table import Table
from rich.text import Text

from perflab.report.junit import clean
from perflab.report.markdown import escape

_STYLE = {"slower": "bold red", "faster": "bold green", "no_change": "dim"}
_WORDS = {"slower": "slower", "faster": "faster", "no_change": "no significant change"}
_ICON = {"slower": "🔴", "faster": "🟢", "no_change": "⚪"}


def format_seconds(value: float | None) -> str:
    """Seconds with 3 significant digits in the unit that reads best (ns to s)."""
    if value is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value / 1e-9:.3g} ns"


def params_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={json.dumps(v, default=repr)}" for k, v in params.items())


def results_table(doc: dict[str, Any]) -> Table:
    """One row per benchmark: median and its CI, spread, samples, outliers, status."""
    table = Table(title=f"benchmarks {doc.get('name')} ({str(doc.get('id'))[:8]})")
    table.title_justify = "left"
    for header in ("benchmark", "params", "median", "95% CI", "CV", "samples", "outliers"):
        table.add_column(header, justify="left" if header in ("benchmark", "params") else "right")
    table.add_column("status")
    for entry in doc["benchmarks"]:
        stats = entry.get("stats") or {}
        ok = entry.get("status") == "ok"
        table.add_row(
            Text(str(entry["name"])),
            Text(params_text(entry.get("params") or {})),
            format_seconds(stats.get("median")),
            f"[{format_seconds(stats['ci_low'])}, {format_seconds(stats['ci_high'])}]"
            if stats
            else "-",
            f"{stats['cv']:.1%}" if stats else "-",
            f"{stats['processes']}x{stats['n'] // max(stats['processes'], 1)}" if stats else "-",
            str(entry.get("outliers", 0)),
            Text("ok" if ok else f"FAILED: {entry.get('error')}", style="" if ok else "red"),
        )
    return table


def comparison_table(doc: dict[str, Any]) -> Table:
    base, cand = doc["base"], doc["candidate"]
    table = Table(title=f"{base.get('name')} -> {cand.get('name')}", title_justify="left")
    for header in ("benchmark", "params", "base", "candidate", "ratio", "95% CI", "verdict"):
        table.add_column(header, justify="left" if header in ("benchmark", "params") else "right")
    for r in doc["benchmarks"]:
        table.add_row(
            Text(str(r["name"])),
            Text(params_text(r["params"])),
            format_seconds(r["base"]),
            format_seconds(r["candidate"]),
            f"{r['ratio']:.3f}x",
            f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}]",
            Text(_WORDS[r["verdict"]], style=_STYLE[r["verdict"]]),
        )
    return table


def summary_line(doc: dict[str, Any]) -> Text:
    verdict = doc["verdict"]
    line = Text("verdict: ", style="bold")
    line.append(_WORDS[verdict], style=_STYLE[verdict])
    changed = [
        f"{r['name']} {r['ratio']:.3f}x" for r in doc["benchmarks"] if r["verdict"] == verdict
    ]
    if verdict != "no_change":
        line.append(f" ({', '.join(changed[:4])}{' ...' if len(changed) > 4 else ''})")
    return line


def comparison_markdown(doc: dict[str, Any]) -> str:
    verdict = doc["verdict"]
    lines = [f"## {_ICON[verdict]} perflab bench compare: {_WORDS[verdict]}", ""]
    for side in ("base", "candidate"):
        ref = doc[side]
        commit = str(ref.get("git_commit") or "?")[:12]
        lines.append(f"- {side}: {escape(ref.get('name'))} ({escape(commit)})")
    lines += ["", "| benchmark | params | base | candidate | ratio | 95% CI | verdict |"]
    lines.append("| --- | --- | ---: | ---: | ---: | ---: | --- |")
    for r in doc["benchmarks"]:
        cells = [
            escape(r["name"]),
            escape(params_text(r["params"])),
            escape(format_seconds(r["base"])),
            escape(format_seconds(r["candidate"])),
            f"{r['ratio']:.3f}x",
            f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}]",
            f"{_ICON[r['verdict']]} {_WORDS[r['verdict']]}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    notes = [*doc.get("notes", []), f"Method: {doc.get('method')}"]
    lines += [""] + [f"> {escape(note)}" for note in notes]
    return "\n".join(lines) + "\n"


def comparison_junit(doc: dict[str, Any]) -> str:
    """One test case per benchmark; ``slower`` is a failure."""
    base, cand = doc["base"].get("name"), doc["candidate"].get("name")
    suite = ET.Element("testsuite", {"name": clean(f"perflab bench compare {base} -> {cand}")})
    failures = 0
    for r in doc["benchmarks"]:
        label = r["name"] + (f"[{params_text(r['params'])}]" if r["params"] else "")
        case = ET.SubElement(
            suite, "testcase", {"classname": "perflab.bench", "name": clean(label), "time": "0"}
        )
        detail = (
            f"{format_seconds(r['base'])} -> {format_seconds(r['candidate'])} "
            f"(ratio {r['ratio']:.3f}, 95% CI [{r['ci_low']:.3f}, {r['ci_high']:.3f}], "
            f"p={r['p_value']:.3g})"
        )
        if r["verdict"] == "slower":
            failures += 1
            message = clean(f"{label} slower: {detail}")
            node = ET.SubElement(case, "failure", {"message": message, "type": "Regression"})
            node.text = message
        else:
            ET.SubElement(case, "system-out").text = clean(f"{r['verdict']}: {detail}")
    for key, value in (("tests", len(doc["benchmarks"])), ("failures", failures)):
        suite.set(key, str(value))
    suite.set("errors", "0")
    root = ET.Element("testsuites", {"name": "perflab"})
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def history_doc(name: str, machine: str | None, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``--json`` document of ``bench history`` from catalog rows (CV = stdev / mean)."""
    return {
        "schema": "perflab.bench-history/1",
        "name": name,
        "machine": machine,
        "results": [_history_row(row) for row in rows],
    }


def _history_row(row: dict[str, Any]) -> dict[str, Any]:
    mean, stdev = row["mean"], row["stdev"]
    return {
        "started_at": row["started_at"],
        "git_commit": row["git_commit"],
        "run_id": row["run_id"],
        "run_name": row["run_name"],
        "params": json.loads(row["params"]),
        "machine": row["machine"],
        "median": row["median"],
        "ci_low": row["ci_low"],
        "ci_high": row["ci_high"],
        "cv": stdev / mean if mean and stdev is not None else None,
        "n": row["n"],
        "unit": row["unit"],
        "path": row["path"],
    }


def history_table(doc: dict[str, Any]) -> Table:
    """One row per stored result, oldest first; the params and machine columns appear only
    when the rows differ in them."""
    rows = doc["results"]
    title = f"{doc['name']}: {len(rows)} result(s), oldest first"
    if doc.get("machine"):
        title += f", machine {doc['machine']}"
    table = Table(title=title, title_justify="left")
    extra = [key for key in ("params", "machine") if len({str(r[key]) for r in rows}) > 1]
    for header in ("started", "commit", *extra, "median", "95% CI", "CV", "n"):
        left = header in ("started", "commit", "params", "machine")
        table.add_column(header, justify="left" if left else "right")
    for r in rows:
        ci = "-"
        if r["ci_low"] is not None and r["ci_high"] is not None:
            ci = f"[{format_seconds(r['ci_low'])}, {format_seconds(r['ci_high'])}]"
        table.add_row(
            Text(str(r["started_at"] or "-")),
            Text(str(r["git_commit"] or "-")[:12]),
            *[Text(params_text(r["params"]) if k == "params" else str(r[k])) for k in extra],
            format_seconds(r["median"]),
            ci,
            "-" if r["cv"] is None else f"{r['cv']:.1%}",
            "-" if r["n"] is None else str(r["n"]),
        )
    return table
