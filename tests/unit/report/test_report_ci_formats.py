"""Markdown job summaries and JUnit XML: content, escaping, failures where CI needs them."""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from perflab.report.junit import comparison_junit, run_junit
from perflab.report.markdown import comparison_markdown, escape, run_markdown
from perflab.store import load_run

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "run-v1"


def _doc() -> dict[str, Any]:
    doc = copy.deepcopy(load_run(GOLDEN))
    doc["status"] = "failed"
    doc["thresholds"] = [
        {
            "threshold": "p99<300ms",
            "scope": None,
            "metric": "p99",
            "observed": 32.484,
            "limit": 300.0,
            "passed": True,
        },
        {
            "threshold": "GET /a|b: error_rate<1%",
            "scope": "GET /a|b",
            "metric": "error_rate",
            "observed": 0.05,
            "limit": 0.01,
            "passed": False,
        },
    ]
    doc["by_name"]["GET /x|<b>y</b>\x01"] = doc["by_name"].pop("GET /search")
    return doc


def _comparison() -> dict[str, Any]:
    row = {
        "base": 10.0,
        "candidate": 13.0,
        "change_pct": 30.0,
        "ci_low_pct": 20.0,
        "ci_high_pct": 41.0,
        "verdict": "regressed",
    }
    same = {
        "base": 10.0,
        "candidate": 10.1,
        "change_pct": 1.0,
        "ci_low_pct": -2.0,
        "ci_high_pct": 4.0,
        "verdict": "no significant change",
    }
    return {
        "verdict": "regressed",
        "by_name": {"*": {"p99": row, "p50": same}, "GET /a|b": {"p99": same}},
        "method": "block bootstrap",
        "notes": ["GET /c: no interval for p99.9"],
        "added": ["GET /new"],
    }


def test_escape_neutralises_table_and_html_syntax() -> None:
    assert escape("a|b") == "a\\|b"
    assert escape("<script>") == "&lt;script&gt;"
    assert escape("x\ny") == "x y"
    assert escape("*bold* `code` [link]") == "\\*bold\\* \\`code\\` \\[link\\]"


def test_run_markdown_has_summary_checklist_and_table() -> None:
    text = run_markdown(_doc())
    lines = text.splitlines()
    assert lines[0].startswith("## ❌ perflab run")
    assert "- [x] p99&lt;300ms: 32.5ms" in text
    assert "- [ ] GET /a\\|b: error\\_rate&lt;1%: 5.00% **FAILED**" in text
    table = [line for line in lines if line.startswith("| GET /x")]
    assert len(table) == 1
    cells = table[0].split(" | ")
    assert cells[0] == "| GET /x\\|&lt;b&gt;y&lt;/b&gt;"  # control characters dropped
    header = next(line for line in lines if line.startswith("| request |"))
    assert header.count(" | ") == table[0].count(" | ")  # the pipe in the name is escaped
    assert text.index("### Thresholds") < text.index("### Requests")


def test_run_junit_fails_exactly_the_failed_thresholds() -> None:
    root = ET.fromstring(run_junit(_doc()))
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures")) == ("3", "1")
    assert root.get("failures") == "1"
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert cases["p99<300ms"].find("failure") is None
    failure = cases["GET /a|b: error_rate<1%"].find("failure")
    assert failure is not None and "observed 5.00% (limit 1.00%)" in (failure.get("message") or "")
    assert cases["run completed"].find("failure") is None  # failed because of a threshold


@pytest.mark.parametrize("status", ["error", "aborted", "interrupted"])
def test_a_run_that_did_not_finish_fails_its_own_case(status: str) -> None:
    doc = _doc()
    doc["status"], doc["thresholds"] = status, []
    doc["stop_reason"] = "boom \x00 with a NUL"
    root = ET.fromstring(run_junit(doc))
    case = next(c for c in root.iter("testcase") if c.get("name") == "run completed")
    failure = case.find("failure")
    assert failure is not None and status in (failure.get("message") or "")
    assert "\x00" not in run_junit(doc)


def test_comparison_junit_and_markdown() -> None:
    doc = _doc()
    root = ET.fromstring(comparison_junit(_comparison(), doc, doc))
    suite = root.find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures")) == ("3", "1")
    failed = [c for c in suite.iter("testcase") if c.find("failure") is not None]
    assert [(c.get("classname"), c.get("name")) for c in failed] == [
        ("perflab.compare.all requests", "p99")
    ]
    text = comparison_markdown(_comparison(), doc, doc)
    assert text.startswith("## 🔴 perflab compare: regressed")
    assert (
        "| all requests | p99 | 10.0ms | 13.0ms | +30.0% | +20.0% .. +41.0% | 🔴 regressed |"
        in text
    )
    assert "| GET /a\\|b | p99 |" in text and "⚪ no change" in text
    assert "only in the candidate: GET /new" in text
    assert "> GET /c: no interval for p99.9" in text
