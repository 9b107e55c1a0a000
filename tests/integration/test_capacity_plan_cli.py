"""``perflab capacity plan`` as a user runs it: a real process, JSON out, bad input exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.unit.capacity.traffic_data import csv_text, synthetic


def _plan(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "perflab.cli.main", "capacity", "plan", *args]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=120, check=False, env=dict(os.environ)
    )


def test_erlang_c_sizing_json() -> None:
    proc = _plan("--rate", "500", "--service-time", "20ms", "--target", "p99<100ms", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["schema"] == "perflab.capacity.sizing/1"
    assert doc["offered_load_erlangs"] == pytest.approx(10.0)
    servers = doc["servers"]
    assert servers > 10
    assert doc["at_servers"]["p99_response_ms"] <= 100.0
    below = next(r for r in doc["table"] if r["servers"] == servers - 1)
    assert not below["meets_target"]


def test_growth_plan_json(tmp_path: Path) -> None:
    times, values = synthetic(weeks=8)
    path = tmp_path / "traffic.csv"
    path.write_text(csv_text(times, values))
    proc = _plan(
        "--history", str(path), "--per-instance-rps", "800", "--instances", "2",
        "--price-per-hour", "0.25", "--months", "12", "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert len(doc["months"]) == 12
    assert doc["runs_out"] is not None
    assert doc["model"]["held_out"]["mape"] < doc["model"]["held_out"]["seasonal_naive_mape"]
    first = doc["months"][0]
    assert first["monthly_cost"] == pytest.approx(first["instances"] * 0.25 * 730)
    assert "NaN" not in proc.stdout and "Infinity" not in proc.stdout


def test_text_output(tmp_path: Path) -> None:
    proc = _plan("--rate", "120/s", "--service-time", "180ms", "--target", "pwait<20%")
    assert proc.returncode == 0, proc.stderr
    assert "servers needed" in proc.stdout


@pytest.mark.parametrize(
    ("content", "args", "needle"),
    [
        (None, ["--rate", "500", "--service-time", "20ms"], "--rate needs"),
        (None, ["--rate", "500", "--service-time", "20ms", "--target", "p99<lots"], "bad target"),
        ("timestamp,rps\n2026-01-01,5\n2026-01-02,6\n", ["--per-instance-rps", "100"], "two weeks"),
        ("timestamp,rps\n2026-01-01,5\nyesterday,6\n", ["--per-instance-rps", "100"], "line 3"),
        ("timestamp,rps\n2026-01-01,5\n2026-01-02,nan\n", ["--per-instance-rps", "9"], "line 3"),
        ("timestamp,rps\n2026-01-01,5\n", [], "capacity of one instance"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, content: str | None, args: list[str], needle: str
) -> None:
    if content is not None:
        path = tmp_path / "traffic.csv"
        path.write_text(content)
        args = ["--history", str(path), *args]
    proc = _plan(*args)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
