"""``perflab profile`` and ``perflab profile diff`` as a user runs them: the CLI in a child
process, real py-spy (perf for native code) on real processes, no mocks.

The target is ``tests/servers/cpu_hot.py``: ``hot_loop`` does ~80 % of each round's work and
``warm`` ~15 %, fixed by the amount of work, so the ranking holds on a busy 2-core machine.
``--warm-iterations 60000`` raises warm to ~43 % of the samples: a known change for the diff.
Measured A/A (3 s profiles of the default workload, ~300 samples each): 28 quiet pairs moved
hot_loop's share by at most 5.1 points and called nothing changed, but one pair taken while
this suite ran moved warm by 8.5 points and called it "shrank" (see the A/A comment below).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import CPU_HOT, StartHot

PERFLAB = [sys.executable, "-m", "perflab.cli.main"]
PROFILE_FILES = (
    "stacks.folded",
    "profile.json",
    "flamegraph.html",
    "profile.speedscope.json",
    "sampler.log",
)
SUMMARY_KEYS = {"samples", "duration_s", "top", "flamegraph", "folded"}


def perflab(
    *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PERFLAB, *args], capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


def start_profile(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """``perflab profile --json ARGS``, started; :func:`summary_of` waits for it."""
    argv = [*PERFLAB, "profile", "--json", *args]
    return subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def summary_of(proc: subprocess.Popen[str]) -> dict[str, Any]:
    """Exit 0 and a summary of exactly the documented keys."""
    try:
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, stderr
    summary: dict[str, Any] = json.loads(stdout)
    assert set(summary) == SUMMARY_KEYS
    return summary


def profile_json(*args: str, env: dict[str, str]) -> dict[str, Any]:
    return summary_of(start_profile(*args, env=env))


def diff_json(*args: str, env: dict[str, str]) -> dict[str, Any]:
    proc = perflab("profile", "diff", "--json", *args, env=env)
    assert proc.returncode == 0, proc.stderr
    doc: dict[str, Any] = json.loads(proc.stdout)
    assert doc["schema"] == "perflab.profile-diff/1"
    return doc


def row_of(diff: dict[str, Any], function: str) -> dict[str, Any]:
    """The diff row of a cpu_hot function (rows are keyed "name (file)", no line)."""
    rows = [r for r in diff["rows"] if r["function"] == f"{function} (servers/cpu_hot.py)"]
    assert len(rows) == 1, [r["function"] for r in diff["rows"]]
    return rows[0]


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The children's environment, with a catalog of this module's profiles only."""
    catalog = tmp_path_factory.mktemp("profile-catalog") / "perflab.db"
    return {**os.environ, "PERFLAB_DB": str(catalog)}


