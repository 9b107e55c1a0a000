"""The HTML report: self-contained, offline, escaped, redacted, complete, and fast."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from tests.synthetic_run import synthetic_run

from perflab.report.html import render_comparison, render_run
from perflab.report.html.render import plotly_js
from perflab.store import load_run, read_generator, read_intervals

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "run-v1"
_FIGURES = re.compile(r'<script type="application/json" id="perflab-figures">(.*?)</script>', re.S)
# anything that would make a browser fetch: src/href/action/srcset with a scheme or //,
# CSS url() and @import, <link>, <base>, meta refresh
_FETCHES = re.compile(
    r"""(?:\b(?:src|href|action|srcset|poster|data)\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:|//))"""
    r"""|url\(|@import|<link\b|<base\b|http-equiv""",
    re.I,
)


def _figures(html: str) -> dict[str, Any]:
    match = _FIGURES.search(html)
    assert match, "no figure data"
    figures: dict[str, Any] = json.loads(match.group(1))
    return figures


def _without_plotly(html: str) -> str:
    source = plotly_js()
    assert html.count(source) == 1, "plotly.js must be embedded exactly once"
    return html.replace(source, "")


@pytest.fixture(scope="module")
def golden_html() -> str:
    return render_run(load_run(GOLDEN), read_intervals(GOLDEN), read_generator(GOLDEN))


def test_page_is_self_contained_and_offline(golden_html: str) -> None:
    assert golden_html.startswith("<!DOCTYPE html>")
    rest = _without_plotly(golden_html)
    assert not _FETCHES.findall(rest), _FETCHES.findall(rest)
    assert "<script src" not in golden_html.lower()
    # plotly.js itself only names URLs inside strings (map tiles, its logo link), never loads
    js_fetches = re.findall(r"<(?:script|link|img)[^>]+(?:src|href)=[\"']https?:", plotly_js())
    assert js_fetches == []


def test_every_chart_container_has_a_figure_with_data(golden_html: str) -> None:
    figures = _figures(golden_html)
    containers = re.findall(r'data-figure="([^"]+)"', golden_html)
    assert containers and set(containers) == set(figures)
    expected = {"throughput", "latency", "service", "p99_by_name", "spectrum", "generator_load"}
    assert expected <= set(figures)
    for name, fig in figures.items():
        assert fig["data"], name
        assert any(any(v is not None for v in t.get("x", [])) for t in fig["data"]), name
    assert f'data-charts="{len(figures)}"' in golden_html


def test_summary_comes_first_and_names_the_verdict(golden_html: str) -> None:
    doc = load_run(GOLDEN)
    order = [golden_html.index(f'id="{s}"') for s in ("verdict", "over-time", "distribution")]
    assert order == sorted(order)
    assert doc["status"].upper() in golden_html
    for name in doc["by_name"]:
        assert name in golden_html


def test_names_cannot_break_out_of_the_page() -> None:
    doc, rows, generator = synthetic_run(seconds=5, names=2, rps=5, errors=False)
    evil = "</script><script>alert(1)</script><!--"
    for row in rows:
        row["name"] = evil if row["name"] == "POST /orders" else row["name"]
    doc["by_name"][evil] = doc["by_name"].pop("POST /orders")
    html = render_run(doc, rows, generator)
    assert "<script>alert(1)" not in html
    figures = _figures(html)
    names = [t["name"] for t in figures["p99_by_name"]["data"]]
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;!--" in names  # plotly text


def test_secrets_are_redacted_even_if_run_json_kept_them() -> None:
    doc, rows, generator = synthetic_run(seconds=5, names=2, rps=5)
    doc["config"]["password"] = "pa55word"
    doc["config"]["dsn"] = "postgresql://app:s3cret@db:5432/x"
    html = render_run(doc, rows, generator)
    for secret in ("hunter2", "not-redacted-upstream", "pa55word", "s3cret"):
        assert secret not in html
    assert "[redacted]" in html


