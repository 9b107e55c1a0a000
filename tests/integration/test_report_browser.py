"""The HTML report in a real browser: a real run, rendered by the CLI, drawn by headless Chromium.

Chromium runs offline (every host name resolves to nothing), so a chart that needed the
network would stay empty. The page is checked three ways: the DOM after its scripts ran
(every chart container holds plotly's SVG with plotted traces, none shows an error), the
console (no JavaScript errors), and a screenshot (a real image, not a blank page).
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
import zlib
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from perflab.report.html import render_comparison
from perflab.store import load_run, read_intervals

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="chromium is not installed (apt-get install chromium; .ci/run installs it)",
    ),
]
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
_VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "track",
    "wbr",
}


def _chromium(page: Path, tmp: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    profile.mkdir()
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--virtual-time-budget=8000",
        "--enable-logging=stderr",
        "--v=0",
    ]
    return subprocess.run(
        [CHROMIUM, *flags, *extra, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def _console_errors(stderr: str) -> list[str]:
    """Console lines that report an error: uncaught exceptions, console.error, ours."""
    lines = [line for line in stderr.splitlines() if ":CONSOLE" in line]
    return [
        line
        for line in lines
        if "uncaught" in line.lower() or "error" in line.lower() or "perflab:" in line
    ]


class _Charts(HTMLParser):
    """For each ``[data-figure]`` element: the classes and path data drawn inside it."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, str | None]] = []  # (tag, figure it belongs to)
        self.charts: dict[str, dict[str, Any]] = {}
        self.body: dict[str, str | None] = {}
        self.error_classes: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "body":
            self.body = a
        if any(c == "error" or c.endswith("-error") for c in classes):  # not plotly's "xerror"
            self.error_classes.append(" ".join(classes))
        figure = self.stack[-1][1] if self.stack else None
        if a.get("data-figure"):
            figure = a["data-figure"]
            self.charts[figure] = {"classes": set(), "paths": 0, "traces": 0}
        if figure is not None:
            chart = self.charts[figure]
            chart["classes"].update(classes)
            chart["traces"] += "trace" in classes
            chart["paths"] += tag == "path" and len(a.get("d") or "") > 10
        if tag not in _VOID:
            self.stack.append((tag, figure))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()[0] == tag:
                break


def _png_size_and_variety(path: Path) -> tuple[int, int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    pos, idat = 8, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompress(idat)
    return width, height, len(set(raw))


def _check_dom(dom: str) -> _Charts:
    parsed = _Charts()
    parsed.feed(dom)
    assert parsed.charts, "no chart containers in the page"
    assert parsed.body.get("data-failed") == "0", parsed.body
    assert parsed.body.get("data-rendered") == str(len(parsed.charts)), parsed.body
    assert parsed.body.get("data-charts") == str(len(parsed.charts))
    for name, chart in parsed.charts.items():
        assert "main-svg" in chart["classes"], f"{name}: plotly drew no SVG"
        assert chart["traces"] and chart["paths"], f"{name}: no plotted traces"
    assert parsed.error_classes == []
    return parsed


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

    dumped = _chromium(page, tmp_path, "--dump-dom")
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    assert _console_errors(dumped.stderr) == []
    parsed = _check_dom(dumped.stdout)
    assert {"throughput", "latency", "spectrum", "errors", "p99_by_name"} <= set(parsed.charts)

    shot = tmp_path / "report.png"
    taken = _chromium(page, tmp_path, f"--screenshot={shot}", "--window-size=1400,4000")
    assert taken.returncode == 0 and shot.exists(), taken.stderr[-2000:]
    assert _console_errors(taken.stderr) == []
    width, height, variety = _png_size_and_variety(shot)
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
    dumped = _chromium(page, tmp_path, "--dump-dom")
    assert _console_errors(dumped.stderr) == []
    parsed = _check_dom(dumped.stdout)
    assert set(parsed.charts) == {
        "forest",
        "overlay_latency",
        "overlay_throughput",
        "overlay_spectrum",
    }
