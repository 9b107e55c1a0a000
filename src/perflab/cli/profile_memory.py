"""``perflab profile memory -- python app.py``: where a Python program's memory grows.

perflab starts the program under tracemalloc, watches its RSS every second (the leak
verdict), takes a tracemalloc snapshot after the warm-up and another at the end, and lists
the allocation sites whose live memory grew most between the two. Load it meanwhile (say
``perflab run`` against it from another terminal) to see what traffic leaves behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from perflab.cli.live import human_console
from perflab.errors import RunInterrupted, UsageError
from perflab.model import parse_duration

EXAMPLES = """
Examples:

  perflab profile memory --duration 60s -- python app.py --port 8000

  perflab profile memory --warmup 10s --duration 2m --key traceback -- python -m myservice

  perflab profile memory --json --duration 30s -- python worker.py

The program runs with this interpreter (it must be able to import perflab); its output goes
to the profile directory's target.log. Exit codes: 0 done, 2 bad input, 3 the program exited
before the second snapshot, 130 interrupted (the snapshots so far are kept).
"""


def _python_argv(command: list[str]) -> list[str]:
    """What follows ``python``: ``-- python app.py`` and ``-- app.py`` mean the same."""
    if command and Path(command[0]).name.startswith("python"):
        command = command[1:]
    if not command:
        raise UsageError("give the Python program after --, e.g. -- python app.py")
    return command


def memory(
    ctx: typer.Context,
    duration: Annotated[
        str, typer.Option(help="How long the program runs, then it is stopped.")
    ] = "30s",
    warmup: Annotated[
        str, typer.Option(help="First snapshot after this (start-up is not growth).")
    ] = "5s",
    top: Annotated[int, typer.Option(help="Allocation sites listed.")] = 10,
    key: Annotated[
        str, typer.Option(help="Group by 'lineno' (site) or 'traceback' (call path).")
    ] = "lineno",
    out: Annotated[
        Path | None, typer.Option(help="Directory (default ./perflab-runs/memory-…).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print only the result JSON.")] = False,
) -> int:
    """Run a Python program under tracemalloc: the allocation sites that grew, and an RSS
    leak verdict over the run."""
    from perflab.profile.allocations import (
        format_growth_table,
        start_traced,
        take_snapshot,
        top_growth,
    )
    from perflab.profile.monitor import ProcessMonitor
    from perflab.profile.series import MEMORY_FILE
    from perflab.store.atomic import write_json_atomic
    from perflab.store.rundir import new_run_dir

    argv = _python_argv(list(ctx.meta.get("perflab.profile.command") or []))
    total_s = parse_duration(duration, what="--duration")
    warm_s = parse_duration(warmup, what="--warmup")
    if not 0 <= warm_s < total_s:
        raise UsageError("--warmup must be shorter than --duration")
    if key not in ("lineno", "traceback"):
        raise UsageError(f"bad --key {key!r}: use lineno or traceback")
    name = Path(argv[1] if argv[0] == "-m" else argv[0]).stem
    directory = out or new_run_dir(name, prefix="memory-", kind="memory profile")
    directory.mkdir(parents=True, exist_ok=True)
    console = human_console()
    if not as_json:
        console.print(f"running {' '.join(argv)} under tracemalloc for {total_s:g} s")
    with (directory / "target.log").open("wb") as log:
        proc = start_traced(argv, directory / "snapshots", stdout=log, stderr=subprocess.STDOUT)
    started = time.monotonic()
    doc: dict[str, Any] = {"schema": "perflab.memory-profile/1", "command": argv}
    monitor = None
    try:
        first = take_snapshot(proc, timeout=max(30.0, warm_s + 30.0))  # waits until ready
        monitor = ProcessMonitor(proc.pid, 1.0, path=directory / MEMORY_FILE).start()
        _sleep_until(started + warm_s, proc)
        first = take_snapshot(proc)
        _sleep_until(started + total_s, proc)
        second = take_snapshot(proc)
    except KeyboardInterrupt:
        raise RunInterrupted(f"interrupted; what was taken is in {directory}") from None
    finally:
        if monitor is not None:
            monitor.stop()
        _stop(proc)
    rows = top_growth(first, second, n=top, key=key)  # type: ignore[arg-type]
    series = monitor.series() if monitor is not None else None
    verdict = series.verdict() if series is not None and series.samples else None
    doc |= {
        "interval_s": round(total_s - warm_s, 3),
        "growth": [
            {"file": r.file, "line": r.line, "size_diff_bytes": r.size_diff_bytes,
             "count_diff": r.count_diff, "size_bytes": r.size_bytes,
             "traceback": list(r.traceback)}
            for r in rows
        ],
        "rss_verdict": None if verdict is None else verdict.to_json(),
        "path": str(directory),
    }  # fmt: skip
    write_json_atomic(directory / "allocations.json", doc)
    if as_json:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return 0
    title = f"grew from {warm_s:g} s to {total_s:g} s"
    print(format_growth_table(rows, title=title))
    if verdict is not None:
        console.print(f"RSS over the run: {verdict.text}", highlight=False)
    console.print(f"saved to {directory}", highlight=False, markup=False)
    return 0


def _sleep_until(deadline: float, proc: subprocess.Popen[bytes]) -> None:
    """Wait, but notice a program that exits early (the next snapshot would then fail)."""
    while (left := deadline - time.monotonic()) > 0 and proc.poll() is None:
        time.sleep(min(left, 0.2))


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
