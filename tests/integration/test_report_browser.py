"""The HTML report in a real browser: a real run, rendered by the CLI, drawn by headless Chromium.

Chromium runs offline (every host name resolves to nothing), so a chart that needed the
network would stay empty. The page is checked three ways: the DOM after its scripts ran
(every chart container holds plotly's SVG with plotted traces, none shows an error), the
console (no JavaScript errors), and a screenshot (a real image, not a blank page).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tests.browser import (
    check_charts,
    chromium,
    console_errors,
    needs_chromium,
    png_size_and_variety,
)

from perflab.report.html import render_comparison
from perflab.store import load_run, read_intervals

pytestmark = [pytest.mark.slow, needs_chromium]
PERFLAB = [sys.executable, "-m", "perflab.cli.main"]
SCENARIO = """
from perflab.scenario import User, checks, task


class Visitor(User):
    @task(4)
    async def home(self, s):
        await s.get("/", checks=[checks.status(200)])

    @task(1)
    async def broken(self, s):
        await s.get("/status/503", name="GET /broken", checks=[checks.status(200)])
"""


@pytest.fixture(scope="module")
def real_run(hello_url: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("report-run")
    scenario = folder / "visit.py"
    scenario.write_text(SCENARIO)
    out = folder / "run"
    args = [str(scenario), "--base-url", hello_url, "--vus", "2", "--duration", "3s"]
    args += ["--threshold", "p99<5s", "--out", str(out), "--quiet"]
    proc = subprocess.run([*PERFLAB, "run", *args], capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, proc.stderr
    return out


def test_run_report_draws_every_chart_offline(real_run: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [*PERFLAB, "report", str(real_run)], capture_output=True, text=True, timeout=90
    )
    assert proc.returncode == 0, proc.stderr
    page = real_run / "report.html"
    assert str(page) in proc.stderr

    dumped = chromium(page, tmp_path, "--dump-dom")
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    assert console_errors(dumped.stderr) == []
    parsed = check_charts(dumped.stdout)
    assert {"throughput", "latency", "spectrum", "errors", "p99_by_name"} <= set(parsed.charts)

    shot = tmp_path / "report.png"
    taken = chromium(page, tmp_path, f"--screenshot={shot}", "--window-size=1400,4000")
    assert taken.returncode == 0 and shot.exists(), taken.stderr[-2000:]
    assert console_errors(taken.stderr) == []
    width, height, variety = png_size_and_variety(shot)
    assert (width, height) == (1400, 4000)
    assert variety > 200, "the screenshot is (nearly) blank"
    assert shot.stat().st_size > 100_000


def test_comparison_report_draws_in_the_browser(real_run: Path, tmp_path: Path) -> None:
    doc, rows = load_run(real_run), read_intervals(real_run)
    change = {
        "base": 1.0,
        "candidate": 1.2,
        "change_pct": 20.0,
        "ci_low_pct": 8.0,
        "ci_high_pct": 31.0,
        "verdict": "regressed",
    }
    same = {
        **change,
        "change_pct": 1.0,
        "ci_low_pct": -3.0,
        "ci_high_pct": 4.0,
        "verdict": "no_change",
    }
    comparison = {"verdict": "regressed", "by_name": {"*": {"p99": change, "p50": same}}}
    page = tmp_path / "compare.html"
    page.write_text(render_comparison(comparison, doc, rows, doc, rows))
    dumped = chromium(page, tmp_path, "--dump-dom")
    assert console_errors(dumped.stderr) == []
    parsed = check_charts(dumped.stdout)
    assert set(parsed.charts) == {
        "forest",
        "overlay_latency",
        "overlay_throughput",
        "overlay_spectrum",
    }
