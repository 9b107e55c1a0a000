"""``perflab replay`` end to end: a log and a HAR file replayed against a real local server."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from perflab.cli.main import main
from perflab.load.replay import load_replay
from perflab.store import load_run, read_intervals

PERFLAB = [sys.executable, "-m", "perflab.cli.main"]
T0 = 1_700_000_000
_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def _stamp(epoch: int) -> str:
    tm = time.gmtime(epoch)
    return (
        f"{tm.tm_mday:02d}/{_MONTHS[tm.tm_mon - 1]}/{tm.tm_year}:"
        f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d} +0000"
    )


def make_log(path: Path, lines: int = 200, per_second: int = 5) -> list[int]:
    """A combined log of ``lines`` lines over ``lines / per_second`` seconds; every 25th line
    cannot be replayed. Returns the numbers of those lines."""
    bad: list[int] = []
    out = []
    for i in range(lines):
        stamp = _stamp(T0 + i // per_second)
        if i % 25 == 7:
            request = "-" if i % 50 == 7 else r"\x16\x03\x01\x00\xF1\x01"
            bad.append(i + 1)
        else:
            request = f"GET /items/{i}?page={i % 3} HTTP/1.1"
            if i % 10 == 0:
                request = f"POST /orders/{i} HTTP/1.1"
        out.append(f'10.0.0.{i % 9} - - [{stamp}] "{request}" 200 13 "-" "curl/8.5"')
    path.write_text("\n".join(out) + "\n")
    return bad


def test_replay_log_at_10x(
    hello_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    log = tmp_path / "access.log"
    bad = make_log(log)
    plan = load_replay(log, speed=10.0)
    assert len(plan.entries) == 200 - len(bad) and plan.duration_s == pytest.approx(3.98)
    args = ["replay", str(log), "--target", hello_url, "--speed", "10x", "--workers", "2"]
    code = main([*args, "--json", "--name", "nightly-replay"])
    stdout, stderr = capsys.readouterr()
    assert code == 0, stderr
    doc = json.loads(stdout)
    (out,) = (tmp_path / "perflab-runs").glob("*-nightly-replay")
    totals = doc["totals"]
    # every parsable request was sent and answered, none dropped, none invented
    assert totals["requests"] == len(plan.entries)
    assert totals["errors"] == 0 and totals["dropped"] == 0
    assert doc["by_name"]["POST /orders/{id}"]["requests"] == 20
    assert set(doc["by_name"]) == {"GET /items/{id}", "POST /orders/{id}"}
    # on the scaled timing: 39.8 s of log at 10x
    assert doc["duration_s"] == pytest.approx(plan.duration_s, rel=0.10)
    seconds = [r["second"] for r in read_intervals(out) if r["requests"]]
    assert max(seconds) - min(seconds) in (3, 4)  # spread over the run, not in one burst
    # the skip report: before the run on stderr, and stored with the run
    assert f"replay: {len(plan.entries)} requests" in stderr and "10x" in stderr
    assert f"skipped {len(bad)} lines" in stderr and f"line {bad[0]}: no request line" in stderr
    replay = doc["config"]["replay"]
    assert replay["requests"] == len(plan.entries) and replay["lines"] == 200
    assert replay["skipped"] == len(bad)
    assert [n for n, _ in replay["skipped_examples"]] == bad[: len(replay["skipped_examples"])]
    # stored like any other run
    stored = load_run(out)
    assert stored["status"] == "passed" and stored["id"] == doc["id"]
    assert main(["show", "nightly-replay", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["config"]["replay"] == replay
    assert main(["show", doc["id"][:8]]) == 0
    assert "GET /items/{id}" in capsys.readouterr().out


def test_replay_har_sends_secrets_but_never_stores_them(
    hello_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret, cookie = "Bearer t0k3n-5ecret-value", "sid=c00kie-5ecret"
    entries = []
    for i in range(12):
        started = f"2024-03-01T10:00:{i:02d}.{(i * 137) % 1000:03d}Z"
        request: dict[str, Any] = {
            "method": "POST" if i % 3 == 0 else "GET",
            "url": f"https://recorded.example/api/v1/things/{i}?key=abc{i}",
            "headers": [
                {"name": ":authority", "value": "recorded.example"},
                {"name": "Authorization", "value": secret},
                {"name": "Cookie", "value": cookie},
                {"name": "Accept", "value": "application/json"},
            ],
        }
        if i % 3 == 0:
            request["postData"] = {"mimeType": "application/json", "text": f'{{"n": {i}}}'}
        entries.append({"startedDateTime": started, "request": request})
    har = tmp_path / "session.har"
    har.write_text(json.dumps({"log": {"version": "1.2", "entries": entries}}))
    out = tmp_path / "run"
    args = ["replay", str(har), "--target", f"{hello_url}/", "--rate", "40/s", "--workers", "1"]
    code = main([*args, "--out", str(out), "--threshold", "GET /api/v1/things/{id}: error_rate<1%"])
    stdout, stderr = capsys.readouterr()
    assert code == 0, stderr
    doc = load_run(out)
    assert doc["totals"]["requests"] == 12 and doc["totals"]["errors"] == 0
    assert doc["by_name"]["POST /api/v1/things/{id}"]["requests"] == 4
    assert 11 / 40 - 0.01 <= doc["duration_s"] < 1.5  # re-timed: 12 at 40/s, not over 11 s
    assert "12 requests" in stderr and "HAR" in stderr
    text = (out / "run.json").read_text()
    for value in ("t0k3n-5ecret", "c00kie-5ecret", "abc1"):
        assert value not in text and value not in stdout and value not in stderr


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--speed", "2x", "--rate", "10/s"], "not both"),
        (["--speed", "fast"], "bad speed 'fast'"),
        (["--rate", "lots"], "bad rate 'lots'"),
        (["--limit", "0"], "bad --limit"),
        (["--threshold", "GET /nope: p99<1s"], "names request 'GET /nope'"),
    ],
)
def test_bad_flags_are_one_line_exit_2(
    extra: list[str], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "access.log"
    make_log(log, lines=20)
    assert main(["replay", str(log), "--target", "http://127.0.0.1:1", *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("perflab: error:") and needle in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 2


@pytest.mark.parametrize(
    ("source", "target", "needle"),
    [
        ("missing.log", "http://127.0.0.1:1", "does not exist"),
        ("access.log", "http://127.0.0.1:1/api", "has a path"),
        ("access.log", "127.0.0.1:1", "no scheme"),
    ],
)
def test_bad_source_or_target_exit_2(
    source: str, target: str, needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_log(tmp_path / "access.log", lines=10)
    assert main(["replay", str(tmp_path / source), "--target", target]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err, err


def test_unreachable_target_exit_3(
    refused_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "access.log"
    make_log(log, lines=10)
    assert main(["replay", str(log), "--target", refused_url, "--quiet"]) == 3
    err = capsys.readouterr().err
    assert "cannot connect" in err and "replay:" not in err  # --quiet: no plan either


def test_help_teaches() -> None:
    proc = subprocess.run(
        [*PERFLAB, "replay", "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "--speed" in proc.stdout and "--rate" in proc.stdout and "Examples" in proc.stdout
