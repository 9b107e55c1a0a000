"""``perflab detect --bench``: a benchmark's stored medians as the series."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from perflab.bench.results import new_bench_doc
from perflab.cli.main import main
from perflab.environment import capture
from perflab.store import Catalog

STEP_AT = 30


def test_detect_bench_finds_a_ten_percent_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "perflab.db"
    monkeypatch.setenv("PERFLAB_DB", str(db))
    rng = np.random.default_rng(7)
    env = capture()  # this machine's key, which --bench reads by default
    with Catalog.open(str(db)) as catalog:
        for i in range(50):
            median = 1e-3 * (1.10 if i >= STEP_AT else 1.0) * float(np.exp(rng.normal(0, 0.01)))
            doc = new_bench_doc("suite", {}, {**env, "git_commit": f"{i:03d}" + "a" * 37})
            doc["started_at"] = f"2026-02-{1 + i // 24:02d}T{i % 24:02d}:00:00Z"
            stats = {"median": median, "mean": median, "stdev": median * 0.01, "n": 30}
            stats |= {"ci_low": median * 0.99, "ci_high": median * 1.01}
            for n in (100, 1000):  # a second parameter set, which --params must exclude
                entry = {"name": "total", "params": {"n": n}, "status": "ok", "stats": stats}
                doc["benchmarks"].append(entry)
            catalog.index_benchmarks(doc, tmp_path / f"r{i}")
    assert main(["detect", "--bench", "total", "--params", "n=100", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "perflab.detect/1" and doc["n"] == 50 and doc["metric"] == "median"
    [change] = doc["change_points"]
    assert abs(change["index"] - STEP_AT) <= 1 and change["direction"] == "regression"
    assert change["label"] == f"{change['index']:03d}" + "a" * 9
    assert change["change_pct"] == pytest.approx(10.0, abs=2.0)
    assert main(["detect", "--bench", "total"]) == 2  # two parameter sets: pick one
    assert "--params" in capsys.readouterr().err
    assert main(["detect", "--bench", "totl"]) == 2
    assert "did you mean 'total'?" in capsys.readouterr().err
    assert main(["detect", "--history", "x", "--params", "n=1"]) == 2
