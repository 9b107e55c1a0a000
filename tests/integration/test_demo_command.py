"""``perflab demo``: the whole workflow on the built-in target, and ``--serve``."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from perflab.cli.main import main

PERFLAB = [sys.executable, "-m", "perflab.cli.main"]


def test_demo_runs_end_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    code = main(["demo", "--stages", "3s:60/s", "--json"])
    out = capsys.readouterr().out
    doc = json.loads(out)
    assert code == (0 if doc["status"] == "passed" else 1)
    assert set(doc["by_name"]) == {
        "GET /items",
        "GET /items/{id}",
        "GET /search",
        "GET /recommendations",
        "POST /cart",
    }
    assert doc["by_name"]["POST /cart"]["errors"] == 0  # the token was correlated and sent
    assert doc["by_name"]["GET /search"]["latency_ms"]["p50"] > 1.0  # the long-tailed one
    assert "Bearer" not in json.dumps(doc["config"])  # the demo's token is redacted
    assert len(doc["thresholds"]) == 4
    assert (Path(doc["path"]) / "intervals.parquet").exists()


def test_demo_serve_prints_url_and_stops_on_ctrl_c() -> None:
    proc = subprocess.Popen(
        [*PERFLAB, "demo", "--serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(f"{url}/health", timeout=10) as resp:
            assert json.load(resp) == {"status": "ok"}
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
