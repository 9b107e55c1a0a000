"""Native profiles with Linux perf, for processes py-spy cannot read (not Python).

``perf record -F RATE -g -e cpu-clock`` samples the target's call stacks, user and kernel,
and ``perf script`` prints them; :func:`fold_perf_script` folds that text into the same
:data:`~perflab.profile.folded.Stacks` a py-spy profile has, so every view works on both.
``cpu-clock`` is a software event: it works in VMs and containers without hardware
counters, and it samples only threads that are on a CPU, so an idle process has no samples.

The folding follows Brendan Gregg's stackcollapse-perf.pl: one sample counts 1, frames are
``symbol (library)`` with the ``+0x1a`` offset dropped, kernel frames keep their
``[kernel.kallsyms]`` library, and a frame perf could not name stays ``[unknown]`` (with its
library when perf knows it). Stacks without frame pointers are often cut short; that is
perf's view of the process, not something folding can repair.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from perflab.errors import PerflabError, RunInterrupted, TargetError, UsageError
from perflab.profile.artifact import LOG_FILE
from perflab.profile.folded import Stacks
from perflab.profile.tooling import (
    ProgressCallback,
    ToolRun,
    child_pids,
    pid_alive,
    require_process,
    spawn_logged,
    supervise,
    tool_version,
)

__all__ = ["NativeRecording", "find_perf", "fold_perf_script", "record_native"]

_DATA = ".perf.data"
_HEADER = re.compile(r"^(?P<comm>\S.*?)\s+(?P<pid>\d+)(?:/\d+)?\s")
_OFFSET = re.compile(r"\+0x[0-9a-fA-F]+$")
_PERF_HINT = "install it: apt-get install linux-perf (Debian) or linux-tools-generic (Ubuntu)"
_PARANOID_HINT = (
    "run as root, or allow it: sudo sysctl kernel.perf_event_paranoid=1 "
    "(-1 to include kernel frames)"
)


@dataclass
class NativeRecording:
    """What perf saw; ``pid`` is the profiled command's once perf has started it."""

    stacks: Stacks
    run: ToolRun
    version: str | None
    target_exited: bool
    pid: int | None = None
    warnings: list[str] = field(default_factory=list)


def find_perf() -> str:
    found = shutil.which("perf")
    if found is None:
        raise UsageError("perf is not installed; native profiling needs it", hint=_PERF_HINT)
    return found


def _split_dso(rest: str) -> tuple[str, str]:
    """``sym+0x1 (/lib/x.so (deleted))`` -> (``sym+0x1``, ``/lib/x.so (deleted)``): the
    library is the last parenthesized group, which may itself hold parentheses."""
    if not rest.endswith(")"):
        return rest, ""
    depth = 0
    for i in range(len(rest) - 1, -1, -1):
        if rest[i] == ")":
            depth += 1
        elif rest[i] == "(":
            depth -= 1
            if depth == 0:
                return rest[:i].rstrip(), rest[i + 1 : -1]
    return rest, ""


def _frame(line: str) -> str:
    """One ``perf script`` stack line (``  ffff81d3 read_zero+0x77 ([kernel.kallsyms])``)
    as a folded frame (``read_zero ([kernel.kallsyms])``)."""
    _address, _, rest = line.strip().partition(" ")
    symbol, dso = _split_dso(rest.strip())
    symbol = _OFFSET.sub("", symbol).replace(";", ":") or "[unknown]"
    library = dso if dso.startswith("[") else os.path.basename(dso.split(" (")[0])
    library = library.replace(";", ":")
    if not library or library == "[unknown]":
        return symbol
    return f"{symbol} ({library})"


