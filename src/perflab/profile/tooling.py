"""External samplers as child processes, and the processes they sample, as /proc shows them.

py-spy and perf both report nothing until they stop, so :func:`supervise` provides the
heartbeat, the deadline and the Ctrl-C handling for either: the sampler runs in its own
session (a terminal's Ctrl-C reaches only perflab) and is stopped with SIGINT, on which both
write the samples they have before exiting.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from perflab.errors import TargetError, UsageError
from perflab.profile.artifact import ProfileTarget

__all__ = [
    "PROGRESS_EVERY_S",
    "ProfileProgress",
    "ProgressCallback",
    "ToolRun",
    "child_pids",
    "describe_pid",
    "pid_alive",
    "require_process",
    "supervise",
    "tool_version",
]

PROGRESS_EVERY_S = 0.5


@dataclass(frozen=True)
class ProfileProgress:
    """A heartbeat while sampling: py-spy reports nothing until it stops, so this is time."""

    elapsed_s: float
    duration_s: float | None
    tool: str


ProgressCallback = Callable[[ProfileProgress], None]


@dataclass
class ToolRun:
    """How a sampler process ended: ``interrupted`` by Ctrl-C, or ``stopped`` by us."""

    returncode: int
    elapsed_s: float
    interrupted: bool
    stopped: bool
    log: str
    ended_early: bool = False  # the caller's ``stop`` event ended it (not an error)


def tool_version(argv: list[str]) -> str | None:
    """The last word of ``TOOL --version`` (``py-spy 0.4.3``, ``perf version 6.1``)."""
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    words = out.stdout.split()
    return words[-1] if out.returncode == 0 and words else None


def pid_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (exited, not yet reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def require_process(pid: int) -> None:
    if pid <= 0:
        raise UsageError(f"bad PID {pid}: must be a positive process id")
    if not pid_alive(pid):
        raise TargetError(f"no process with PID {pid}", hint=f"check it with: ps -p {pid}")


def describe_pid(pid: int) -> ProfileTarget:
    """Command line, executable and Python version of a process, as far as /proc tells."""
    proc = Path(f"/proc/{pid}")
    cmdline = _cmdline(proc)
    try:
        exe: str | None = os.readlink(proc / "exe")
    except OSError:
        exe = None
    return ProfileTarget(pid=pid, cmdline=cmdline, exe=exe, python=_python_version(proc, exe))


def _cmdline(proc: Path) -> list[str]:
    """The arguments, retried briefly: a process caught in exec (just spawned) shows none
    for a few milliseconds; a kernel thread never has any."""
    for _ in range(5):
        try:
            raw = (proc / "cmdline").read_bytes()
        except OSError:
            return []
        if raw:
            return raw.decode(errors="replace").rstrip("\0").split("\0")
        time.sleep(0.01)
    return []


def _python_version(proc: Path, exe: str | None) -> str | None:
    found = re.search(r"python(\d+\.\d+)", Path(exe).name) if exe else None
    if found is None:
        try:
            found = re.search(r"libpython(\d+\.\d+)", (proc / "maps").read_text())
        except OSError:
            return None
    return found.group(1) if found else None


def child_pids(pid: int) -> list[int]:
    """Direct children of ``pid`` (from every thread of it), e.g. the command py-spy ran."""
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids += [int(k) for k in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return kids


def spawn_logged(
    argv: list[str], log_path: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start a sampler in its own session (a terminal's Ctrl-C reaches only us; we stop it
    once, cleanly) with its output, and a profiled command's, going to ``log_path``."""
    with log_path.open("wb") as sink:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )


def supervise(
    proc: subprocess.Popen[bytes],
    *,
    tool: str,
    duration_s: float | None,
    stop_after_s: float | None,
    log_path: Path,
    on_progress: ProgressCallback | None = None,
    on_tick: Callable[[float], None] | None = None,
    stop: threading.Event | None = None,
) -> ToolRun:
    """Wait for a sampler, beating ``on_progress``; stop it with SIGINT (it then writes what
    it has) on Ctrl-C, once ``stop_after_s`` has passed, or when ``stop`` is set (a load test
    that ended before the planned profile did). It was started in its own session,
    so a terminal's Ctrl-C reaches only us and it is stopped exactly once."""
    start = time.monotonic()
    interrupted = stopped = ended_early = False
    try:
        while True:
            elapsed = time.monotonic() - start
            wait_s = PROGRESS_EVERY_S
            if stop_after_s is not None and not stopped:
                wait_s = min(wait_s, max(stop_after_s - elapsed, 0.0))
            try:
                proc.wait(timeout=wait_s)
                break
            except subprocess.TimeoutExpired:
                elapsed = time.monotonic() - start
            if on_tick is not None:
                on_tick(elapsed)
            if on_progress is not None:
                on_progress(ProfileProgress(elapsed, duration_s, tool))
            if stop_after_s is not None and elapsed >= stop_after_s and not stopped:
                stopped = True
                proc.send_signal(signal.SIGINT)
            elif stop is not None and stop.is_set() and not (stopped or ended_early):
                ended_early = True
                proc.send_signal(signal.SIGINT)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if proc.poll() is None and not (stopped or ended_early):  # Ctrl-C, a callback raised
            proc.send_signal(signal.SIGINT)
        _reap(proc)
    return ToolRun(
        returncode=proc.returncode,
        elapsed_s=time.monotonic() - start,
        interrupted=interrupted,
        stopped=stopped,
        ended_early=ended_early,
        log=log_path.read_text(errors="replace") if log_path.exists() else "",
    )


def _reap(proc: subprocess.Popen[bytes]) -> None:
    """Let a signalled sampler finish writing; kill it only if it hangs (or on a second
    Ctrl-C), so no sampler outlives us."""
    try:
        proc.wait(timeout=15)
    except (subprocess.TimeoutExpired, KeyboardInterrupt):
        proc.kill()
        proc.wait()
