"""Sampling a live process or a command with py-spy (perf for native code), into a profile.

perflab does not sample anything itself: py-spy reads the target's memory from outside, so
the target needs no change and pays only for being paused ~100 times a second (or not at
all with ``nonblocking``). This module runs ``py-spy record --format raw``, supervises it
(progress, Ctrl-C, a stuck sampler) and turns what it prints into :class:`ProfileResult`
or into one-line errors with a hint:

==============================================  =============  ==========================
situation                                       error          exit code
==============================================  =============  ==========================
py-spy (or perf, for native) not installed      UsageError     2
bad duration/rate, command not found            UsageError     2
not a Python process, without ``native``        UsageError     2
no process with that PID                        TargetError    3
not allowed to attach (ptrace / perf_event)     TargetError    3
the sampler failed in another way               TargetError    3
Ctrl-C (the partial profile is saved)           RunInterrupted 130
==============================================  =============  ==========================

A target that exits mid-profile is not an error: py-spy writes the samples it had, and the
result says ``target_exited`` with a warning.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from perflab.errors import PerflabError, RunInterrupted, TargetError, UsageError
from perflab.profile.artifact import (
    LOG_FILE,
    ProfileResult,
    ProfileTarget,
    new_profile_dir,
    save_profile,
    utc_now,
)
from perflab.profile.folded import Stacks, parse_folded, total_samples
from perflab.profile.native import record_native
from perflab.profile.tooling import (
    ProgressCallback,
    ToolRun,
    child_pids,
    describe_pid,
    pid_alive,
    require_process,
    spawn_logged,
    supervise,
    tool_version,
)

__all__ = [
    "ProfileInterrupted",
    "check_options",
    "find_py_spy",
    "profile_command",
    "profile_pid",
]

NO_PYTHON_FRAME = "[no Python frame]"
STUCK_GRACE_S = 60.0  # past its duration by this much, a sampler is stopped (then killed)
_RAW = ".stacks.raw"
_PTRACE_HINT = (
    "run as root, or allow ptrace: sudo sysctl kernel.yama.ptrace_scope=0; "
    "in a container add CAP_SYS_PTRACE (docker run --cap-add SYS_PTRACE)"
)
_NOT_PYTHON = (
    "Failed to find python version",
    "Failed to get process executable name",
    "Failed to find a python interpreter",
    "Failed to find python interpreter",
)


class ProfileInterrupted(RunInterrupted):
    """Ctrl-C while sampling; ``result`` is the partial profile, already saved."""

    def __init__(self, message: str, result: ProfileResult) -> None:
        super().__init__(message)
        self.result = result


def find_py_spy() -> str:
    found = shutil.which("py-spy")
    if found is None:
        beside = Path(sys.executable).parent / "py-spy"
        found = str(beside) if beside.exists() else None
    if found is None:
        raise UsageError("py-spy is not installed", hint="install it: pip install py-spy")
    return found


def check_options(duration_s: float | None, rate_hz: int) -> None:
    if duration_s is not None and not duration_s > 0:
        raise UsageError(f"bad duration {duration_s:g} s: must be more than 0")
    if not 1 <= rate_hz <= 10_000:
        raise UsageError(f"bad sampling rate {rate_hz} Hz: must be between 1 and 10000")


def profile_pid(
    pid: int,
    duration_s: float | None = 10.0,
    *,
    rate_hz: int = 100,
    native: bool = False,
    subprocesses: bool = False,
    nonblocking: bool = False,
    out_dir: Path | None = None,
    name: str | None = None,
    on_progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
) -> ProfileResult:
    """Profile a running process for ``duration_s`` seconds (None: until it exits or Ctrl-C)
    and save the profile in ``out_dir`` (default: a new ``perflab-runs/profile-...``).

    py-spy samples whole seconds, so a duration is rounded up. Setting ``stop`` (from another
    thread) ends the profile early and keeps it, like a duration that ran out. With
    ``native``, a Python process is sampled with its native frames (py-spy ``--native``) and
    any other process with perf.

    Raises:
        UsageError, TargetError, ProfileInterrupted: see the module docstring.
    """
    check_options(duration_s, rate_hz)
    require_process(pid)
    target = describe_pid(pid)
    flags = _flags(native, subprocesses, nonblocking)
    label = name or (_name_for(target.cmdline) if target.cmdline else f"pid-{pid}")
    job = _Job(out_dir, label, duration_s, rate_hz, native, target, on_progress)
    job.stop = stop
    return job.run(["--pid", str(pid), *flags], pid=pid)


def profile_command(
    argv: list[str],
    duration_s: float | None = None,
    *,
    rate_hz: int = 100,
    native: bool = False,
    subprocesses: bool = False,
    nonblocking: bool = False,
    out_dir: Path | None = None,
    name: str | None = None,
    on_progress: ProgressCallback | None = None,
) -> ProfileResult:
    """Run ``argv`` under the sampler until it exits, or for ``duration_s`` seconds (then it
    is stopped; rounded up to whole seconds for py-spy), and save the profile. The command's
    output goes to the profile's ``sampler.log``, so ``--json`` output stays clean.

    With ``native``, a command that is not a Python program (judged by its executable or
    ``#!`` line, since it cannot be started twice to ask py-spy) is sampled with perf.
    """
    check_options(duration_s, rate_hz)
    if not argv:
        raise UsageError("no command to profile")
    exe = shutil.which(argv[0])
    if exe is None:
        raise UsageError(f"command not found: {argv[0]}")
    target = ProfileTarget(pid=None, cmdline=list(argv), exe=exe)
    job = _Job(out_dir, name or _name_for(argv), duration_s, rate_hz, native, target, on_progress)
    if native and not subprocesses and not _looks_like_python(exe):
        return job.run_native(command=argv)
    flags = _flags(native, subprocesses, nonblocking)
    return job.run([*flags, "--", *argv], pid=None)


def _flags(native: bool, subprocesses: bool, nonblocking: bool) -> list[str]:
    on = {"--native": native, "--subprocesses": subprocesses, "--nonblocking": nonblocking}
    return [flag for flag, wanted in on.items() if wanted]


def _name_for(argv: list[str]) -> str:
    first = Path(argv[0]).name
    if first.startswith("python") and len(argv) > 1:
        rest = argv[2:] if argv[1] == "-m" else argv[1:]
        return Path(rest[0]).stem if rest and not rest[0].startswith("-") else first
    return first


def _looks_like_python(exe: str) -> bool:
    if "python" in Path(exe).name or "python" in Path(os.path.realpath(exe)).name:
        return True
    try:
        with open(exe, "rb") as fh:
            first = fh.readline(256)
    except OSError:
        return False
    return first.startswith(b"#!") and b"python" in first


class _Job:
    """One profiling attempt: its directory, the sampler run, and the result it leaves."""

    def __init__(
        self,
        out_dir: Path | None,
        name: str,
        duration_s: float | None,
        rate_hz: int,
        native: bool,
        target: ProfileTarget,
        on_progress: ProgressCallback | None,
    ) -> None:
        self.created = out_dir is None
        self.directory = new_profile_dir(name) if out_dir is None else out_dir
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(
                f"cannot write the profile to {self.directory}: {exc.strerror or exc}"
            ) from exc
        self.name, self.duration_s, self.rate_hz = name, duration_s, rate_hz
        self.native, self.target, self.on_progress = native, target, on_progress
        self.started_at = utc_now()
        self.stop: threading.Event | None = None

    def run(self, target_args: list[str], *, pid: int | None) -> ProfileResult:
        spy = find_py_spy()
        raw = self.directory / _RAW
        seconds = None if self.duration_s is None else max(1, math.ceil(self.duration_s))
        argv = [spy, "record", "--format", "raw", "-o", str(raw), "-r", str(self.rate_hz)]
        argv += [] if seconds is None else ["-d", str(seconds)]
        try:
            run = self._spawn([*argv, *target_args], seconds, watch_child=pid is None)
        except BaseException:
            self._discard()
            raise
        if not raw.exists():
            if run.interrupted:
                self._discard()
                raise RunInterrupted("profiling interrupted before py-spy took a sample")
            if pid is not None and self.native and _is_not_python(run.log) and pid_alive(pid):
                return self.run_native(pid=pid)
            self._discard()
            raise _py_spy_error(run.log, pid, self.target.cmdline)
        stacks = self._read_raw(raw)
        exited = "process exited" in run.log
        warnings = []
        if exited and pid is not None:
            asked = f"of the {seconds} s asked for" if seconds is not None else "into the profile"
            warnings.append(
                f"PID {pid} exited after {run.elapsed_s:.1f} s {asked}; "
                "the profile covers that part"
            )
        if run.stopped:
            warnings.append(
                f"py-spy overran its {seconds} s by {STUCK_GRACE_S:g} s and was stopped"
            )
        found = re.search(r"Samples: (\d+) Errors: (\d+)", run.log)
        errors = []
        if found and int(found[2]):
            taken, failed = int(found[1]), int(found[2])
            errors.append(f"py-spy could not read {failed} of {taken + failed} samples")
        version = tool_version([spy, "--version"])
        return self._finish(stacks, run, "py-spy", version, exited, warnings, errors)

    def _spawn(self, argv: list[str], seconds: int | None, *, watch_child: bool) -> ToolRun:
        """Run py-spy to its end; its output (and a command's) goes to the log."""
        log = self.directory / LOG_FILE
        proc = spawn_logged(argv, log, env={**os.environ, "RUST_BACKTRACE": "0"})  # one line
        return supervise(
            proc,
            tool="py-spy",
            duration_s=self.duration_s,
            stop_after_s=None if seconds is None else seconds + STUCK_GRACE_S,
            log_path=log,
            on_progress=self.on_progress,
            on_tick=self._command_pid_finder(proc.pid) if watch_child else None,
            stop=self.stop,
        )

    def run_native(
        self, *, pid: int | None = None, command: list[str] | None = None
    ) -> ProfileResult:
        try:
            recording = record_native(
                pid=pid,
                command=command,
                duration_s=self.duration_s,
                rate_hz=self.rate_hz,
                directory=self.directory,
                on_progress=self.on_progress,
            )
        except BaseException:
            self._discard()
            raise
        self.native = True
        if command is not None and recording.pid is not None:
            self.target.pid = recording.pid
        return self._finish(
            recording.stacks,
            recording.run,
            "perf",
            recording.version,
            recording.target_exited,
            recording.warnings,
            [],
        )

    def _finish(
        self,
        stacks: Stacks,
        run: ToolRun,
        tool: str,
        version: str | None,
        exited: bool,
        warnings: list[str],
        errors: list[str],
    ) -> ProfileResult:
        if not total_samples(stacks):
            why = "was idle" if tool == "py-spy" else "used no CPU"
            warnings.append(f"no samples: the target {why} while it was sampled")
        result = ProfileResult(
            stacks=stacks,
            name=self.name,
            started_at=self.started_at,
            ended_at=utc_now(),
            duration_s=run.elapsed_s,
            rate_hz=self.rate_hz,
            native=self.native,
            target=self.target,
            sampler={"tool": tool, "version": version},
            target_exited=exited,
            errors=errors,
            warnings=warnings,
        )
        save_profile(result, self.directory)
        if run.interrupted:
            raise ProfileInterrupted(
                f"profiling interrupted after {run.elapsed_s:.1f} s; the {result.samples} "
                f"samples taken so far are saved in {self.directory}",
                result,
            )
        return result

    def _read_raw(self, raw: Path) -> Stacks:
        try:
            stacks = parse_folded(raw.read_text(errors="replace"))
        except UsageError as exc:
            kept = raw.rename(self.directory / "py-spy.raw")
            raise TargetError(
                f"py-spy wrote stacks perflab cannot read ({exc.message})",
                hint=f"its output is kept in {kept}",
            ) from None
        raw.unlink()
        # py-spy's frameless sample (" 1": the thread was outside Python) gets a name, so the
        # stored folded file is one every folded-stack tool reads (flamegraph.pl, speedscope)
        frameless = stacks.pop((), 0)
        if frameless:
            stacks[(NO_PYTHON_FRAME,)] = stacks.get((NO_PYTHON_FRAME,), 0) + frameless
        return stacks

    def _command_pid_finder(self, spy_pid: int) -> Callable[[float], None]:
        """A tick that records the PID (and Python version) of the command py-spy started."""

        def tick(_elapsed: float) -> None:
            if self.target.pid is not None:
                return
            kids = child_pids(spy_pid)
            if kids:
                found = describe_pid(kids[0])
                self.target.pid, self.target.python = found.pid, found.python
                self.target.exe = found.exe or self.target.exe

        return tick

    def _discard(self) -> None:
        """Leave no empty profile directory behind a failure (a directory the caller gave
        keeps the sampler's log, which says more than the one-line error)."""
        (self.directory / _RAW).unlink(missing_ok=True)
        if self.created:
            shutil.rmtree(self.directory, ignore_errors=True)


def _is_not_python(log: str) -> bool:
    return any(marker in log for marker in _NOT_PYTHON)


def _first_error(log: str) -> str:
    for line in log.splitlines():
        if line.startswith("Error:"):
            return line.removeprefix("Error:").strip()
    lines = [line for line in log.splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no output"


def _py_spy_error(log: str, pid: int | None, cmdline: list[str]) -> PerflabError:
    what = f"PID {pid}" if pid is not None else f"`{' '.join(cmdline)}`"
    if pid is not None and not pid_alive(pid):
        return TargetError(f"no process with PID {pid} (it exited before py-spy could attach)")
    if "Permission Denied" in log or "Operation not permitted" in log:
        return TargetError(f"not allowed to attach to {what}", hint=_PTRACE_HINT)
    if _is_not_python(log):
        kind = "a Python process" if pid is not None else "a Python program"
        return UsageError(f"{what} is not {kind}; profile native code with --native (uses perf)")
    return TargetError(f"py-spy failed on {what}: {_first_error(log)}")