def fold_perf_script(text: str, *, include_comm: bool = False) -> Stacks:
    """Stacks from ``perf script`` output (its default fields, with ``-g`` call chains).

    Args:
        text: what ``perf script`` printed.
        include_comm: put the thread's command name at the root of each stack, to tell
            processes apart when perf followed several.
    """
    stacks: Stacks = {}
    comm: str | None = None
    frames: list[str] = []  # leaf first, as perf prints them
    in_sample = False

    def flush() -> None:
        if not in_sample:
            return
        stack = frames[::-1] or [comm or "[unknown]"]
        if include_comm and comm and frames:
            stack.insert(0, comm)
        key = tuple(stack)
        stacks[key] = stacks.get(key, 0) + 1

    for line in text.splitlines():
        if not line.strip():
            flush()
            in_sample, frames = False, []
        elif line.startswith("#"):
            continue
        elif line[0] in " \t":
            if in_sample:
                frames.append(_frame(line))
        else:
            flush()
            header = _HEADER.match(line)
            comm = header["comm"] if header else None
            in_sample, frames = True, []
    flush()
    return stacks


def record_native(
    *,
    pid: int | None = None,
    command: list[str] | None = None,
    duration_s: float | None,
    rate_hz: int,
    directory: Path,
    on_progress: ProgressCallback | None = None,
) -> NativeRecording:
    """Sample ``pid`` or run ``command`` under perf for ``duration_s`` (None: until it exits
    or Ctrl-C); perf's data file is folded, then removed."""
    perf = find_perf()
    version = tool_version([perf, "--version"])
    if version is None:
        raise UsageError(f"{perf} does not run (perf --version failed)", hint=_PERF_HINT)
    if pid is not None:
        require_process(pid)
    data, log = directory / _DATA, directory / LOG_FILE
    data.unlink(missing_ok=True)
    argv = [perf, "record", "-F", str(rate_hz), "-g", "-e", "cpu-clock", "-o", str(data)]
    argv += ["-p", str(pid)] if pid is not None else ["--", *(command or [])]
    found: list[int] = []

    def find_command(_elapsed: float) -> None:
        if command is not None and not found:
            found.extend(child_pids(proc.pid)[:1])

    proc = spawn_logged(argv, log)
    run = supervise(
        proc,
        tool="perf",
        duration_s=duration_s,
        stop_after_s=duration_s,
        log_path=log,
        on_progress=on_progress,
        on_tick=find_command,
    )
    if not data.exists() or "Captured and wrote" not in run.log:
        data.unlink(missing_ok=True)
        if run.interrupted:
            raise RunInterrupted("profiling interrupted before perf took a sample")
        raise _perf_error(run.log, pid, command or [])
    try:
        stacks = fold_perf_script(_perf_script(perf, data))
    finally:
        data.unlink(missing_ok=True)
    warnings = []
    if pid is not None:
        exited = not run.stopped and not run.interrupted and not pid_alive(pid)
        if exited:
            asked = f"of the {duration_s:g} s asked for" if duration_s else "into the profile"
            warnings.append(
                f"PID {pid} exited after {run.elapsed_s:.1f} s {asked}; "
                "the profile covers that part"
            )
    else:
        exited = not run.stopped and not run.interrupted
    return NativeRecording(
        stacks=stacks,
        run=run,
        version=version,
        target_exited=exited,
        pid=pid if pid is not None else (found[0] if found else None),
        warnings=warnings,
    )


def _perf_script(perf: str, data: Path) -> str:
    try:
        out = subprocess.run(
            [perf, "script", "-i", str(data), "--no-inline"],
            capture_output=True,
            text=True,
            errors="replace",
            check=False,
        )
    except OSError as exc:
        raise TargetError(f"cannot run perf script: {exc}") from exc
    if out.returncode != 0:
        raise TargetError(f"perf script failed: {_first_line(out.stderr)}")
    return out.stdout


def _first_line(log: str) -> str:
    for line in log.splitlines():
        text = line.strip().removeprefix("Error:").strip()
        if text:
            return text
    return "no output"


def _perf_error(log: str, pid: int | None, command: list[str]) -> PerflabError:
    what = f"PID {pid}" if pid is not None else f"`{' '.join(command)}`"
    if pid is not None and not pid_alive(pid):
        return TargetError(f"no process with PID {pid} (it exited before perf could attach)")
    if "Access to performance monitoring" in log or "perf_event_paranoid" in log:
        return TargetError(f"not allowed to profile {what} with perf", hint=_PARANOID_HINT)
    if "No such process" in log:
        return TargetError(f"no process with PID {pid}")
    return TargetError(f"perf failed on {what}: {_first_line(log)}")
