"""bench.json, the catalog's benchmarks table and the compare gate, on synthetic results."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import create_engine, inspect

from perflab.bench.compare import compare_docs
from perflab.bench.results import BenchWriter, find_bench, load_bench, new_bench_doc
from perflab.bench.runner import BenchSpec, result_entry
from perflab.cli.main import main
from perflab.errors import UsageError
from perflab.steal import CpuTicks
from perflab.store import Catalog, migrations

ENV = {"hostname": "h", "cpu_model": "cpu", "implementation": "CPython", "python": "3.11"}


def _doc(tmp: Path, name: str, scale: float, seed: int, commit: str = "c0") -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    doc = new_bench_doc(name, {}, {**ENV, "git_commit": commit})
    writer = BenchWriter(tmp / name, doc)
    for bench, factor in (("fast", 1.0), ("slow", scale)):
        groups = np.exp(rng.normal(0, 0.01, (10, 1)) + rng.normal(0, 0.015, (10, 3))) * 1e-3
        processes = [{"values": list(g * factor)} for g in groups]
        writer.add(result_entry(bench, {"n": 1}, "python", processes, BenchSpec()))
    writer.add({"name": "boom", "params": {}, "status": "failed", "error": "ZeroDivisionError"})
    writer.finish("failed")
    return doc


def test_writer_rewrites_the_file_after_each_benchmark(tmp_path: Path) -> None:
    doc = new_bench_doc("w", {"mode": "x"}, ENV)
    writer = BenchWriter(tmp_path / "w", doc)
    assert load_bench(tmp_path / "w")["benchmarks"] == []
    writer.add(result_entry("a", {}, "python", [{"values": [1.0, 1.1]}], BenchSpec()))
    on_disk = load_bench(writer.path)
    assert on_disk["status"] == "running" and on_disk["benchmarks"][0]["stats"]["n"] == 2
    assert on_disk["environment"]["machine"] == "h|cpu|CPython 3.11"


def test_empty_and_nan_series_become_failed_entries() -> None:
    entry = result_entry(
        "e", {}, "python", [{"values": [float("nan")]}, {"values": []}], BenchSpec()
    )
    assert entry["status"] == "failed" and "no usable values" in entry["error"]


def test_the_hosts_steal_is_recorded_and_warned_about() -> None:
    values = [{"values": [1.0, 1.0001, 1.0002] * 4}]  # precise: no noise warning of its own
    quiet = result_entry("q", {}, "python", values, BenchSpec(), steal=CpuTicks(1, 1000))
    assert quiet["steal_pct"] == 0.1 and quiet["warnings"] == []
    noisy = result_entry("n", {}, "python", values, BenchSpec(), steal=CpuTicks(30, 1000))
    assert noisy["steal_pct"] == 3.0
    assert any("hypervisor took 3.0%" in w for w in noisy["warnings"])
    unmeasured = result_entry("u", {}, "python", values, BenchSpec())
    assert unmeasured["steal_pct"] is None and unmeasured["warnings"] == []


def test_bad_files_are_usage_errors(tmp_path: Path) -> None:
    (tmp_path / "bench.json").write_text('{"schema": "perflab.run/1"}')
    with pytest.raises(UsageError, match="unknown schema"):
        load_bench(tmp_path)
    (tmp_path / "bench.json").write_text("{not json")
    with pytest.raises(UsageError, match="not readable JSON"):
        load_bench(tmp_path / "bench.json")
    with pytest.raises(UsageError, match="no benchmark results 'nope'"):
        find_bench("nope", root=tmp_path)


def test_compare_flags_the_injected_slowdown_only(tmp_path: Path) -> None:
    base, cand = _doc(tmp_path, "base", 1.0, 1), _doc(tmp_path, "cand", 1.2, 2)
    result = compare_docs(base, cand)
    verdicts = {r["name"]: r["verdict"] for r in result["benchmarks"]}
    assert verdicts == {"fast": "no_change", "slow": "slower"} and result["verdict"] == "slower"
    slow = next(r for r in result["benchmarks"] if r["name"] == "slow")
    assert slow["ci_low"] > 1.1 and slow["ratio"] == pytest.approx(1.2, rel=0.03)
    assert any("boom" in note for note in result["notes"])
    assert compare_docs(base, cand, min_effect=0.5)["verdict"] == "no_change"


def test_catalog_indexes_series_and_finds_a_commit(tmp_path: Path) -> None:
    db = tmp_path / "perflab.db"
    base = _doc(tmp_path, "base", 1.0, 1, commit="aaa")
    cand = _doc(tmp_path, "cand", 1.0, 2, commit="bbb")
    with Catalog.open(str(db)) as catalog:
        assert catalog.index_benchmarks(base, tmp_path / "base") == 2  # the failed one is not
        catalog.index_benchmarks(cand, tmp_path / "cand")
        catalog.index_benchmarks(cand, tmp_path / "cand")  # idempotent
        machine = "h|cpu|CPython 3.11"
        rows = catalog.benchmark_history("slow", '{"n": 1}', machine)
        assert [r["git_commit"] for r in rows if r] and len(rows) == 2
        found = catalog.latest_benchmark("slow", '{"n": 1}', machine, commit="aaa")
        assert found == str((tmp_path / "base").resolve())
        assert catalog.latest_benchmark("slow", '{"n": 1}', machine, commit="ccc") is None
        assert catalog.lookup_bench_run("cand") == str((tmp_path / "cand").resolve())
        assert catalog.lookup_bench_run(base["id"][:10]) == str((tmp_path / "base").resolve())
    engine = create_engine(f"sqlite:///{db}")
    try:
        columns = {c["name"] for c in inspect(engine).get_columns("benchmarks")}
    finally:
        engine.dispose()
    assert columns == {c.name for c in migrations.benchmarks.columns}


def test_cli_compare_formats_and_exit_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _doc(tmp_path, "base", 1.0, 1)
    _doc(tmp_path, "cand", 1.2, 2)
    base, cand = str(tmp_path / "base"), str(tmp_path / "cand" / "bench.json")
    assert main(["bench", "compare", base, cand, "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["verdict"] == "slower"
    assert set(doc["benchmarks"][0]) >= {"name", "params", "base", "candidate", "ratio"}
    assert main(["bench", "compare", base, cand, "--format", "markdown"]) == 1
    markdown = capsys.readouterr().out
    assert markdown.startswith("## 🔴 perflab bench compare: slower") and "| slow |" in markdown
    assert main(["bench", "compare", base, cand, "--format", "junit"]) == 1
    suite = ET.fromstring(capsys.readouterr().out).find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures")) == ("2", "1")
    assert main(["bench", "compare", base, base]) == 0
    assert main(["bench", "compare", base, cand, "--min-effect", "150%"]) == 2
    assert "perflab: error: bad --min-effect" in capsys.readouterr().err


GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "bench-v1"


def test_the_v1_golden_file_keeps_loading_and_its_stats_are_reproducible() -> None:
    from perflab.stats.benchstats import summarize

    doc = load_bench(GOLDEN)
    total, broken = doc["benchmarks"]
    assert (total["name"], total["params"], broken["status"]) == ("total", {"n": 100}, "failed")
    assert broken["error"].startswith("ValueError: golden failure at golden.py:")
    again = summarize([p["values"] for p in total["processes"]])
    assert again.to_json() == total["stats"]
    assert compare_docs(doc, doc)["verdict"] == "no_change"


def test_hand_edited_values_are_checked(tmp_path: Path) -> None:
    doc = load_bench(GOLDEN)
    doc["benchmarks"][0]["processes"][0]["values"] = [None, float("nan"), 1e-6]
    assert compare_docs(doc, doc)["benchmarks"][0]["verdict"] == "no_change"
    doc["benchmarks"][0]["processes"][1]["values"] = ["fast"]
    with pytest.raises(UsageError, match=r"benchmark 'total' has a non-numeric value 'fast'"):
        compare_docs(doc, doc)
    for process in doc["benchmarks"][0]["processes"]:
        process["values"] = []
    with pytest.raises(UsageError, match="no benchmark to compare"):
        compare_docs(doc, doc)
