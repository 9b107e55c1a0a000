"""Capacity reports as a user makes them: the real CLI in a subprocess writes the page, and
headless Chromium (offline) draws every chart in it.

``tests.servers.slots`` serves 4 requests at a time for exactly 20 ms each: 200 req/s, so
the steps flatten at 200 req/s and the SLO search has a known breaking point to find.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tests.browser import check_charts, chromium, console_errors, needs_chromium
from tests.conftest import ServerFactory
from tests.unit.capacity.traffic_data import csv_text, synthetic

pytestmark = [pytest.mark.slow, needs_chromium]
PERFLAB = [sys.executable, "-m", "perflab.cli.main"]
SPECSDM91 = (
    "load,throughput\n1,64.9\n18,995.9\n36,1652.4\n72,1853.2\n108,1828.9\n144,1775\n216,1702.2\n"
)


def _perflab(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PERFLAB, *args], cwd=cwd, capture_output=True, text=True, timeout=180, check=False
    )


def _charts_drawn(page: Path, tmp_path: Path) -> set[str]:
    dumped = chromium(page, tmp_path, "--dump-dom")
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    assert console_errors(dumped.stderr) == []
    return set(check_charts(dumped.stdout).charts)


def test_capacity_test_writes_json_and_a_report_with_steps_fit_and_probes(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    url = server_factory("slots", "--slots", "4", "--service-ms", "20").url + "/"
    page = tmp_path / "capacity.html"
    done = _perflab(
        tmp_path, "capacity", "test", url, "--steps", "1,4,8", "--min-hold", "3s",
        "--max-hold", "6s", "--window", "3s", "--workers", "1", "--slo", "p99<100ms",
        "--probe-time", "3s", "--max-probe-time", "3s", "--max-time", "90s", "--tolerance", "15%",
        "--json", "--html", str(page),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    doc = json.loads(done.stdout)
    assert [s["concurrency"] for s in doc["steps"][:3]] == [1, 4, 8]
    assert doc["usl"]["peak_throughput"] > 0 and doc["max_rate"] is not None
    assert doc["max_rate"] == pytest.approx(200.0, rel=0.2)  # 3 s probes
    assert f"capacity report {page}" in done.stderr
    assert _charts_drawn(page, tmp_path) == {"steps", "usl", "search"}
    html = page.read_text()
    assert "knee" in html and "Breaking point" in html and doc["runs"][0][:12] in html


def test_fit_and_plan_pages_draw_their_charts(tmp_path: Path) -> None:
    data = tmp_path / "specsdm91.csv"
    data.write_text(SPECSDM91)
    fit = _perflab(tmp_path, "capacity", "fit", str(data), "--json", "--html", "fit.html")
    assert fit.returncode == 0, fit.stderr
    assert json.loads(fit.stdout)["peak_concurrency"] == pytest.approx(96.4, rel=0.01)
    assert _charts_drawn(tmp_path / "fit.html", tmp_path) == {"usl"}

    sizing = _perflab(
        tmp_path, "capacity", "plan", "--rate", "500", "--service-time", "20ms",
        "--target", "p99<100ms", "--json", "--html", "sizing.html",
    )  # fmt: skip
    assert sizing.returncode == 0, sizing.stderr
    servers = json.loads(sizing.stdout)["servers"]
    assert _charts_drawn(tmp_path / "sizing.html", tmp_path) == {"sizing"}
    assert f"{servers} servers" in (tmp_path / "sizing.html").read_text()

    times, values = synthetic(weeks=8)
    (tmp_path / "traffic.csv").write_text(csv_text(times, values))
    growth = _perflab(
        tmp_path, "capacity", "plan", "--history", "traffic.csv", "--per-instance-rps", "800",
        "--instances", "2", "--price-per-hour", "0.25", "--html", "growth.html",
    )  # fmt: skip
    assert growth.returncode == 0, growth.stderr
    assert _charts_drawn(tmp_path / "growth.html", tmp_path) == {"growth"}
    assert "when capacity runs out" in (tmp_path / "growth.html").read_text()
