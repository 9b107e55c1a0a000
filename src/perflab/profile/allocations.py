"""Where a Python target's memory grows: tracemalloc snapshots at two times, compared.

RSS says *that* a process grows; for a Python program perflab starts, tracemalloc says
*where*. The target runs under :mod:`perflab.profile.tracemalloc_boot`, which dumps a
snapshot on SIGUSR2, so snapshots are taken while the load test runs, without stopping the
target and without code in it::

    proc = start_traced(["server.py", "--port", "8000"], snapdir)
    first = take_snapshot(proc)
    ...  # drive load
    second = take_snapshot(proc)
    print(format_growth_table(top_growth(first, second)))

tracemalloc costs the target CPU and memory (about 2x with 25 frames), so use it to find a
leak the RSS verdict reported, not while measuring latency. Allocations made by tracemalloc
itself and by the boot module are left out of the comparison.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from perflab.errors import TargetError, UsageError
from perflab.profile.tracemalloc_boot import BOOT_FILE, DEFAULT_FRAMES, SNAPSHOT_PATTERN

Key = Literal["lineno", "traceback"]
TRACEBACK_FRAMES = 5

_IGNORED_FILES = (  # fnmatch patterns: the target may run another Python than perflab
    os.path.join("*", "tracemalloc.py"),
    os.path.join("*", "perflab", "profile", "tracemalloc_boot.py"),
    "<frozen importlib._bootstrap>",
    "<frozen importlib._bootstrap_external>",
)
_HIDDEN_IN_TRACEBACKS = (
    f"{os.sep}tracemalloc.py",
    os.path.join("perflab", "profile", "tracemalloc_boot.py"),
    f"{os.sep}runpy.py",
    "<frozen runpy>",
    "<frozen importlib._bootstrap>",
    "<frozen importlib._bootstrap_external>",
)


class TracedProcess(subprocess.Popen[bytes]):
    """A Popen that remembers where its snapshots go."""

    snapdir: Path


@dataclass(frozen=True, slots=True)
class GrowthRow:
    """One allocation site whose live memory grew between two snapshots.

    ``file``/``line`` is the allocating line (the innermost frame); ``traceback`` the
    innermost frames of the biggest growing call path to it, outermost first, as
    ``file:line`` (runpy and boot frames left out).
    """

    file: str
    line: int
    size_diff_bytes: int
    count_diff: int
    size_bytes: int
    count: int
    traceback: tuple[str, ...]


def start_traced(
    argv: Sequence[str],
    snapdir: Path,
    *,
    frames: int = DEFAULT_FRAMES,
    python: str | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stdout: int | IO[Any] | None = None,
    stderr: int | IO[Any] | None = None,
) -> TracedProcess:
    """Start ``python -X tracemalloc=FRAMES -m perflab.profile.tracemalloc_boot SNAPDIR ARGV``.

    ``argv`` is what would follow ``python``: ``["app.py", ...]`` or ``["-m", "pkg", ...]``.
    ``python`` defaults to this interpreter, which must be able to import perflab.
    """
    if not argv or (argv[0] == "-m" and len(argv) < 2):
        raise UsageError("no Python program to run: give a script or -m MODULE")
    if not 1 <= frames <= 1000:
        raise UsageError(f"bad number of traceback frames {frames}: must be 1 to 1000")
    if argv[0] != "-m" and not (cwd or Path()).joinpath(argv[0]).is_file():
        raise UsageError(f"no such Python script: {argv[0]}")
    snapdir.mkdir(parents=True, exist_ok=True)
    (snapdir / BOOT_FILE).unlink(missing_ok=True)  # a stale one would say "ready" too early
    command = [python or sys.executable, "-X", f"tracemalloc={frames}"]
    command += ["-m", "perflab.profile.tracemalloc_boot", str(snapdir), *argv]
    try:
        proc = TracedProcess(
            command,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            stdout=stdout,
            stderr=stderr,
        )
    except OSError as exc:
        raise UsageError(f"cannot start {command[0]}: {exc.strerror or exc}") from exc
    proc.snapdir = snapdir
    return proc


def take_snapshot(proc: TracedProcess, timeout: float = 30.0) -> Path:
    """Ask the traced process for a snapshot and return its file once it is complete.

    Raises TargetError when the process has exited (before being ready or while dumping)
    or does not answer within ``timeout`` seconds. One call at a time per process.
    """
    deadline = time.monotonic() + timeout
    snapdir = proc.snapdir
    while not (snapdir / BOOT_FILE).exists():
        _check_alive(proc, "before tracemalloc was ready")
        _wait(deadline, proc, "to start under tracemalloc", timeout)
    boot = json.loads((snapdir / BOOT_FILE).read_text())
    if boot.get("pid") != proc.pid:
        raise TargetError(f"{snapdir} belongs to process {boot.get('pid')}, not {proc.pid}")
    taken = [int(p.stem.rpartition("-")[2]) for p in snapdir.glob(SNAPSHOT_PATTERN.format("*"))]
    path = snapdir / SNAPSHOT_PATTERN.format(max(taken, default=0) + 1)
    _check_alive(proc, "before a snapshot could be taken")
    os.kill(proc.pid, signal.SIGUSR2)
    while not path.exists():
        _check_alive(proc, "before its snapshot was written")
        _wait(deadline, proc, "to write a tracemalloc snapshot", timeout)
    return path


def _check_alive(proc: TracedProcess, when: str) -> None:
    code = proc.poll()
    if code is not None:
        raise TargetError(
            f"the traced program (PID {proc.pid}) exited with code {code} {when}",
            hint="keep it running while snapshots are taken",
        )


def _wait(deadline: float, proc: TracedProcess, what: str, timeout: float) -> None:
    if time.monotonic() >= deadline:
        raise TargetError(
            f"the traced program (PID {proc.pid}) took more than {timeout:g} s {what}",
            hint="signal handlers run between bytecodes: is it stuck in C code?",
        )
    time.sleep(0.02)


def load_snapshot(path: Path) -> tracemalloc.Snapshot:
    try:
        return tracemalloc.Snapshot.load(str(path))
    except FileNotFoundError as exc:
        raise UsageError(f"no snapshot at {path}") from exc
    except Exception as exc:  # unpickling raises anything
        raise UsageError(f"{path} is not a tracemalloc snapshot ({exc})") from exc


def top_growth(
    snap_a: Path | tracemalloc.Snapshot,
    snap_b: Path | tracemalloc.Snapshot,
    n: int = 10,
    key: Key = "lineno",
) -> list[GrowthRow]:
    """The ``n`` sites (``key="lineno"``) or call paths (``"traceback"``) that grew most."""
    if key not in ("lineno", "traceback"):
        raise UsageError(f"bad key {key!r}: use 'lineno' or 'traceback'")
    first, second = (_own_traces(s) for s in (snap_a, snap_b))
    grown = [d for d in second.compare_to(first, key) if d.size_diff > 0]
    grown.sort(key=lambda d: d.size_diff, reverse=True)
    paths: dict[tracemalloc.Frame, tracemalloc.Traceback] = {}
    if key == "lineno" and grown:
        for d in second.compare_to(first, "traceback"):  # sorted by |size_diff|, biggest first
            if d.size_diff > 0:
                paths.setdefault(d.traceback[-1], d.traceback)
    rows = []
    for d in grown[:n]:
        site = d.traceback[-1]
        path = paths.get(site, d.traceback)
        rows.append(
            GrowthRow(
                file=site.filename,
                line=site.lineno,
                size_diff_bytes=d.size_diff,
                count_diff=d.count_diff,
                size_bytes=d.size,
                count=d.count,
                traceback=_short(path),
            )
        )
    return rows


def _own_traces(snapshot: Path | tracemalloc.Snapshot) -> tracemalloc.Snapshot:
    snap = load_snapshot(snapshot) if isinstance(snapshot, Path) else snapshot
    return snap.filter_traces([tracemalloc.Filter(False, f) for f in _IGNORED_FILES])


def _short(traceback: tracemalloc.Traceback) -> tuple[str, ...]:
    frames = [f for f in traceback if not f.filename.endswith(_HIDDEN_IN_TRACEBACKS)]
    return tuple(f"{f.filename}:{f.lineno}" for f in frames[-TRACEBACK_FRAMES:])


def format_size(size: int, *, signed: bool = False) -> str:
    """Bytes in the largest binary unit that keeps the number at or above 1."""
    value, sign = float(abs(size)), ("-" if size < 0 else "+" if signed else "")
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{sign}{value:.0f} {unit}" if unit == "B" else f"{sign}{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def format_growth_table(
    rows: Sequence[GrowthRow], *, width: int = 120, title: str | None = None
) -> str:
    """A plain-text table (no colour codes) for a terminal or a log file."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, title_justify="left", box=None, pad_edge=False)
    for name in ("growth", "blocks", "now", "site"):
        table.add_column(name, justify="left" if name == "site" else "right", overflow="fold")
    for r in rows:
        site = f"{r.file}:{r.line}"
        if len(r.traceback) > 1:
            site += "\n  via " + " < ".join(reversed(r.traceback[:-1]))
        table.add_row(
            format_size(r.size_diff_bytes, signed=True),
            f"{r.count_diff:+,}",
            format_size(r.size_bytes),
            Text(site),
        )
    out = io.StringIO()
    Console(file=out, width=width, color_system=None, force_terminal=False).print(table)
    return out.getvalue()
