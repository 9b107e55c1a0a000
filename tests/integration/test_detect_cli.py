"""``perflab detect`` as a user runs it: a real process, files and a real catalog."""

from __future__ import annotations

import copy
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from perflab.cli.main import main
from perflab.store import Catalog, load_run

ROOT = Path(__file__).resolve().parents[2]
PERFLAB = str(ROOT / ".venv" / "bin" / "perflab")
GOLDEN = ROOT / "tests" / "golden" / "run-v1"


def _perflab(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [PERFLAB] if os.path.exists(PERFLAB) else ["python", "-m", "perflab.cli.main"]
    return subprocess.run(
        [*command, "detect", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )


def _series(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    level = np.r_[np.full(80, 40.0), np.full(60, 46.0)]
    return level * np.exp(rng.normal(0, 0.02, len(level)))


def test_csv_json_output_from_a_real_process(tmp_path: Path) -> None:
    x = _series()
    path = tmp_path / "nightly.csv"
    path.write_text("commit,p99_ms\n" + "".join(f"c{i:04d},{v:.3f}\n" for i, v in enumerate(x)))
    proc = _perflab(str(path), "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    (point,) = doc["change_points"]
    assert point["index"] == 80 and point["label"] == "c0080"
    assert point["direction"] == "regression" and point["p_value"] < 1e-6
    assert point["change_pct"] == pytest.approx(15.0, abs=2.0)
    assert point["before"] == pytest.approx(float(np.median(np.round(x[:80], 3))))


@pytest.mark.parametrize(
    ("name", "text", "needle"),
    [
        (
            "cells.csv",
            "ms\n1\n2\nfast\n4\n",
            "cells.csv, line 4, column 'ms': 'fast' is not a number",
        ),
        ("gap.csv", "ms,commit\n1,a\n,b\n", "gap.csv, line 3, column 'ms': missing or NaN"),
        ("nan.json", "[1, 2, NaN]", "nan.json, item [2]: NaN is not a finite number"),
        ("empty.json", "[]", "empty.json: the list is empty"),
        ("flat.csv", "ms\n" + "7\n" * 30, "flat.csv, column 'ms': the series is constant"),
        ("two.csv", "a,b\n1,2\n", "2 numeric columns"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path: Path, name: str, text: str, needle: str) -> None:
    (tmp_path / name).write_text(text)
    proc = _perflab(str(tmp_path / name), "--json")
    assert proc.returncode == 2
    assert proc.stdout == "" and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("perflab: error:"), proc.stderr
    assert needle in lines[0], lines[0]


def _doc(golden: dict[str, Any], i: int, p99: float, rps: float) -> dict[str, Any]:
    doc = copy.deepcopy(golden)
    doc["id"] = f"{i:032x}"
    doc["name"] = "nightly"
    doc["started_at"] = f"2026-01-{1 + i // 24:02d}T{i % 24:02d}:00:00Z"
    doc["totals"]["latency_ms"]["p99"] = p99
    doc["totals"]["rps"] = rps
    doc["environment"]["git_commit"] = f"{i:040x}" if i % 2 == 0 else None
    return doc


def test_history_from_a_seeded_catalog(tmp_path: Path) -> None:
    db = tmp_path / "perflab.db"
    golden = load_run(GOLDEN)
    p99 = _series(1)
    rps = 1000 * np.exp(np.random.default_rng(2).normal(0, 0.01, len(p99)))
    rps[100:] *= 0.85
    with Catalog.open(str(db)) as catalog:
        for i in range(len(p99)):
            catalog.index_run(_doc(golden, i, float(p99[i]), float(rps[i])), tmp_path / f"r{i}")
    env = {"PERFLAB_DB": str(db)}
    proc = _perflab("--history", "nightly", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    (point,) = json.loads(proc.stdout)["change_points"]
    assert point["index"] == 80 and point["label"] == f"{80:040x}"[:12]  # a git commit
    proc = _perflab("--history", "nightly", "--metric", "rps", "--json", env=env)
    (point,) = json.loads(proc.stdout)["change_points"]
    assert point["index"] == 100 and point["direction"] == "regression"  # rps fell
    assert point["label"] == f"{100:040x}"[:12]
    failing = ("--history", "nightly", "--metric", "rps", "--fail-on", "regression")
    assert _perflab(*failing, "--recent", "45", env=env).returncode == 1
    assert _perflab(*failing, "--recent", "10", env=env).returncode == 0
    proc = _perflab("--history", "weekly", env=env)
    assert proc.returncode == 2 and "no runs named 'weekly'" in proc.stderr


def test_human_table_and_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps([round(v, 3) for v in _series(3)]))
    assert main(["detect", str(path)]) == 0
    out = capsys.readouterr().out
    for needle in ("index", "80", "regression", "+1", "|"):
        assert needle in out
    assert main(["detect", str(path), "--history", "x"]) == 2
    assert "one of them" in capsys.readouterr().err
    assert main(["detect", str(path), "--method", "magic"]) == 2
    assert "unknown --method 'magic'" in capsys.readouterr().err
    assert main(["detect", "--help"]) == 0
    assert "Examples" in capsys.readouterr().out
