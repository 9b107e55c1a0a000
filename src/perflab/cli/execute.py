"""Running a spec the way every load command does: live view, run directory, summary,
exit code. ``perflab run`` and ``perflab replay`` differ only in how they build the spec."""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from rich.console import Console

from perflab import load
from perflab.cli.live import LiveView
from perflab.errors import RunInterrupted
from perflab.load.sink import RunSink, TeeSink
from perflab.model import LoadModel, RunSpec
from perflab.report.terminal import render_summary
from perflab.store import RunWriter, new_run_dir


def _sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # a CI runner's stop is an interrupt: keep what was measured


def execute(
    spec: RunSpec,
    console: Console,
    *,
    out: Path | None,
    as_json: bool,
    quiet: bool,
    extra_sinks: Sequence[RunSink] = (),
) -> int:
    """Run ``spec`` (the target already checked reachable) and return the exit code.

    ``extra_sinks`` (exporters, a live dashboard) see every second after the run directory.
    """
    run_dir = out or new_run_dir(spec.name)
    writer = RunWriter(run_dir)
    sink: RunSink = TeeSink(writer, *extra_sinks) if extra_sinks else writer
    previous = signal.signal(signal.SIGTERM, _sigterm)
    try:
        live = LiveView(
            console, open_model=spec.load.model is LoadModel.OPEN, enabled=not (quiet or as_json)
        )
        with live:
            doc = load.run(spec, sink=sink, on_progress=live, preflight=False)
    finally:
        signal.signal(signal.SIGTERM, previous)
    doc["path"] = str(run_dir)
    if as_json:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    elif not quiet:
        render_summary(doc, console, path=str(run_dir))
    status = doc["status"]
    if status == "interrupted":
        raise RunInterrupted(f"interrupted; results so far saved to {run_dir}")
    return 0 if status == "passed" else 1
