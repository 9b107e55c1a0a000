"""GitHub-flavoured Markdown for CI job summaries (``>> $GITHUB_STEP_SUMMARY``).

A run: the verdict, key numbers, thresholds as a checklist and the per-request table. A
comparison: the verdict and every figure with its change and confidence interval. Text from
the run (request names, thresholds, errors) is escaped so it cannot break a table or inject
HTML.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from perflab.report import summary
from perflab.report.changes import comparison_rows

_CONTROL = re.compile("[\x00-\x1f\x7f]")
_STATUS_ICON = {"pass": "✅", "warn": "⚠️", "fail": "❌"}
_VERDICT_ICON = {"regressed": "🔴", "improved": "🟢", "no_change": "⚪"}


def escape(text: Any) -> str:
    """Plain text for a table cell or list item: no table breaks, HTML or emphasis."""
    out = _CONTROL.sub("", str(text).replace("\r", " ").replace("\n", " ").replace("\t", " "))
    out = out.replace("\\", "\\\\")
    out = out.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for ch in "|*_`[]":
        out = out.replace(ch, "\\" + ch)
    return out


def _table(header: list[str], rows: list[list[str]], *, left: int = 1) -> list[str]:
    align = ["---"] * left + ["---:"] * (len(header) - left)
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _heading(doc: Mapping[str, Any]) -> list[str]:
    verdict = summary.verdict(doc)
    name = escape(doc.get("name", "run"))
    lines = [f"## {_STATUS_ICON[verdict.tone]} perflab run {name} · {escape(verdict.headline)}", ""]
    when = f"{doc.get('started_at') or '?'} → {doc.get('ended_at') or '?'}"
    target = escape(summary.target(doc))
    lines += [f"id {escape(str(doc.get('id', '?'))[:12])} · {escape(when)} · target {target}", ""]
    if verdict.reasons:
        lines += [f"- {escape(reason)}" for reason in verdict.reasons] + [""]
    return lines


def run_markdown(doc: Mapping[str, Any]) -> str:
    """The job summary of one run."""
    lines = _heading(doc)
    numbers = summary.key_numbers(doc)
    lines += _table(
        [escape(label) for label, _, _ in numbers],
        [[escape(value + (f" ({detail})" if detail else "")) for _, value, detail in numbers]],
        left=0,
    )
    checks = summary.thresholds(doc)
    if checks:
        lines += ["", "### Thresholds", ""]
        lines += [
            f"- [{'x' if t.passed else ' '}] {escape(t.threshold)}: {escape(t.observed)}"
            + ("" if t.passed else " **FAILED**")
            for t in checks
        ]
    lines += ["", "### Requests", ""]
    header = ["request", "requests", "rps", "errors", "error rate", "p50", "p90", "p99"]
    header += ["p99.9", "max", "service p99"]
    keys = ("requests", "rps", "errors", "error_rate", "p50", "p90", "p99", "p99.9", "max")
    rows = [
        [escape(r["name"]), *(escape(r[k]) for k in keys), escape(r["service_p99"])]
        for r in summary.request_rows(doc)
    ]
    lines += _table(header, rows)
    lines += _scenario(doc)
    return "\n".join(lines) + "\n"


def _scenario(doc: Mapping[str, Any]) -> list[str]:
    lines: list[str] = []
    groups = doc.get("transactions") or {}
    if groups:
        lines += ["", "### Transactions and iterations", ""]
        rows = []
        for name, g in sorted(groups.items()):
            lat = g.get("latency_ms") or {}
            rows.append(
                [escape(name), f"{g.get('count', 0):,}", f"{g.get('failed', 0):,}"]
                + [summary.format_observed(p, lat.get(p)) for p in ("p50", "p99", "max")]
            )
        lines += _table(["name", "count", "failed", "p50", "p99", "max"], rows)
    checks = doc.get("checks") or {}
    if checks:
        lines += ["", "### Checks", ""]
        lines += [
            f"- [{'x' if not c.get('fails') else ' '}] {escape(name)}: "
            f"{c.get('passes', 0):,} passed, {c.get('fails', 0):,} failed"
            for name, c in checks.items()
        ]
    return lines


def comparison_markdown(
    comparison: Mapping[str, Any], base_doc: Mapping[str, Any], cand_doc: Mapping[str, Any]
) -> str:
    """The job summary of a comparison: verdict, then every figure with its interval."""
    verdict = str(comparison.get("verdict", "no_change"))
    icon = _VERDICT_ICON.get(verdict, "⚪")
    lines = [f"## {icon} perflab compare: {escape(verdict.replace('_', ' '))}", ""]
    for label, doc in (("base", base_doc), ("candidate", cand_doc)):
        ident = escape(str(doc.get("id", "?"))[:12])
        lines.append(
            f"- {label}: {escape(doc.get('name', '?'))} ({ident}), {doc.get('started_at')}"
        )
    for key, word in (("added", "only in the candidate"), ("removed", "only in the base")):
        names = comparison.get(key) or []
        if names:
            lines.append(f"- {word}: " + ", ".join(escape(n) for n in names))
    lines.append("")
    rows = comparison_rows(comparison)
    lines += _table(
        ["request", "metric", "base", "candidate", "change", "95% CI", "verdict"],
        [
            [
                escape(r["name"]),
                escape(r["metric"]),
                escape(r["base"]),
                escape(r["candidate"]),
                escape(r["change"]),
                escape(r["ci"]),
                f"{_VERDICT_ICON[r['verdict']]} {r['verdict'].replace('_', ' ')}",
            ]
            for r in rows
        ],
        left=2,
    )
    notes = [str(n) for n in comparison.get("notes") or []]
    if comparison.get("method"):
        notes.append(f"Method: {comparison['method']}")
    if notes:
        lines += [""] + [f"> {escape(note)}" for note in notes]
    return "\n".join(lines) + "\n"
