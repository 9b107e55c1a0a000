"""``perflab report`` in-process: outputs, defaults, formats and one-line errors."""

from __future__ import annotations

import shutil
import sys
import types
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from perflab.cli.main import main

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "run-v1"


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    target = tmp_path / "run"
    shutil.copytree(GOLDEN, target)
    return target


def test_html_goes_next_to_the_run(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(run_dir)]) == 0
    out, err = capsys.readouterr()
    page = (run_dir / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and 'data-figure="spectrum"' in page
    assert out == "" and str(run_dir / "report.html") in err
    assert not list(run_dir.glob(".report.html.*"))  # the atomic write left no temp file


def test_output_option_and_formats(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(run_dir / "run.json"), "-o", str(tmp_path / "r.html")]) == 0
    assert (tmp_path / "r.html").stat().st_size > 1_000_000
    capsys.readouterr()
    assert main(["report", str(run_dir), "--format", "markdown"]) == 0
    assert capsys.readouterr().out.startswith("## ")
    assert main(["report", str(run_dir), "--format", "junit", "-o", str(tmp_path / "j.xml")]) == 0
    assert ET.parse(tmp_path / "j.xml").getroot().tag == "testsuites"
    assert not (run_dir / "report.html").exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--format", "pdf"], "bad --format 'pdf'"),
        (["-o", "/no/such/dir/x.html"], "does not exist"),
        (["--min-effect", "lots"], "bad --min-effect"),
    ],
)
def test_bad_input_is_one_line_exit_2(
    run_dir: Path, args: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(run_dir), *args]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_unknown_run_is_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["report", "no-such-run-anywhere"]) == 2
    assert "no run" in capsys.readouterr().err


def test_comparison_uses_compare_runs(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    candidate = tmp_path / "cand"
    shutil.copytree(GOLDEN, candidate)
    calls: list[tuple[Any, ...]] = []

    def compare_runs(base: Any, cand: Any, **options: Any) -> dict[str, Any]:
        calls.append((base, cand, options))
        figure = {
            "base": 1.0,
            "candidate": 1.5,
            "change_pct": 50.0,
            "ci_low_pct": 30.0,
            "ci_high_pct": 70.0,
            "verdict": "regressed",
        }
        return {"verdict": "regressed", "by_name": {"*": {"p99": figure}}, "notes": []}

    fake = types.ModuleType("perflab.compare")
    fake.compare_runs = compare_runs  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "perflab.compare", fake)
    assert main(["report", str(run_dir), str(candidate), "--min-effect", "10%"]) == 0
    assert calls == [(run_dir, candidate, {"min_effect": pytest.approx(0.10)})]
    page = (candidate / "report-compare.html").read_text()
    assert "REGRESSED" in page and 'data-figure="forest"' in page
    out = tmp_path / "c.xml"
    assert main(["report", str(run_dir), str(candidate), "--format", "junit", "-o", str(out)]) == 0
    assert ET.parse(out).getroot().get("failures") == "1"
