"""A traffic replay as data: which requests, and when, relative to the first one.

Parsing (access logs, HAR) lives in :mod:`perflab.load.replay`; the engine only needs this
plain, picklable form, which every worker receives and takes its interleaved share of.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ReplayEntry:
    """One request to re-send ``offset_s`` seconds after the replay starts.

    ``path`` keeps the original path and query; ``name`` is the metric group (ids in the path
    collapsed, e.g. ``GET /items/{id}``) so a long log does not explode into one row per URL.
    """

    offset_s: float
    method: str
    path: str
    name: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class ReplayPlan:
    """Entries sorted by ``offset_s`` (already scaled or re-timed), plus what was skipped."""

    source: str
    entries: tuple[ReplayEntry, ...]
    skipped: tuple[tuple[int, str], ...] = ()  # (line number, reason)
    lines: int = 0
    worker_share: bool = False  # entries are already one worker's share

    @property
    def duration_s(self) -> float:
        return self.entries[-1].offset_s if self.entries else 0.0

    def share(self, worker: int, workers: int) -> tuple[ReplayEntry, ...]:
        """This worker's entries: every ``workers``-th, so each keeps the original pacing."""
        return self.entries if self.worker_share else self.entries[worker::workers]

    def for_worker(self, worker: int, workers: int) -> ReplayPlan:
        """Only what one worker needs: each spawned worker unpickles its share, not the
        whole log (a million entries cost seconds to pickle per worker)."""
        return ReplayPlan(self.source, self.share(worker, workers), (), self.lines, True)
