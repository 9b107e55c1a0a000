"""Watching the target process while a load test runs: memory for the whole run, a CPU
profile for its steady part, both stored with the run.

Why the steady part only: the first seconds of a run are ramp-up and cold caches, and the
last are the drain; a profile that mixes them answers no question well. The profile starts
after the warm-up (20 % of the planned duration, 2 to 30 s) and is planned to end 1 s
before the load does. When the run ends earlier (Ctrl-C, a threshold abort, a run bounded by
iterations) the sampler is stopped and the profile kept.

Files in the run directory: ``memory.jsonl`` (appended each second, so a crashed run keeps
it), ``profile/`` (a profile directory: stacks, flame graph, speedscope) and ``process.json``
(the leak verdict and the profile's summary, written at the end).
"""

from __future__ import annotations

import shutil
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perflab.errors import PerflabError
from perflab.profile.artifact import ProfileResult
from perflab.profile.monitor import ProcessMonitor
from perflab.profile.series import MEMORY_FILE
from perflab.store.process import write_process

PROFILE_DIR = "profile"

__all__ = ["PROFILE_DIR", "TargetWatch", "WatchPlan", "steady_window"]


def steady_window(planned_s: float | None) -> tuple[float, float | None]:
    """(seconds to wait, seconds to profile) for a run planned to last ``planned_s``.

    Without a planned length (a run bounded by iterations) the profile starts after 2 s and
    lasts until the run ends.
    """
    if planned_s is None or planned_s <= 0:
        return 2.0, None
    warmup = min(max(2.0, 0.2 * planned_s), 30.0)
    length = planned_s - warmup - 1.0
    if length < 1.0:  # a very short run: profile what there is
        return 0.0, max(1.0, planned_s)
    return warmup, length


@dataclass(frozen=True)
class WatchPlan:
    pid: int
    profile: bool = True
    rate_hz: int = 100
    native: bool = False
    planned_s: float | None = None
    interval_s: float = 1.0


@dataclass
class _Outcome:
    profile: ProfileResult | None = None
    profile_error: str | None = None
    notes: list[str] = field(default_factory=list)


class TargetWatch:
    """``with TargetWatch(plan, run_dir): load.run(...)``; the summary is written on exit.

    Watching never fails the run: a sampler that cannot attach, or a target that exits,
    becomes a note in ``process.json`` and a warning on stderr.
    """

    def __init__(self, plan: WatchPlan, run_dir: Path) -> None:
        self.plan = plan
        self.run_dir = run_dir
        self.monitor = ProcessMonitor(plan.pid, plan.interval_s, path=run_dir / MEMORY_FILE)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._outcome = _Outcome()
        self.summary: dict[str, Any] | None = None

    def __enter__(self) -> TargetWatch:
        created = not self.run_dir.exists()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.monitor.start()  # an unknown PID fails here, before any load is sent
        except BaseException:
            if created:  # leave no empty run directory behind a run that never started
                shutil.rmtree(self.run_dir, ignore_errors=True)
            raise
        if self.plan.profile:
            self._thread = threading.Thread(
                target=self._profile, name="perflab-profile", daemon=True
            )
            self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=120)
        self.monitor.stop()
        self.summary = self._summarize()
        write_process(self.run_dir, self.summary)

    def _profile(self) -> None:
        from perflab.profile.sampler import profile_pid

        wait_s, length_s = steady_window(self.plan.planned_s)
        if self._stop.wait(wait_s):
            self._outcome.notes.append("the run ended before its steady part: no profile")
            return
        try:
            self._outcome.profile = profile_pid(
                self.plan.pid,
                length_s,
                rate_hz=self.plan.rate_hz,
                native=self.plan.native,
                out_dir=self.run_dir / PROFILE_DIR,
                name=self.run_dir.name,
                stop=self._stop,
            )
        except PerflabError as exc:
            self._outcome.profile_error = exc.one_line()
            print(f"perflab: warning: no profile of PID {self.plan.pid}: {exc.one_line()}",
                  file=sys.stderr)  # fmt: skip
        except Exception as exc:  # the run matters more than its profile
            self._outcome.profile_error = f"{type(exc).__name__}: {exc}"
            print(f"perflab: warning: profiling failed: {exc}", file=sys.stderr)

    def _summarize(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"pid": self.plan.pid, "notes": list(self._outcome.notes)}
        series = self.monitor.series()  # the rows it journaled, still in memory
        verdict = series.verdict() if series.samples else None
        doc["memory"] = {
            "interval_s": self.plan.interval_s,
            "exited": series.exited or self.monitor.exited,
            "summary": series.summary(),
            "verdict": None if verdict is None else verdict.to_json(),
        }
        if self.monitor.exited:
            doc["notes"].append(f"PID {self.plan.pid} exited during the run")
        result = self._outcome.profile
        if result is not None:
            from perflab.profile.views import write_views

            try:
                write_views(result)
            except PerflabError as exc:
                doc["notes"].append(f"flame graph not written: {exc.one_line()}")
            summary = result.to_json_summary(15)
            for key in ("flamegraph", "folded"):  # relative: the run directory moves whole
                if summary.get(key):
                    summary[key] = str(Path(summary[key]).relative_to(self.run_dir))
            summary["warnings"] = list(result.warnings)
            summary["id"] = result.id
            doc["profile"] = summary
        elif self._outcome.profile_error is not None:
            doc["profile_error"] = self._outcome.profile_error
        return doc
