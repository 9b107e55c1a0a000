"""JUnit XML for CI test reports: thresholds and comparison verdicts as test cases.

A run is one ``<testsuite>``: a test case per threshold (failed threshold -> ``<failure>``)
and one for the run itself, which fails when it did not finish cleanly (error, aborted,
interrupted, or failed without a failing threshold to say why). A comparison is one
``<testsuite>`` with a test case per request name and metric; ``regressed`` -> ``<failure>``.
ElementTree escapes markup; characters XML 1.0 cannot hold at all are removed first.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from perflab.report import summary
from perflab.report.changes import comparison_rows

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def clean(text: Any) -> str:
    """Text XML 1.0 can carry (control characters and lone surrogates dropped)."""
    return _NOT_XML.sub("", str(text))


def _element(parent: ET.Element, tag: str, text: str | None = None, **attrs: Any) -> ET.Element:
    node = ET.SubElement(parent, tag, {k: clean(v) for k, v in attrs.items()})
    if text is not None:
        node.text = clean(text)
    return node


def _document(suite: ET.Element) -> str:
    root = ET.Element("testsuites", {"name": "perflab"})
    for key in ("tests", "failures", "errors", "time"):
        root.set(key, suite.get(key, "0"))
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def _properties(suite: ET.Element, values: Mapping[str, Any]) -> None:
    props = _element(suite, "properties")
    for name, value in values.items():
        if value not in (None, ""):
            _element(props, "property", name=name, value=value)


def run_junit(doc: Mapping[str, Any]) -> str:
    """One run's thresholds (and its completion) as a JUnit test suite."""
    status = str(doc.get("status", "unknown"))
    name = str(doc.get("name", "run"))
    duration = f"{float(doc.get('duration_s') or 0):.3f}"
    suite = ET.Element("testsuite", {"name": clean(f"perflab run {name}")})
    suite.set("timestamp", clean(doc.get("started_at") or ""))
    _properties(
        suite,
        {
            "run.id": doc.get("id"),
            "run.status": status,
            "target": summary.target(doc),
            "run.path": doc.get("path"),
        },
    )
    failures = 0
    results = doc.get("thresholds") or []
    for row, raw in zip(summary.thresholds(doc), results, strict=True):
        case = _element(suite, "testcase", classname="perflab.thresholds", name=row.threshold)
        case.set("time", "0")
        if not row.passed:
            failures += 1
            limit = raw.get("limit")
            message = f"{row.threshold}: observed {row.observed}" + (
                f" (limit {summary.format_observed(str(raw.get('metric')), limit)})"
                if isinstance(limit, int | float)
                else ""
            )
            _element(case, "failure", message, message=message, type="ThresholdFailed")
    case = _element(suite, "testcase", classname="perflab.run", name="run completed")
    case.set("time", duration)
    threshold_failed = failures > 0
    if status not in ("passed", "failed") or (status == "failed" and not threshold_failed):
        failures += 1
        reasons = summary.verdict(doc).reasons
        message = f"run {status}" + (f": {reasons[0]}" if reasons else "")
        _element(case, "failure", "\n".join(reasons) or message, message=message, type="RunFailed")
    verdict = summary.verdict(doc)
    _element(suite, "system-out", "\n".join([verdict.headline, *verdict.reasons]))
    suite.set("tests", str(len(results) + 1))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suite.set("skipped", "0")
    suite.set("time", duration)
    return _document(suite)


def comparison_junit(
    comparison: Mapping[str, Any], base_doc: Mapping[str, Any], cand_doc: Mapping[str, Any]
) -> str:
    """A comparison's verdicts as a JUnit test suite: one test case per name and metric."""
    base, cand = str(base_doc.get("name", "base")), str(cand_doc.get("name", "candidate"))
    suite = ET.Element("testsuite", {"name": clean(f"perflab compare {base} -> {cand}")})
    suite.set("timestamp", clean(cand_doc.get("started_at") or ""))
    _properties(
        suite,
        {
            "base.id": base_doc.get("id"),
            "candidate.id": cand_doc.get("id"),
            "verdict": comparison.get("verdict"),
            "method": comparison.get("method"),
        },
    )
    rows = comparison_rows(comparison)
    failures = 0
    for r in rows:
        case = _element(suite, "testcase", classname=f"perflab.compare.{r['name']}")
        case.set("name", clean(r["metric"]))
        case.set("time", "0")
        detail = f"{r['base']} -> {r['candidate']} ({r['change']}, 95% CI {r['ci']})"
        if r["verdict"] == "regressed":
            failures += 1
            message = f"{r['name']} {r['metric']} regressed: {detail}"
            _element(case, "failure", message, message=message, type="Regression")
        else:
            _element(case, "system-out", f"{r['verdict']}: {detail}")
    notes = [str(n) for n in comparison.get("notes") or []]
    _element(suite, "system-out", "\n".join([f"verdict: {comparison.get('verdict')}", *notes]))
    for key, value in (("tests", len(rows)), ("failures", failures), ("errors", 0)):
        suite.set(key, str(value))
    suite.set("skipped", "0")
    suite.set("time", "0")
    return _document(suite)
