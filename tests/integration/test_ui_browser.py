"""The dashboard for real: ``perflab ui`` as a subprocess, drawn by headless Chromium, and the
live stream of ``perflab run --ui`` read over plain HTTP while the run goes.

Chromium runs offline (every other host name resolves to nothing), so a page that needed a
CDN would stay empty; the checks on the drawn DOM are the HTML report's own.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import selectors
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.browser import check_charts, chromium, console_errors, needs_chromium
from tests.unit.ui.ui_seed import SECRETS, Seeded, seed_catalog

PERFLAB = [sys.executable, "-m", "perflab.cli.main"]
_URL = re.compile(r"http://127\.0\.0\.1:\d+")
pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def _wait_for_url(proc: subprocess.Popen[str], timeout: float = 30.0) -> str:
    """The dashboard's base URL, from the line the command prints on stderr."""
    assert proc.stderr is not None
    selector = selectors.DefaultSelector()
    selector.register(proc.stderr, selectors.EVENT_READ)
    deadline, seen = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        if selector.select(timeout=0.5):
            line = proc.stderr.readline()
            seen += line
            found = _URL.search(line)
            if found:
                return found.group(0)
        if proc.poll() is not None:
            break
    raise AssertionError(f"no dashboard URL on stderr: {seen!r}")


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    if proc.stderr is not None:
        proc.stderr.close()


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Seeded]]:
    folder = tmp_path_factory.mktemp("ui-browser")
    seeded = seed_catalog(folder)
    env = {**os.environ, "PERFLAB_DB": str(seeded.db)}
    env.pop("PERFLAB_UI_TOKEN", None)
    proc = subprocess.Popen(
        [*PERFLAB, "ui", "--port", "0"], cwd=folder, env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        yield _wait_for_url(proc), seeded
    finally:
        _stop(proc)


def _live_requests(events: list[dict[str, Any]]) -> list[int]:
    return [e["totals"]["requests"] for e in events if e["run"] is not None and e["active"]]


@needs_chromium
def test_run_list_shows_the_stored_runs(dashboard: tuple[str, Seeded], tmp_path: Path) -> None:
    url, seeded = dashboard
    dumped = chromium(url + "/", tmp_path, "--dump-dom", loopback=True)
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    assert console_errors(dumped.stderr) == []
    assert re.findall(r'<tr data-run="([0-9a-f]+)"', dumped.stdout) == list(reversed(seeded.ids))
    assert "checkout" in dumped.stdout and "search" in dumped.stdout


@needs_chromium
def test_run_page_draws_its_charts(dashboard: tuple[str, Seeded], tmp_path: Path) -> None:
    url, seeded = dashboard
    dumped = chromium(f"{url}/runs/{seeded.ids[1]}", tmp_path, "--dump-dom", loopback=True)
    assert console_errors(dumped.stderr) == []
    parsed = check_charts(dumped.stdout)
    assert {"throughput", "latency", "spectrum", "errors"} <= set(parsed.charts)
    for secret in SECRETS:
        assert secret not in dumped.stdout


@needs_chromium
def test_compare_page_shows_verdicts(dashboard: tuple[str, Seeded], tmp_path: Path) -> None:
    url, seeded = dashboard
    a, b = seeded.ids[0], seeded.ids[1]
    dumped = chromium(
        f"{url}/compare?base={a}&candidate={b}", tmp_path, "--dump-dom", loopback=True
    )
    assert console_errors(dumped.stderr) == []
    parsed = check_charts(dumped.stdout)
    assert "forest" in parsed.charts
    verdicts = re.findall(
        r'<td class="(?:bad|ok|neutral)">(regressed|improved|no change)</td>', dumped.stdout
    )
    assert len(verdicts) >= 6


def _events(url: str, limit_s: float) -> Iterator[dict[str, Any]]:
    """The JSON ``data:`` events of the SSE stream, until it ends or ``limit_s`` passes."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=limit_s)
    conn.request("GET", "/api/live/stream")
    response = conn.getresponse()
    assert response.status == 200
    assert response.getheader("content-type", "").startswith("text/event-stream")
    deadline = time.monotonic() + limit_s
    try:
        while time.monotonic() < deadline:
            line = response.readline()
            if not line or line.startswith(b"event: end"):
                return
            if line.startswith(b"data: "):
                yield json.loads(line[len(b"data: ") :])
    finally:
        conn.close()


def test_run_with_ui_streams_the_run_every_second(hello_url: str, tmp_path: Path) -> None:
    args = [hello_url + "/", "--vus", "2", "--duration", "4s", "--ui", "127.0.0.1:0", "--quiet"]
    env = {**os.environ, "PERFLAB_DB": str(tmp_path / "perflab.db")}
    proc = subprocess.Popen(
        [*PERFLAB, "run", *args], cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        url = _wait_for_url(proc)
        events = [e for e in _events(url, 30.0) if e["run"] is not None]
        assert proc.wait(timeout=30) == 0
    finally:
        _stop(proc)
    running = [e for e in events if e["active"]]
    counts = [e["totals"]["requests"] for e in running]
    assert len(counts) >= 3, counts
    # growing while the run lasts (a busy machine may deliver two events in one second)
    assert counts == sorted(counts) and counts[-1] > counts[0], counts
    final = events[-1]
    assert not final["active"] and final["run"]["status"] == "passed"
    assert final["totals"]["requests"] >= counts[-1]
    seconds = [p["t"] for e in events for p in e["points"]]
    assert seconds == sorted(set(seconds)) and len(seconds) >= 4  # each second sent once
    assert sum(p["rps"] for e in events for p in e["points"]) == final["totals"]["requests"]


def test_perflab_ui_follows_a_run_made_by_another_process(
    dashboard: tuple[str, Seeded], hello_url: str
) -> None:
    """Runs last here: it adds a fourth run to the module's catalog."""
    url, seeded = dashboard
    folder = seeded.db.parent
    args = [hello_url + "/", "--vus", "2", "--duration", "4s", "--quiet", "--name", "followed"]
    env = {**os.environ, "PERFLAB_DB": str(seeded.db)}
    proc = subprocess.Popen([*PERFLAB, "run", *args], cwd=folder, env=env)
    try:
        events: list[dict[str, Any]] = []
        deadline = time.monotonic() + 40
        while not any(e["run"] and not e["active"] for e in events):
            assert time.monotonic() < deadline, events[-3:]
            events += list(_events(url, 15.0))  # no run yet: the stream waits for one
            if proc.poll() is not None and not events:
                break
        assert proc.wait(timeout=30) == 0
    finally:
        _stop(proc)
    counts = _live_requests(events)
    assert len(counts) >= 2 and counts == sorted(counts) and counts[-1] > counts[0], counts
    final = [e for e in events if e["run"]][-1]
    assert final["run"]["name"] == "followed" and not final["active"]
