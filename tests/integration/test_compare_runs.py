"""perflab compare for real: runs against a local server made 20 % slower, A/A, bad input.

The server (``tests.servers.slowish``) answers after a fixed timer delay. Its latency is set by
the timer, not by the CPU, so two runs against the same server are a true A/A pair. That
holds even on a busy CI machine: with 20 ms, a millisecond of scheduling noise is 5 %, not
the 20 % it would be with a 5 ms delay.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.servers.launch import start_server

from perflab.cli.main import main
from perflab.compare import compare_runs
from perflab.stats.histogram import LatencyHistogram
from perflab.store import RunWriter

DELAY_MS = "20"
LOAD = ["--vus", "8", "--duration", "6s", "--quiet"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Run directories: A and A2 against one server, B against one 20 % slower."""
    folder = tmp_path_factory.mktemp("compare-runs")
    out: dict[str, str] = {}
    with (
        start_server("slowish", "--delay-ms", DELAY_MS) as same,
        start_server("slowish", "--delay-ms", DELAY_MS, "--factor", "1.2") as slower,
    ):
        for label, server in (("A", same), ("A2", same), ("B", slower)):  # A, A2 back to back
            out[label] = str(folder / label)
            assert main(["run", f"{server.url}/", *LOAD, "--out", out[label]]) == 0
    yield out


def _compare_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = main(["compare", *args, "--json"])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.slow
def test_a_20_percent_slower_server_is_a_regression(
    runs: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc = _compare_json(capsys, runs["A"], runs["B"])
    assert code == 1 and doc["verdict"] == "regressed"
    p50 = doc["by_name"]["*"]["p50"]
    assert p50["verdict"] == "regressed" and 12 < p50["change_pct"] < 25, p50
    assert p50["ci_low_pct"] > 5 and p50["ci_high_pct"] < 30, p50
    assert p50["candidate"] == pytest.approx(p50["base"] * (1 + p50["change_pct"] / 100), 1e-3)
    rps = doc["by_name"]["GET /"]["rps"]
    assert rps["verdict"] == "regressed" and rps["change_pct"] < -5  # closed model: fewer/s
    assert doc["base"]["path"] == runs["A"] and doc["min_effect"] == 0.05
    assert doc["schema"] == "perflab.compare/1" and "bootstrap" in doc["method"]


@pytest.mark.slow
def test_the_same_server_twice_is_no_significant_change(
    runs: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc = _compare_json(capsys, runs["A"], runs["A2"])
    figures = {
        f"{name} {metric}": (m["change_pct"], m["ci_low_pct"], m["ci_high_pct"])
        for name, metrics in doc["by_name"].items()
        for metric, m in metrics.items()
    }
    assert code == 0 and doc["verdict"] == "no_change", figures
    assert abs(doc["by_name"]["*"]["p50"]["change_pct"]) < 5, figures


@pytest.mark.slow
def test_the_table_and_the_one_line_verdict(
    runs: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["compare", runs["A"], runs["B"], "--seed", "3"]) == 1
    out = capsys.readouterr().out
    assert "p99.9" in out and "error_rate" in out and "95% CI" in out
    last = out.strip().splitlines()[-1]
    assert last.startswith("verdict: regressed") and "p50 +" in last


@pytest.mark.slow
def test_subprocess_exit_code_and_pure_json(runs: dict[str, str]) -> None:
    command = [sys.executable, "-m", "perflab.cli.main", "compare", runs["A"], runs["B"], "--json"]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["verdict"] == "regressed"
    assert "Traceback" not in proc.stderr


def _write_run(
    folder: Path,
    seconds: int,
    names: dict[str, tuple[str, float]],
    *,
    duration_s: float | None = None,
    seed: int = 0,
) -> str:
    """A run directory through the store's own writer: per-second rows per (name, kind)."""
    rng = np.random.default_rng(seed)
    doc = {
        "schema": "perflab.run/1",
        "id": f"synthetic{seed}{seconds}",
        "name": folder.name,
        "status": "passed",
        "started_at": "2026-01-01T00:00:00Z",
        "duration_s": float(seconds) if duration_s is None else duration_s,
        "config": {"model": "closed", "requests": []},
        "environment": {},
    }
    writer = RunWriter(folder)
    writer.begin(doc)
    for second in range(seconds):
        rows = []
        for name, (kind, median_us) in names.items():
            hist = LatencyHistogram()
            hist.record_many(rng.lognormal(np.log(median_us), 0.3, 200))
            rows.append(
                {"second": second, "name": name, "kind": kind, "requests": 200, "errors": 0}
                | {"latency_hist": hist.to_bytes()}
            )
        writer.interval(second, rows, {})
    writer.end(doc)
    return str(folder)


def test_transactions_are_compared_under_their_names_and_new_names_are_listed(
    tmp_path: Path,
) -> None:
    base = _write_run(
        tmp_path / "base",
        10,
        {"GET /": ("request", 5000), "checkout": ("transaction", 20000)},
    )
    cand = _write_run(
        tmp_path / "cand",
        10,
        {
            "GET /": ("request", 5000),
            "GET /new": ("request", 5000),
            "checkout": ("transaction", 30000),
        },
        seed=1,
    )
    doc = compare_runs(base, cand)
    assert list(doc["by_name"]) == ["*", "GET /", "checkout"]
    assert doc["added"] == ["GET /new"] and doc["removed"] == []
    assert doc["by_name"]["checkout"]["p50"]["verdict"] == "regressed"
    assert doc["by_name"]["GET /"]["p50"]["verdict"] == "no_change"
    assert doc["by_name"]["*"]["rps"]["base"] == pytest.approx(200.0)
    assert doc["verdict"] == "regressed"
    assert any("short" in note for note in doc["notes"])


def test_a_partial_last_second_counts_only_its_share_of_the_time(tmp_path: Path) -> None:
    run = _write_run(tmp_path / "run", 11, {"GET /": ("request", 5000)}, duration_s=10.25)
    doc = compare_runs(run, run)
    assert doc["by_name"]["*"]["rps"]["base"] == pytest.approx(11 * 200 / 10.25, rel=1e-4)
    assert doc["verdict"] == "no_change"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["no-such-run", "{long}"], "no run 'no-such-run'"),
        (["{long}", "{short}"], "has only 3.0 s of intervals"),
        (["{long}", "{long}", "--min-effect", "five"], "bad --min-effect 'five'"),
        (["{long}", "{long}", "--min-effect", "5"], "with its % sign"),
        (["{long}", "{long}", "--confidence", "100%"], "bad --confidence"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    args: list[str],
    needle: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    paths = {
        "{long}": _write_run(tmp_path / "long", 8, {"GET /": ("request", 5000)}),
        "{short}": _write_run(tmp_path / "short", 3, {"GET /": ("request", 5000)}),
    }
    assert main(["compare", *(paths.get(a, a) for a in args)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("perflab: error:") and needle in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 2


def test_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "--help"]) == 0
    out = capsys.readouterr().out
    assert "Examples" in out and "--min-effect" in out
