"""``perflab run --profile-pid`` / ``--monitor-pid`` as a user runs them: the CLI in a child
process loads a real server while watching that server's memory (and profiling it with real
py-spy), then ``perflab report`` draws it in headless Chromium.

Durations: the watch samples memory once a second and the leak verdict skips a warm-up of at
least 10 s, then needs 20 points (:mod:`perflab.profile.leak`), so no run shorter than ~30 s
can be called growing; the leaky run lasts 30 s. The control run is shorter on purpose and
its verdict is "not enough data", which also means growing False; what it must show is that
its memory, unlike the leaky server's, did not climb.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from tests.browser import check_charts, chromium, console_errors, needs_chromium
from tests.servers.launch import start_server

PERFLAB = [sys.executable, "-m", "perflab.cli.main"]
RATE = 200
LEAK_BYTES = 20_000
LEAKY_S = 30
CONTROL_S = 6


def perflab(*args: str, timeout: float = 150) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PERFLAB, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def watched_run(leak_bytes: int, seconds: int, flag: str, out: Path) -> tuple[dict[str, Any], int]:
    """``perflab run`` of the leaky server for ``seconds`` with ``flag PID``: (JSON, PID)."""
    with start_server("leaky", "--leak-bytes", str(leak_bytes)) as server:
        pid = server.proc.pid
        proc = perflab(
            "run", f"{server.url}/", "--rate", f"{RATE}/s", "--duration", f"{seconds}s",
            flag, str(pid), "--out", str(out), "--json", "--quiet",
        )  # fmt: skip
        assert server.proc.poll() is None, "watching the server killed it"
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "warning" not in proc.stderr, proc.stderr
    doc: dict[str, Any] = json.loads(proc.stdout)
    assert doc["status"] == "passed" and doc["totals"]["errors"] == 0
    assert doc["totals"]["requests"] > 0.8 * RATE * seconds, "the machine was far too busy"
    return doc, pid


def stored_process(run: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((run / "process.json").read_text())
    assert doc.pop("schema") == "perflab.process/1"
    return doc


def memory_rows(run: Path) -> list[dict[str, Any]]:
    lines = (run / "memory.jsonl").read_text().splitlines()
    return [row for row in map(json.loads, lines) if "rss_bytes" in row]


@pytest.fixture(scope="module")
def leaky_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], int]:
    """A 30 s run of the server leaking 20 kB per request, with ``--profile-pid``."""
    out = tmp_path_factory.mktemp("leaky") / "run"
    doc, pid = watched_run(LEAK_BYTES, LEAKY_S, "--profile-pid", out)
    return out, doc, pid


@pytest.mark.slow
def test_a_leaking_target_is_called_growing_and_profiled(
    leaky_run: tuple[Path, dict[str, Any], int],
) -> None:
    run, doc, pid = leaky_run
    assert (run / "run.json").is_file()
    process = stored_process(run)
    assert doc["process"] == process and process["pid"] == pid
    assert process["notes"] == [] and "profile_error" not in process

    memory = process["memory"]
    verdict = memory["verdict"]
    assert verdict["growing"] is True and verdict["status"] == "growing", verdict["text"]
    assert verdict["text"].startswith("+") and "MB/hour" in verdict["text"]
    designed = doc["totals"]["rps"] * LEAK_BYTES * 3600  # bytes per hour the server keeps
    assert verdict["slope_per_hour"] == pytest.approx(designed, rel=0.25), verdict["text"]
    rows = memory_rows(run)
    assert len(rows) >= LEAKY_S - 2 and memory["summary"]["samples"] == len(rows)
    kept = doc["totals"]["requests"] * LEAK_BYTES
    grown = memory["summary"]["rss_end_bytes"] - memory["summary"]["rss_start_bytes"]
    assert grown == pytest.approx(kept, rel=0.25)

    profile = process["profile"]
    assert profile["samples"] > 0 and profile["top"]
    assert profile["flamegraph"] == "profile/flamegraph.html"
    assert (run / profile["flamegraph"]).is_file() and (run / profile["folded"]).is_file()
    stored = json.loads((run / "profile" / "profile.json").read_text())
    assert stored["id"] == profile["id"] and stored["target"]["pid"] == pid
    assert stored["samples"] == profile["samples"]
    # The steady part only: 20 % warm-up (6 s) and 1 s before the end, so about 23 s.
    assert 15 < profile["duration_s"] < LEAKY_S
    files = {row["file"] for row in profile["top"]}
    assert any(f.endswith(("servers/hello.py", "servers/leaky.py")) for f in files), files


@pytest.mark.slow
@needs_chromium
def test_the_report_draws_the_target_memory_and_links_the_flame_graph(
    leaky_run: tuple[Path, dict[str, Any], int], tmp_path: Path
) -> None:
    run = leaky_run[0]
    proc = perflab("report", str(run), timeout=90)
    assert proc.returncode == 0, proc.stderr
    page = run / "report.html"
    html = page.read_text()
    assert "Target process" in html and 'data-figure="memory"' in html
    assert '<a href="profile/flamegraph.html">Open the flame graph</a>' in html

    dumped = chromium(page, tmp_path, "--dump-dom")
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    assert console_errors(dumped.stderr) == []
    charts = check_charts(dumped.stdout).charts
    assert "memory" in charts and {"throughput", "latency"} <= set(charts)


@pytest.mark.slow
def test_a_target_that_keeps_nothing_is_not_growing_and_has_no_profile(tmp_path: Path) -> None:
    run = tmp_path / "run"
    doc, pid = watched_run(0, CONTROL_S, "--monitor-pid", run)
    process = stored_process(run)
    assert doc["process"] == process and process["pid"] == pid
    assert "profile" not in process and "profile_error" not in process
    assert not (run / "profile").exists()

    verdict = process["memory"]["verdict"]
    assert verdict["growing"] is False
    assert verdict["status"] in {"no growth", "not enough data"}, verdict["text"]
    rows = memory_rows(run)
    assert len(rows) >= CONTROL_S - 2
    summary = process["memory"]["summary"]
    assert summary["samples"] == len(rows)
    # 1,200 requests that kept 20 kB each would add 24 MB; keeping nothing adds a few.
    assert summary["rss_end_bytes"] - summary["rss_start_bytes"] < 8_000_000, summary


class _Counting(BaseHTTPRequestHandler):
    requests = 0

    def do_GET(self) -> None:
        type(self).requests += 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def counting_url() -> Iterator[str]:
    """A server that counts the HTTP requests it gets (connections alone do not count)."""
    _Counting.requests = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def test_an_unknown_pid_fails_before_any_load(counting_url: str, tmp_path: Path) -> None:
    if Path("/proc/999999").exists():
        pytest.skip("PID 999999 exists on this machine")
    run = tmp_path / "run"
    proc = perflab(
        "run", f"{counting_url}/", "--rate", f"{RATE}/s", "--duration", "3s",
        "--profile-pid", "999999", "--out", str(run), "--json", "--quiet",
    )  # fmt: skip
    assert proc.returncode == 3, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines == ["perflab: error: no process with PID 999999"], proc.stderr
    assert proc.stdout == ""
    assert not run.exists(), "a run that never started left its directory"
    assert _Counting.requests == 0, "load was sent to the target"
