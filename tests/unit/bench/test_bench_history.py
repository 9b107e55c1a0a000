"""``perflab bench history`` and the series look-up behind it, on a seeded temp catalog."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from perflab.bench.results import machine_key, new_bench_doc, this_machine
from perflab.bench.runner import BenchSpec, result_entry
from perflab.cli.main import main
from perflab.environment import capture
from perflab.errors import UsageError
from perflab.store import Catalog
from perflab.store.benchseries import params_json

OTHER = {"hostname": "ci-7", "cpu_model": "cpu", "implementation": "CPython", "python": "3.11"}


def seed(
    db: Path,
    tmp: Path,
    medians: list[float],
    *,
    env: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
    start: int = 0,
) -> None:
    """One bench run per median, an hour apart, commit ``c<i>``, through the runner's own
    ``result_entry`` (10 processes x 3 values, 1 % noise) and the catalog's insert API."""
    rng = np.random.default_rng(len(medians) + start)
    base_env = capture() if env is None else env
    with Catalog.open(str(db)) as catalog:
        for i, median in enumerate(medians, start=start):
            doc = new_bench_doc("suite", {}, {**base_env, "git_commit": f"c{i:02d}" + "f" * 38})
            doc["started_at"] = f"2026-01-{1 + i // 24:02d}T{i % 24:02d}:00:00Z"
            values = median * np.exp(rng.normal(0.0, 0.01, (10, 3)))
            processes = [{"values": list(map(float, row))} for row in values]
            entry = result_entry("total", params or {"n": 100}, "python", processes, BenchSpec())
            doc["benchmarks"].append(entry)
            catalog.index_benchmarks(doc, tmp / f"run{i}")


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "perflab.db"
    monkeypatch.setenv("PERFLAB_DB", str(path))
    return path


def test_history_lists_this_machines_results_oldest_first(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(db, tmp_path, [1e-3, 1.1e-3, 1.2e-3, 1.3e-3])
    seed(db, tmp_path, [9e-3], env=OTHER, start=10)  # newest, but another machine
    assert main(["bench", "history", "total", "--params", "n=100", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "perflab.bench-history/1" and doc["machine"] == this_machine()
    rows = doc["results"]
    assert [r["git_commit"][:3] for r in rows] == ["c00", "c01", "c02", "c03"]
    assert [r["median"] for r in rows] == pytest.approx([1e-3, 1.1e-3, 1.2e-3, 1.3e-3], rel=0.02)
    assert all(r["ci_low"] < r["median"] < r["ci_high"] and r["n"] == 30 for r in rows)
    assert 0.005 < rows[0]["cv"] < 0.02  # stdev / mean of 1 % log-normal noise
    assert main(["bench", "history", "total", "--limit", "2", "--json"]) == 0
    newest = json.loads(capsys.readouterr().out)["results"]
    assert [r["git_commit"][:3] for r in newest] == ["c02", "c03"]  # newest two, in order
    assert main(["bench", "history", "total"]) == 0
    table = capsys.readouterr().out
    assert table.index("c00ffff") < table.index("c03ffff") and "1.3 ms" in table
    assert "ci-7" not in table


def test_machines_and_params_select_the_series(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(db, tmp_path, [1e-3, 1e-3])
    seed(db, tmp_path, [2e-3], env=OTHER, start=5)
    seed(db, tmp_path, [5e-3], params={"n": 1000}, start=8)
    assert main(["bench", "history", "total", "--all-machines", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["results"]
    assert len(rows) == 4 and {r["machine"] for r in rows} == {this_machine(), machine_key(OTHER)}
    assert main(["bench", "history", "total", "--machine", machine_key(OTHER), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["results"]) == 1
    assert main(["bench", "history", "total", "--params", "n=1000", "--json"]) == 0
    assert [r["params"] for r in json.loads(capsys.readouterr().out)["results"]] == [{"n": 1000}]
    assert main(["bench", "history", "total"]) == 0  # two parameter sets: a params column
    assert "n=1000" in capsys.readouterr().out


def test_unknown_benchmark_params_and_machine_exit_2_with_one_line(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(db, tmp_path, [1e-3])
    seed(db, tmp_path, [2e-3], env=OTHER, start=5)
    assert main(["bench", "history", "totl"]) == 2
    err = capsys.readouterr().err
    assert "no benchmark 'totl'" in err and "did you mean 'total'?" in err
    assert len(err.strip().splitlines()) == 1
    assert main(["bench", "history", "total", "--params", "n=5"]) == 2
    assert "stored: n=100" in capsys.readouterr().err
    assert main(["bench", "history", "total", "--machine", "nope"]) == 2
    assert "--all-machines" in capsys.readouterr().err
    assert main(["bench", "history", "total", "--machine", "x", "--all-machines"]) == 2


def test_params_json_matches_the_runners_canonical_key() -> None:
    from perflab.bench.registry import params_key

    assert params_json(["n=100,mode=fast", "x=1.5"]) == params_key(
        {"x": 1.5, "n": 100, "mode": "fast"}
    )
    assert params_json([]) is None
    with pytest.raises(UsageError, match="NAME=VALUE"):
        params_json(["n"])
