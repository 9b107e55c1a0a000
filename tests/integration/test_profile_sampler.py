"""Real py-spy (and perf) on real processes: ranking, commands, and every failure mode.

The target is ``tests/servers/cpu_hot.py``: ``hot_loop`` does ~80 % of its work, ``warm``
~15 %. Assertions on shares are loose (the machine has 2 cores shared with other tests);
the ranking is not, because the split is fixed by the work, not by timers.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from tests.conftest import CPU_HOT, StartHot

from perflab.errors import RunInterrupted, TargetError, UsageError
from perflab.profile import (
    ProfileInterrupted,
    ProfileProgress,
    load_profile,
    profile_command,
    profile_pid,
    top_functions,
)
from perflab.profile.tooling import pid_alive


def _self_shares(stacks: dict[tuple[str, ...], int]) -> dict[str, float]:
    return {row.function: row.self_pct for row in top_functions(stacks, None)}


def test_the_hot_function_ranks_first_by_self_time(start_hot: StartHot, tmp_path: Path) -> None:
    proc = start_hot("--seconds", "10")
    beats: list[ProfileProgress] = []
    result = profile_pid(proc.pid, 2, out_dir=tmp_path, on_progress=beats.append)
    rows = top_functions(result.stacks, 2)
    assert [r.function for r in rows] == ["hot_loop", "warm"]
    assert rows[0].file.endswith("cpu_hot.py")
    shares = _self_shares(result.stacks)
    assert shares["hot_loop"] > 55 and 3 < shares["warm"] < 35
    assert result.samples >= 50  # 200 at 100 Hz on an idle machine
    assert not result.target_exited and result.warnings == []
    assert result.target.pid == proc.pid
    assert result.target.python == f"{sys.version_info.major}.{sys.version_info.minor}"
    assert result.sampler["tool"] == "py-spy" and result.sampler["version"]
    assert len(beats) >= 2 and beats[-1].tool == "py-spy" and beats[-1].duration_s == 2
    assert load_profile(tmp_path).stacks == result.stacks
    assert not list(tmp_path.glob(".*"))  # no raw or temporary files left


def test_a_command_is_profiled_until_it_exits(tmp_path: Path) -> None:
    argv = [sys.executable, str(CPU_HOT), "--seconds", "1.5"]
    result = profile_command(argv, None, out_dir=tmp_path)
    assert top_functions(result.stacks, 1)[0].function == "hot_loop"
    assert result.target_exited and result.warnings == []
    assert result.target.cmdline == argv and result.target.pid is not None
    assert result.name == "cpu_hot"
    log = (tmp_path / "sampler.log").read_text()
    assert "READY" in log and "DONE" in log  # the command's own output is kept


def test_a_command_is_stopped_after_its_duration(tmp_path: Path) -> None:
    start = time.monotonic()
    result = profile_command([sys.executable, str(CPU_HOT), "--forever"], 1, out_dir=tmp_path)
    assert time.monotonic() - start < 15
    assert result.samples > 0 and result.target.pid is not None
    deadline = time.monotonic() + 5
    while pid_alive(result.target.pid) and time.monotonic() < deadline:
        time.sleep(0.05)  # py-spy kills the command it started
    assert not pid_alive(result.target.pid)


def test_an_unknown_pid_is_a_target_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(TargetError) as err:
        profile_pid(gone.pid, 1)
    assert err.value.message == f"no process with PID {gone.pid}"
    assert err.value.exit_code == 3
    assert list(tmp_path.iterdir()) == []  # no profile directory for a profile never taken


def test_a_process_exiting_mid_profile_keeps_the_partial_profile(
    start_hot: StartHot, tmp_path: Path
) -> None:
    proc = start_hot("--seconds", "1.5")
    start = time.monotonic()
    result = profile_pid(proc.pid, 6, out_dir=tmp_path)
    assert time.monotonic() - start < 5.5
    assert result.target_exited
    assert result.warnings and f"PID {proc.pid} exited after" in result.warnings[0]
    assert top_functions(result.stacks, 1)[0].function == "hot_loop"
    stored = load_profile(tmp_path)
    assert stored.target_exited and stored.samples == result.samples > 10


def test_a_non_python_process_without_native_is_a_clear_error(tmp_path: Path) -> None:
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        with pytest.raises(UsageError) as err:
            profile_pid(sleeper.pid, 1, out_dir=tmp_path / "p")
    finally:
        sleeper.kill()
        sleeper.wait()
    assert err.value.one_line() == (
        f"PID {sleeper.pid} is not a Python process; profile native code with --native (uses perf)"
    )
    assert err.value.exit_code == 2


@pytest.mark.skipif(shutil.which("perf") is None, reason="perf is not installed (linux-perf)")
def test_a_non_python_process_with_native_is_profiled_by_perf(tmp_path: Path) -> None:
    busy = subprocess.Popen(
        ["dd", "if=/dev/zero", "of=/dev/null", "bs=64k"], stderr=subprocess.DEVNULL
    )
    try:
        result = profile_pid(busy.pid, 1, native=True, out_dir=tmp_path)
    finally:
        busy.kill()
        busy.wait()
    assert result.sampler["tool"] == "perf" and result.native
    assert result.samples > 10  # ~100 at 100 Hz: dd is always on a CPU
    frames = {frame for stack in result.stacks for frame in stack}
    assert any("libc.so" in f or "[kernel.kallsyms]" in f or "(dd)" in f for f in frames)
    assert not result.target_exited
    assert (tmp_path / "stacks.folded").read_text().strip()
    assert not (tmp_path / ".perf.data").exists()


def test_ctrl_c_keeps_the_partial_profile(start_hot: StartHot, tmp_path: Path) -> None:
    proc = start_hot("--seconds", "10")
    # a shell starts background jobs with SIGINT ignored; Ctrl-C must raise here
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(1.2, os.kill, (os.getpid(), signal.SIGINT))  # a real Ctrl-C
    timer.start()
    try:
        with pytest.raises(ProfileInterrupted) as err:
            profile_pid(proc.pid, 6, out_dir=tmp_path)
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C escaped profile_pid instead of becoming RunInterrupted")
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    assert isinstance(err.value, RunInterrupted) and err.value.exit_code == 130
    assert "saved in" in err.value.message
    result = err.value.result
    assert 20 < result.samples < 500 and result.duration_s < 5
    assert load_profile(tmp_path).stacks == result.stacks
    assert proc.poll() is None  # the target is not touched


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root (and setpriv) to try as an unprivileged user",
)
def test_no_permission_to_attach_is_a_target_error_with_a_hint(start_hot: StartHot) -> None:
    proc = start_hot("--seconds", "10")
    shared = Path(tempfile.mkdtemp(prefix="perflab-profile-test-"))  # tmp_path is root's only
    shared.chmod(0o777)
    code = (
        "import sys; from pathlib import Path\n"
        "from perflab.profile import profile_pid\n"
        "from perflab.errors import PerflabError\n"
        "try:\n"
        f"    profile_pid({proc.pid}, 1, out_dir=Path({str(shared / 'p')!r}))\n"
        "except PerflabError as e:\n"
        "    print(e.one_line()); sys.exit(e.exit_code)\n"
    )
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    probe = subprocess.run(
        [*nobody, sys.executable, "-c", "import perflab.profile"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    if probe.returncode != 0:  # e.g. a checkout in a root-only temp dir (mktemp -d is 0700)
        shutil.rmtree(shared)
        pytest.skip("an unprivileged user cannot run this checkout's interpreter or import it")
    try:
        out = subprocess.run(
            [*nobody, sys.executable, "-c", code], capture_output=True, text=True, timeout=60
        )
    finally:
        shutil.rmtree(shared)
    assert out.returncode == 3, out.stderr
    assert out.stdout.startswith(f"not allowed to attach to PID {proc.pid} (run as root")
    assert "ptrace_scope" in out.stdout and "CAP_SYS_PTRACE" in out.stdout
