"""Running a spec the way every load command does: live view, run directory, summary,
exit code. ``perflab run`` and ``perflab replay`` differ only in how they build the spec."""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from rich.console import Console

from perflab import load
from perflab.cli.live import LiveView
from perflab.errors import PerflabError, RunInterrupted
from perflab.load.sink import RunSink, TeeSink
from perflab.model import LoadModel, RunSpec
from perflab.report.terminal import render_summary
from perflab.store import RunWriter, new_run_dir

if TYPE_CHECKING:
    from perflab.profile.watch import TargetWatch, WatchPlan


def _sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # a CI runner's stop is an interrupt: keep what was measured


def index_run(doc: dict[str, Any] | None, run_dir: Path) -> None:
    """Index the run in the catalog; a catalog problem costs one warning, never the run."""
    if doc is None:
        return
    from perflab.store.catalog import Catalog  # here: SQLAlchemy is not for every command

    try:
        with Catalog.open() as catalog:
            catalog.index_run(doc, run_dir)
    except PerflabError as exc:
        print(
            f"perflab: warning: run not indexed in the catalog: {exc.one_line()}", file=sys.stderr
        )
    except Exception as exc:  # the run directory is saved; the catalog can catch up later
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        print(f"perflab: warning: run not indexed in the catalog: {reason}", file=sys.stderr)


@contextmanager
def watching(plan: WatchPlan | None, spec: RunSpec, run_dir: Path) -> Iterator[TargetWatch | None]:
    if plan is None:
        yield None
        return
    from perflab.profile.watch import TargetWatch

    planned = spec.duration_s if spec.duration_s > 0 else None
    with TargetWatch(replace(plan, planned_s=planned), run_dir) as watcher:
        yield watcher


def print_process(summary: dict[str, Any], run_dir: Path, console: Console) -> None:
    """Two lines after the run summary: the leak verdict and where the flame graph is."""
    verdict = (summary.get("memory") or {}).get("verdict") or {}
    if verdict.get("text"):
        style = "red" if verdict.get("growing") else "green"
        console.print(f"target memory: [{style}]{verdict['text']}[/]", highlight=False)
    profile = summary.get("profile") or {}
    top = (profile.get("top") or [{}])[0]
    if profile.get("flamegraph"):
        hot = f"; hottest: {top['function']} {top['self_pct']:.1f} % self" if top else ""
        console.print(
            f"profile: {profile['samples']:,} samples{hot}; flame graph "
            f"{run_dir / profile['flamegraph']}",
            highlight=False,
            markup=False,
        )
    for note in [*summary.get("notes", []), summary.get("profile_error")]:
        if note:
            console.print(f"note: {note}", highlight=False, markup=False)


def execute(
    spec: RunSpec,
    console: Console,
    *,
    out: Path | None,
    as_json: bool,
    quiet: bool,
    extra_sinks: Sequence[RunSink] = (),
    watch: WatchPlan | None = None,
) -> int:
    """Run ``spec`` (the target already checked reachable) and return the exit code.

    ``extra_sinks`` (exporters, a live dashboard) see every second after the run directory.
    ``watch``: the target process whose memory (and CPU profile) is recorded with the run.
    """
    run_dir = out or new_run_dir(spec.name)
    writer = RunWriter(run_dir)
    sink: RunSink = TeeSink(writer, *extra_sinks) if extra_sinks else writer
    previous = signal.signal(signal.SIGTERM, _sigterm)
    try:
        live = LiveView(
            console, open_model=spec.load.model is LoadModel.OPEN, enabled=not (quiet or as_json)
        )
        with live, watching(watch, spec, run_dir) as watcher:
            doc = load.run(spec, sink=sink, on_progress=live, preflight=False)
    finally:
        signal.signal(signal.SIGTERM, previous)
        index_run(writer.last_doc, run_dir)  # also a failed or interrupted run's last state
    doc["path"] = str(run_dir)
    if watcher is not None and watcher.summary is not None:
        doc["process"] = watcher.summary
    if as_json:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    elif not quiet:
        render_summary(doc, console, path=str(run_dir))
        if watcher is not None and watcher.summary is not None:
            print_process(watcher.summary, run_dir, console)
    status = doc["status"]
    if status == "interrupted":
        raise RunInterrupted(f"interrupted; results so far saved to {run_dir}")
    return 0 if status == "passed" else 1
