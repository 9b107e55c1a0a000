"""The command line: exit codes, one-line errors, redaction, interrupts, show, demo."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from perflab.cli.main import main
from perflab.store import load_run, read_intervals

PERFLAB = [sys.executable, "-m", "perflab.cli.main"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["run", "not a url"], "not a url"),
        (["run", "ftp://127.0.0.1/"], "ftp"),
        (["run", "http://127.0.0.1:1/", "--rate", "fast"], "bad rate 'fast'"),
        (["run", "http://127.0.0.1:1/", "--duration", "10x"], "bad duration '10x'"),
        (["run", "http://127.0.0.1:1/", "--threshold", "p99<<3"], "bad threshold"),
        (["run", "http://127.0.0.1:1/", "--threshold", "p99<3"], "needs a unit"),
        (["run", "http://127.0.0.1:1/", "--rate", "5/s", "--vus", "3"], "not both"),
        (["run", "http://127.0.0.1:1/", "--stages", "10s"], "DURATION:TARGET"),
        (["run", "http://127.0.0.1:1/", "-H", "NoColon"], "header"),
        (["run", "http://127.0.0.1:1/", "--vus", "abc"], "--vus"),
        (["show", "no-such-run-anywhere"], "no run"),
    ],
)
def test_bad_input_is_one_line_exit_2(
    args: list[str],
    needle: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert needle.lower() in err.lower(), err
    assert "Traceback" not in err
    assert err.startswith("perflab: error:")
    assert len([line for line in err.splitlines() if line.strip()]) <= 2


def test_nothing_listening_exit_3(refused_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", f"{refused_url}/", "--rate", "10/s", "--duration", "1s"]) == 3
    err = capsys.readouterr().err
    assert "cannot connect" in err and "Traceback" not in err


def test_subprocess_bad_input_no_traceback() -> None:
    proc = subprocess.run(
        [*PERFLAB, "run", "http://127.0.0.1:1/", "--rate", "x"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_json_run_redacts_secrets(
    hello_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "s3cr3t-T0KEN-value"
    code = main(
        [
            "run",
            f"{hello_url}/echo?api_key={secret}",
            "--rate",
            "20/s",
            "--duration",
            "1s",
            "-H",
            f"Authorization: Bearer {secret}",
            "-H",
            f"Cookie: sid={secret}",
            "-X",
            "POST",
            "--data",
            "{}",
            "--json",
            "--out",
            str(tmp_path / "run"),
            "--workers",
            "1",
            "--threshold",
            "error_rate<1%",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(out)  # stdout is exactly one JSON document
    assert doc["totals"]["requests"] == 20 and doc["totals"]["errors"] == 0
    stored = (tmp_path / "run" / "run.json").read_text()
    assert secret not in out and secret not in err and secret not in stored
    assert doc["config"]["requests"][0]["headers"]["Authorization"] == "[redacted]"


def test_failed_threshold_exit_1_and_show(
    hello_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    code = main(
        [
            "run",
            f"{hello_url}/",
            "--vus",
            "2",
            "--iterations",
            "50",
            "--name",
            "smoke",
            "--threshold",
            "max<1us",
            "--quiet",
        ]
    )
    assert code == 1
    capsys.readouterr()
    runs = list((tmp_path / "perflab-runs").glob("*-smoke"))
    assert len(runs) == 1
    doc = load_run(runs[0])
    assert doc["status"] == "failed" and doc["totals"]["requests"] == 50
    for ref in ("smoke", doc["id"][:6], str(runs[0])):
        assert main(["show", ref, "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["id"] == doc["id"]
    assert main(["show", "smoke"]) == 0
    human = capsys.readouterr().out
    assert "max<1us" in human and "FAIL" in human


@pytest.mark.parametrize("whole_group", [False, True])
def test_ctrl_c_keeps_results_exit_130(hello_url: str, tmp_path: Path, whole_group: bool) -> None:
    """SIGINT to perflab alone, or to its whole process group as a terminal's Ctrl-C does."""
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [
            *PERFLAB,
            "run",
            f"{hello_url}/",
            "--rate",
            "100/s",
            "--duration",
            "60s",
            "--workers",
            "2",
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # wait until at least two seconds are stored
        journal = out / "intervals.journal"
        if journal.exists() and journal.read_bytes().count(b"\n") >= 2:
            break
        time.sleep(0.1)
    if whole_group:
        os.killpg(proc.pid, signal.SIGINT)
    else:
        os.kill(proc.pid, signal.SIGINT)
    _stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    doc = load_run(out)
    assert doc["status"] == "interrupted"
    assert doc["generator"]["worker_errors"] == []
    assert doc["totals"]["requests"] >= 200
    assert sum(r["requests"] for r in read_intervals(out)) == doc["totals"]["requests"]
    assert (out / "intervals.parquet").exists()


def test_help_teaches() -> None:
    proc = subprocess.run(
        [*PERFLAB, "run", "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0
    assert "--rate" in proc.stdout and "Examples" in proc.stdout