@pytest.fixture(scope="module")
def baseline(
    env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, Any]]:
    """A 3 s profile of ``python cpu_hot.py`` (default workload): its directory and summary."""
    out = tmp_path_factory.mktemp("baseline") / "profile"
    command = [sys.executable, str(CPU_HOT), "--seconds", "3"]
    return out, profile_json("--out", str(out), "--", *command, env=env)


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """``spawn(*argv)`` starts a non-Python process; all are killed and reaped at teardown."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*argv: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(argv)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.kill()
        proc.wait(timeout=10)


@pytest.mark.slow
def test_a_profiled_command_ranks_hot_loop_first_and_keeps_its_files(
    baseline: tuple[Path, dict[str, Any]],
) -> None:
    out, summary = baseline
    top = summary["top"]
    assert top[0]["function"] == "hot_loop" and top[0]["file"].endswith("cpu_hot.py")
    assert top[0]["self_pct"] > 50, top[0]
    assert top[1]["function"] == "warm" and 3 < top[1]["self_pct"] < 35, top[1]
    assert summary["samples"] >= 100  # ~300 at 100 Hz over 3 s on an idle machine
    assert 2.5 < summary["duration_s"] < 30
    assert summary["flamegraph"] == str(out / "flamegraph.html")
    assert summary["folded"] == str(out / "stacks.folded")
    for name in PROFILE_FILES:
        assert (out / name).is_file(), name
    assert not (out / ".stacks.raw").exists()

    folded = (out / "stacks.folded").read_text().splitlines()
    assert sum(int(line.rsplit(" ", 1)[1]) for line in folded) == summary["samples"]
    doc = json.loads((out / "profile.json").read_text())
    assert doc["schema"] == "perflab.profile/1"
    assert doc["samples"] == summary["samples"] and doc["native"] is False
    assert doc["sampler"]["tool"] == "py-spy" and doc["target_exited"] is True
    assert doc["target"]["cmdline"][1:] == [str(CPU_HOT), "--seconds", "3"]
    speedscope = json.loads((out / "profile.speedscope.json").read_text())
    assert "speedscope" in speedscope["$schema"]
    assert "READY" in (out / "sampler.log").read_text()  # the command's output goes there

    page = (out / "flamegraph.html").read_text()
    assert "hot_loop" in page
    assert not re.search(r"<script[^>]*\ssrc\s*=", page, re.IGNORECASE), "an external script"
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page, re.IGNORECASE)


@pytest.mark.slow
def test_a_running_pid_gives_the_same_top_and_the_catalog_finds_the_baseline_by_id(
    baseline: tuple[Path, dict[str, Any]], start_hot: StartHot, env: dict[str, str], tmp_path: Path
) -> None:
    proc = start_hot("--seconds", "30")
    out = tmp_path / "by-pid"
    summary = profile_json("--pid", str(proc.pid), "--duration", "2s", "--out", str(out), env=env)
    assert [row["function"] for row in summary["top"][:2]] == ["hot_loop", "warm"]
    assert summary["top"][0]["self_pct"] > 50
    assert summary["samples"] >= 50  # 200 at 100 Hz on an idle machine
    doc = json.loads((out / "profile.json").read_text())
    assert doc["target"]["pid"] == proc.pid and doc["target_exited"] is False
    assert proc.poll() is None, "profiling killed the target"

    base_dir, base_summary = baseline
    base_id = json.loads((base_dir / "profile.json").read_text())["id"][:8]
    page = tmp_path / "diff.html"
    diff = diff_json(base_id, str(out), "-o", str(page), env=env)
    assert diff["base_samples"] == base_summary["samples"], "the id found another profile"
    assert diff["cand_samples"] == summary["samples"]
    assert diff["flamegraph"] == str(page) and page.is_file()


@pytest.mark.slow
def test_diff_calls_the_grown_function_grew_and_the_same_workload_unchanged(
    baseline: tuple[Path, dict[str, Any]], env: dict[str, str], tmp_path: Path
) -> None:
    base_dir, base_summary = baseline
    more_warm, same = tmp_path / "more-warm", tmp_path / "same"
    command = [sys.executable, str(CPU_HOT), "--seconds", "3"]
    started = [  # side by side: the shares are fixed by the work, not by the CPU it gets
        start_profile("--out", str(more_warm), "--", *command, "--warm-iterations", "60000",
                      env=env),
        start_profile("--out", str(same), "--", *command, env=env),
    ]  # fmt: skip
    for proc in started:
        summary_of(proc)

    grown = diff_json(str(base_dir), str(more_warm), "-o", str(tmp_path / "a.html"), env=env)
    warm = row_of(grown, "warm")
    assert warm["verdict"] == "grew" and not warm["explained_by_others"], warm
    assert warm["cand_total_pct"] - warm["base_total_pct"] > 15  # ~15 % -> ~43 %
    # ranked with the real changes: warm (+28 points) and hot_loop (-28) lead the table
    assert warm in grown["rows"][:2], "the real change is not ranked at the top"
    assert row_of(grown, "hot_loop")["verdict"] == "shrank"  # its share fell, if not its time
    # one_round holds nearly every sample in both; whether a point or two of start-up
    # samples (imports, a frameless sample) moves it is the data's business, not the tool's
    one_round = row_of(grown, "one_round")
    assert one_round["base_total_pct"] > 90 and one_round["cand_total_pct"] > 90, one_round

    # The same workload twice. On a busy machine a real A/A pair can vary more than the
    # binomial test assumes (once, 8.5 points for warm, called "shrank" at --min-effect 1):
    # the caveat diff.py documents. So the test does not ask for "no change". Asserted:
    # the runs look alike, every verdict follows the documented rule, and a move of under
    # 3 points (z < ~1 at ~300 samples) is never called a change.
    unchanged = diff_json(str(base_dir), str(same), "-o", str(tmp_path / "b.html"), env=env)
    assert max(abs(r["total_change_pp"]) for r in unchanged["rows"]) < 15, unchanged["rows"][:2]
    for row in unchanged["rows"]:
        called = row["total_q"] <= unchanged["alpha"] and abs(row["total_change_pp"]) >= 1
        assert (row["verdict"] != "no significant change") == called, row
    for function in ("hot_loop", "warm"):
        row = row_of(unchanged, function)
        if abs(row["total_change_pp"]) < 3:
            assert row["verdict"] == "no significant change", row

    # A profile against itself, given as its .folded file and as its directory: no change.
    itself = diff_json(
        str(base_dir / "stacks.folded"), str(base_dir), "-o", str(tmp_path / "c.html"), env=env
    )
    assert itself["base_samples"] == itself["cand_samples"] == base_summary["samples"]
    assert all(r["verdict"] == "no significant change" for r in itself["rows"])
    assert all(r["total_change_pp"] == 0 for r in itself["rows"])


def test_an_unknown_pid_is_exit_3_in_one_line(env: dict[str, str]) -> None:
    if Path("/proc/999999").exists():
        pytest.skip("PID 999999 exists on this machine")
    proc = perflab("profile", "--pid", "999999", "--duration", "1s", "--json", env=env)
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout == ""
    lines = error_lines(proc.stderr)
    assert len(lines) == 1 and lines[0].startswith("perflab: error:"), proc.stderr
    assert "999999" in lines[0] and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--", "no-such-command-xyz"], "command not found: no-such-command-xyz"),
        (["--pid", str(os.getpid()), "--", sys.executable, "-c", "pass"], "not both"),
    ],
    ids=["missing-command", "pid-and-command"],
)
def test_bad_input_is_exit_2_in_one_line(args: list[str], needle: str, env: dict[str, str]) -> None:
    proc = perflab("profile", "--json", *args, env=env)
    assert proc.returncode == 2, proc.stderr
    lines = error_lines(proc.stderr)
    assert len(lines) == 1 and lines[0].startswith("perflab: error:"), proc.stderr
    assert needle in lines[0] and "Traceback" not in proc.stderr


def test_diff_of_a_missing_profile_is_exit_2(env: dict[str, str], tmp_path: Path) -> None:
    missing = tmp_path / "no-such-profile"
    proc = perflab("profile", "diff", str(missing), str(missing), "--json", env=env)
    assert proc.returncode == 2, proc.stderr
    lines = error_lines(proc.stderr)
    assert len(lines) == 1 and lines[0].startswith("perflab: error:"), proc.stderr
    assert str(missing) in lines[0] and "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_a_process_that_is_not_python_needs_native(
    spawn: Callable[..., subprocess.Popen[bytes]], env: dict[str, str], tmp_path: Path
) -> None:
    sleeper = spawn("sleep", "20")
    out = tmp_path / "sleep"
    proc = perflab("profile", "--pid", str(sleeper.pid), "--duration", "1s", "--json",
                   "--out", str(out), env=env)  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    lines = error_lines(proc.stderr)
    assert len(lines) == 1 and lines[0].startswith("perflab: error:"), proc.stderr
    assert "--native" in lines[0] and "Traceback" not in proc.stderr
    assert not (out / "stacks.folded").exists()
    assert sleeper.poll() is None, "the failed attach killed the target"


@pytest.mark.skipif(shutil.which("perf") is None, reason="perf is not installed (linux-perf)")
def test_native_profile_of_a_busy_shell_loop_uses_perf(
    spawn: Callable[..., subprocess.Popen[bytes]], env: dict[str, str], tmp_path: Path
) -> None:
    busy = spawn("sh", "-c", "while :; do :; done")
    out = tmp_path / "native"
    proc = perflab("profile", "--pid", str(busy.pid), "--native", "--duration", "2s", "--json",
                   "--out", str(out), env=env)  # fmt: skip
    if proc.returncode == 3 and "not allowed to profile" in proc.stderr:
        pytest.skip(f"perf may not sample here: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert set(summary) == SUMMARY_KEYS
    assert summary["samples"] > 0 and summary["top"]
    doc = json.loads((out / "profile.json").read_text())
    assert doc["native"] is True and doc["sampler"]["tool"] == "perf"
    assert doc["samples"] == summary["samples"] and doc["target"]["pid"] == busy.pid
    assert (out / "flamegraph.html").is_file()
    assert not (out / ".perf.data").exists()


@pytest.mark.slow
def test_ctrl_c_keeps_the_partial_profile_and_exits_130(
    start_hot: StartHot, env: dict[str, str], tmp_path: Path
) -> None:
    target = start_hot("--seconds", "60")
    out = tmp_path / "interrupted"
    argv = [*PERFLAB, "profile", "--pid", str(target.pid), "--duration", "30s", "--out", str(out)]
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        deadline = time.monotonic() + 30
        while not (out / "sampler.log").exists() and proc.poll() is None:
            assert time.monotonic() < deadline, "py-spy never started"
            time.sleep(0.1)
        time.sleep(1.5)  # py-spy attaches within ~0.2 s: ~130 samples
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGINT)
        interrupted = time.monotonic()
        stdout, stderr = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, stderr
    assert time.monotonic() - interrupted < 15
    assert "interrupted" in stderr and "saved" in stderr and "Traceback" not in stderr
    assert "hot_loop" in stdout  # the table of the partial profile
    folded = (out / "stacks.folded").read_text()
    assert folded.strip() and "hot_loop" in folded
    assert (out / "flamegraph.html").is_file()
    doc = json.loads((out / "profile.json").read_text())
    assert doc["samples"] > 0 and doc["duration_s"] < 25
    assert target.poll() is None, "Ctrl-C of perflab reached the target"
