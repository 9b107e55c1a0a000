"""``perflab bench`` end to end in real subprocesses: workers, commands, the gate, git refs.

Exit codes checked here (and documented in ``perflab bench --help``): 3 when a benchmark
raised or a command failed (the others still ran and are saved), 1 when the gate finds a
slowdown, 2 for bad input such as a git ref without stored results.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from perflab.cli.main import main

BENCH_FILE = """
import os
import time

import perflab

FACTOR = float(os.environ.get("SLOWDOWN", "1.0"))


@perflab.benchmark(params={"us": [200]})
def spin(us):
    # fixed work, not a wall-clock spin: preemption on a busy machine then adds noise to
    # both runs instead of stretching whichever run it hits
    total = 0
    for i in range(int(us * 30 * FACTOR)):
        total += i


@perflab.benchmark
def broken():
    print("this goes to stderr, not into the worker's JSON")
    return {}["missing"]
"""

FAST = ["--fast", "--min-time", "0.005", "--processes", "5"]


def perflab(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "perflab.cli.main", *args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def bench_file(tmp_path: Path) -> Path:
    path = tmp_path / "benches.py"
    path.write_text(BENCH_FILE)
    return path


def test_a_raising_benchmark_is_reported_and_the_gate_catches_a_slowdown(
    tmp_path: Path, bench_file: Path
) -> None:
    done = perflab(tmp_path, "bench", str(bench_file), *FAST, "--out", "base", "--json")
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr
    doc = json.loads(done.stdout)
    assert json.loads((tmp_path / "base" / "bench.json").read_text())["id"] == doc["id"]
    spin, broken = doc["benchmarks"]
    assert spin["status"] == "ok" and spin["params"] == {"us": 200}
    assert len(spin["processes"]) == 5 and all(len(p["values"]) == 3 for p in spin["processes"])
    assert 30e-6 < spin["stats"]["median"] < 5e-3 and spin["loops"] >= 1
    assert spin["processes"][0]["gc"]["enabled"] is True
    assert broken["status"] == "failed"
    assert broken["error"] == "KeyError: 'missing' at benches.py:22 in broken"
    assert doc["environment"]["machine"] and doc["status"] == "failed"

    # 3x, not 1.5x: this VM's two cores drift between ~180 and ~350 us for the same loop
    # (steal time), so five processes of one run can differ by 2x; a 1.5x change is then
    # honestly "no significant change" (the gate's power is proven by simulation elsewhere)
    slower = perflab(
        tmp_path, "bench", str(bench_file), "-k", "spin", *FAST, "--out", "cand", SLOWDOWN="3"
    )
    assert slower.returncode == 0, slower.stderr
    done = perflab(
        tmp_path, "bench", "compare", "base", "cand", "--min-effect", "10%", "--format", "json"
    )
    assert done.returncode == 1, done.stderr
    verdict = json.loads(done.stdout)
    assert verdict["verdict"] == "slower"
    (row,) = verdict["benchmarks"]
    assert row["verdict"] == "slower" and 1.2 < row["ci_low"] <= row["ratio"] < 8.0
    assert verdict["removed"] == ["broken {}"]
    markdown = perflab(
        tmp_path, "bench", "compare", "base", "cand", "--min-effect", "10%", "--format", "markdown"
    )
    assert markdown.returncode == 1 and "perflab bench compare: slower" in markdown.stdout
    junit = perflab(
        tmp_path, "bench", "compare", "base", "cand", "--min-effect", "10%", "--format", "junit"
    )
    failure = ET.fromstring(junit.stdout).find("testsuite/testcase/failure")
    assert failure is not None and "spin" in (failure.get("message") or "")

    # both results are in the catalog: the series across runs, as a user reads it
    db = {"PERFLAB_DB": str(tmp_path / "own.db")}
    for out in ("h1", "h2"):
        assert perflab(tmp_path, "bench", str(bench_file), "-k", "spin", *FAST, "--out", out,
                       **db).returncode == 0  # fmt: skip
    history = perflab(tmp_path, "bench", "history", "spin", "--json", **db)
    assert history.returncode == 0, history.stderr
    rows = json.loads(history.stdout)["results"]
    # both runs may start within one second, so their order is not asserted
    assert sorted(r["run_id"][:8] for r in rows) == sorted(
        json.loads((tmp_path / out / "bench.json").read_text())["id"][:8] for out in ("h1", "h2")
    )
    unknown = perflab(tmp_path, "bench", "history", "spinn", **db)
    assert unknown.returncode == 2 and "spin" in unknown.stderr
    assert "Traceback" not in unknown.stderr


def test_commands_one_failing(tmp_path: Path) -> None:
    done = perflab(
        tmp_path,
        "bench",
        "--cmd",
        "sleep 0.01",
        "--cmd",
        "echo broken >&2; exit 7",
        "--runs",
        "3",
        "--out",
        "C",
    )
    assert done.returncode == 3, done.stderr
    assert "exited with code 7: broken" in done.stderr and "Traceback" not in done.stderr
    ok, failed = json.loads((tmp_path / "C" / "bench.json").read_text())["benchmarks"]
    assert ok["status"] == "ok" and len(ok["processes"]) == 3
    assert 0.005 < ok["stats"]["median"] < 0.2 and ok["shell_overhead"] > 0
    assert failed["status"] == "failed" and failed["name"] == "echo broken >&2; exit 7"


def test_compare_to_a_git_ref(
    tmp_path: Path,
    bench_file: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    git = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t"}
    git["GIT_COMMITTER_EMAIL"] = "t@x"

    def commit(message: str) -> None:
        for argv in (["add", "-A"], ["commit", "-qm", message]):
            subprocess.run(["git", *argv], cwd=tmp_path, env={**os.environ, **git}, check=True)

    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=tmp_path, check=True)
    commit("first")
    args = ["bench", str(bench_file), "-k", "spin", *FAST]
    assert perflab(tmp_path, *args).returncode == 0
    done = perflab(tmp_path, *args, "--compare-to", "main", "--min-effect", "50%", "--json")
    assert done.returncode == 0, done.stderr
    comparison = json.loads(done.stdout)["comparison"]
    assert comparison["verdict"] == "no_change" and comparison["benchmarks"][0]["name"] == "spin"
    (tmp_path / "note.txt").write_text("x")
    commit("second")
    done = perflab(tmp_path, *args, "--compare-to", "HEAD")
    assert done.returncode == 2
    assert "no stored result of commit" in done.stderr and "Traceback" not in done.stderr
    monkeypatch.chdir(tmp_path)  # a bad ref is refused before anything is measured
    assert main([*args, "--compare-to", "no-such-branch"]) == 2
    assert "not a git commit or branch" in capsys.readouterr().err


def test_the_benchmarks_table_on_postgres(pg_url: str, tmp_path: Path) -> None:
    from tests.pg import create_database
    from tests.unit.bench.test_bench_results import _doc

    from perflab.store import Catalog

    url = create_database(pg_url, "bench_catalog")
    base, cand = _doc(tmp_path, "base", 1.0, 1, "aaa"), _doc(tmp_path, "cand", 1.0, 2, "aaa")
    base["started_at"], cand["started_at"] = "2026-11-01T10:00:00Z", "2026-11-02T10:00:00Z"
    with Catalog.open(url) as catalog:
        assert catalog.index_benchmarks(base, tmp_path / "base") == 2
        assert catalog.index_benchmarks(cand, tmp_path / "cand") == 2
        machine = base["environment"]["machine"]
        newest = catalog.latest_benchmark("slow", '{"n": 1}', machine, commit="aaa")
        assert newest == str((tmp_path / "cand").resolve())
        older = catalog.latest_benchmark(
            "slow", '{"n": 1}', machine, commit="aaa", exclude_run=cand["id"]
        )
        assert older == str((tmp_path / "base").resolve())
        assert catalog.lookup_bench_run(base["id"][:12]) == older