def test_scenario_tables_and_exceptions_are_shown_escaped() -> None:
    doc, rows, generator = synthetic_run(seconds=5, names=2, rps=5)
    latency = {"p50": 1.0, "p90": 2.0, "p99": 3.0, "max": 4.0}
    doc["transactions"] = {
        "checkout": {
            "kind": "transaction",
            "count": 9,
            "rps": 1.8,
            "failed": 1,
            "error_rate": 0.111,
            "dropped": 0,
            "latency_ms": latency,
        },
    }
    doc["checks"] = {"status 200": {"passes": 7, "fails": 2, "rate": 0.777}}
    doc["exceptions"] = [
        {
            "where": "Shopper.buy",
            "type": "KeyError",
            "count": 3,
            "traceback": "Traceback (most recent call last):\n  <script>x</script>",
        }
    ]
    doc["generator"].update(saturated=True, saturation_reasons=["worker CPU at 99%"])
    html = render_run(doc, rows, generator)
    for text in (
        "Transactions and iterations",
        "checkout",
        "status 200",
        "77.70%",
        "Shopper.buy raised",
        "&lt;script&gt;x&lt;/script&gt;",
        "Generator saturated",
        "worker CPU at 99%",
    ):
        assert text in html, text
    assert "<script>x</script>" not in html


def _comparison() -> dict[str, Any]:
    def figure(base: float, cand: float, low: float, high: float, verdict: str) -> dict[str, Any]:
        change = (cand / base - 1) * 100
        return {
            "base": base,
            "candidate": cand,
            "change_pct": change,
            "ci_low_pct": low,
            "ci_high_pct": high,
            "verdict": verdict,
        }

    return {
        "verdict": "regressed",
        "by_name": {
            "*": {
                "p50": figure(10.0, 10.1, -2.0, 3.0, "no_change"),
                "p99": figure(40.0, 52.0, 18.0, 43.0, "regressed"),
                "rps": figure(1000.0, 1100.0, 6.0, 14.0, "improved"),
                "error_rate": {
                    "base": 0.0,
                    "candidate": 0.01,
                    "change_pct": 1.0,
                    "ci_low_pct": 0.5,
                    "ci_high_pct": None,
                    "verdict": "regressed",
                    "unit": "pp",
                },
            },
            "GET /a": {"p99": figure(30.0, 29.0, -9.0, 4.0, "no_change")},
        },
        "method": "circular block bootstrap over seconds",
        "notes": ["a note <b>about</b> something"],
        "min_effect": 0.05,
    }


def test_comparison_page_draws_the_intervals() -> None:
    base, rows_b, _ = synthetic_run(seconds=20, names=2, rps=10, seed=1)
    cand, rows_c, _ = synthetic_run(seconds=25, names=2, rps=10, seed=2)
    html = render_comparison(_comparison(), base, rows_b, cand, rows_c)
    rest = _without_plotly(html)
    assert not _FETCHES.findall(rest)
    assert "REGRESSED" in html and "circular block bootstrap" in html
    assert "a note &lt;b&gt;about&lt;/b&gt; something" in html
    figures = _figures(html)
    assert set(figures) == {"forest", "overlay_latency", "overlay_throughput", "overlay_spectrum"}
    traces = {t["name"]: t for t in figures["forest"]["data"]}
    assert set(traces) == {"regressed", "improved", "no change"}
    regressed = traces["regressed"]
    i = regressed["y"].index("all requests · p99")
    assert regressed["x"][i] == pytest.approx(30.0)
    assert regressed["error_x"]["array"][i] == pytest.approx(13.0)
    assert regressed["error_x"]["arrayminus"][i] == pytest.approx(12.0)
    j = regressed["y"].index("all requests · error_rate (pp)")
    assert regressed["error_x"]["array"][j] == 0.0  # unbounded end drawn at the point
    assert "+1.00 pp" in html and "+30.0%" in html
    assert len(figures["overlay_latency"]["data"]) == 4


@pytest.mark.slow
def test_one_hour_ten_names_renders_in_under_five_seconds() -> None:
    doc, rows, generator = synthetic_run(seconds=3600, names=10, rps=100)
    assert len(rows) == 36_000
    plotly_js()  # read once per process, as every later report in it would
    started = time.process_time()  # CPU time: the suite's other processes do not count
    html = render_run(doc, rows, generator)
    elapsed = time.process_time() - started
    assert elapsed < 5.0, f"render took {elapsed:.2f} s of CPU"
    assert len(_figures(html)["latency"]["data"][0]["x"]) == 720
