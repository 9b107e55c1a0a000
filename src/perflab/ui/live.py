"""The live view of a run: per-second points and running totals, streamed once a second.

Two producers feed the same :class:`LiveFeed`:

- :class:`LiveHub`, a :class:`~perflab.load.sink.RunSink` next to the run directory when a run
  is started with ``--ui``: the coordinator hands it every second as it completes.
- :class:`RunFollower`, for ``perflab ui`` watching a run another process is making: it reads
  the run directory's append-only ``intervals.journal`` from where it stopped, and run.json
  (rewritten atomically every second), so it sees what the engine wrote, nothing else.

Counters and generator gauges are folded by the exporters' own
:class:`~perflab.export.metrics.RunMetrics` (so the dashboard and Prometheus cannot disagree);
each point's percentiles come from the exact merge of that second's histograms, and the run's
percentiles from the running run document.

Threads: a hub is fed on the coordinator's thread and read on the server's; one lock guards
the points, and :meth:`LiveFeed.event` returns a copy.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from perflab.export.metrics import FailOnce, RunMetrics
from perflab.report.summary import target
from perflab.stats import LatencyHistogram
from perflab.store.journal import decode_row, read_rows
from perflab.store.rundir import load_run

MAX_POINTS = 3600  # an hour of seconds per client; older points fall off the live chart
TICK_S = 1.0
FRESH_S = 5.0  # a journal untouched this long belongs to a run that is no longer going


def second_point(
    second: int, rows: Sequence[Mapping[str, Any]], generator: Mapping[str, Any]
) -> dict[str, Any]:
    """One second of HTTP requests (group rows such as transactions are left out)."""
    requests = errors = 0
    hist = LatencyHistogram()
    for row in rows:
        if row.get("kind", "request") != "request":
            continue
        requests += int(row.get("requests") or 0)
        errors += int(row.get("errors") or 0)
        blob = row.get("latency_hist")
        if blob:
            hist.merge(LatencyHistogram.from_bytes(blob))
    has = hist.count > 0
    return {
        "t": int(second),
        "rps": requests,
        "errors": errors,
        "p50": round(hist.percentile(50.0) / 1000.0, 3) if has else None,
        "p99": round(hist.percentile(99.0) / 1000.0, 3) if has else None,
        "max": round(hist.max / 1000.0, 3) if has else None,
        "inflight": int(generator.get("inflight") or 0),
        "cpu": round(float(generator.get("cpu_pct_max") or 0.0), 1),
    }


class LiveFeed:
    """The state of one run as the live page shows it; see the module docstring."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._metrics = RunMetrics()
        self._points: list[dict[str, Any]] = []
        self._dropped = 0  # points that fell off the front (indexes stay absolute)
        self._doc: dict[str, Any] = {}
        self._active = False
        self._seen = False

    def begin(self, doc: Mapping[str, Any]) -> None:
        self._metrics.begin(doc)
        with self._lock:
            self._doc, self._active, self._seen = dict(doc), True, True

    def add_second(
        self, second: int, rows: Sequence[Mapping[str, Any]], generator: Mapping[str, Any]
    ) -> None:
        point = second_point(second, rows, generator)
        self._metrics.add_interval(rows, generator)
        with self._lock:
            self._points.append(point)
            if len(self._points) > MAX_POINTS:
                del self._points[0]
                self._dropped += 1

    def update(self, doc: Mapping[str, Any], *, final: bool = False) -> None:
        with self._lock:
            self._doc = dict(doc)
            self._seen = True
            if final:
                self._active = False
        if final:
            self._metrics.finish()

    @property
    def active(self) -> bool:
        with self._lock:
            return self._active

    @property
    def seen(self) -> bool:
        """Whether the run has begun (a document was seen)."""
        with self._lock:
            return self._seen

    @property
    def seconds(self) -> int:
        """How many seconds were added."""
        with self._lock:
            return self._dropped + len(self._points)

    def event(self, since: int = 0) -> tuple[dict[str, Any], int]:
        """(the event for a client that has points up to ``since``, its new cursor)."""
        snap = self._metrics.snapshot()
        with self._lock:
            start = max(0, since - self._dropped)
            points = [dict(p) for p in self._points[start:]]
            cursor = self._dropped + len(self._points)
            doc, active, seen = self._doc, self._active, self._seen
        if not seen:
            return {"run": None, "active": False, "points": [], "cursor": cursor}, cursor
        totals = doc.get("totals") or {}
        latency = totals.get("latency_ms") or {}
        series = [(name, s) for (name, kind), s in sorted(snap.series.items()) if kind == "request"]
        names = [{"name": n, "requests": s.requests, "errors": s.errors} for n, s in series]
        requests = sum(s.requests for _, s in series)
        errors = sum(s.errors for _, s in series)
        g = snap.gauges
        event = {
            "run": {
                "id": str(doc.get("id", "")),
                "name": str(doc.get("name", "")),
                "status": str(doc.get("status", "running")),
                "started_at": doc.get("started_at"),
                "target": target(doc),
            },
            "active": active,
            "seconds": cursor,
            "totals": {
                "requests": requests,
                "errors": errors,
                "error_rate": errors / requests if requests else 0.0,
                "rps": totals.get("rps"),
                **{p: latency.get(p) for p in ("p50", "p90", "p99", "p99.9", "max")},
            },
            "generator": {
                "inflight": g.inflight,
                "connections": g.connections,
                "cpu_percent": round(g.cpu_percent, 1),
                "sched_lag_p99_ms": round(g.sched_lag_p99_s * 1000.0, 3),
                "vus": g.vus,
            },
            "by_name": names,
            "points": points,
            "cursor": cursor,
        }
        return event, cursor


class LiveSource(Protocol):
    """Anything the SSE stream can read a run from."""

    def event(self, since: int = 0) -> tuple[dict[str, Any], int]: ...

    @property
    def active(self) -> bool: ...


class LiveHub(LiveFeed):
    """The sink of a run started with ``--ui``: never raises into the engine."""

    def __init__(self) -> None:
        super().__init__()
        self._fail = FailOnce("ui")

    def begin(self, doc: Mapping[str, Any]) -> None:
        with self._fail.guard("begin"):
            super().begin(doc)

    def interval(self, second: int, rows: list[dict[str, Any]], generator: dict[str, Any]) -> None:
        with self._fail.guard(f"second {second}"):
            self.add_second(second, rows, generator)

    def update(self, doc: Mapping[str, Any], *, final: bool = False) -> None:
        with self._fail.guard("update"):
            super().update(doc, final=final)

    def end(self, doc: dict[str, Any]) -> None:
        self.update(doc, final=True)


class _Tail:
    """Complete lines appended to a journal since the last read (a torn last line waits)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def rows(self) -> list[dict[str, Any]]:
        try:
            with self.path.open("rb") as fh:
                fh.seek(self.offset)
                data = fh.read()
        except FileNotFoundError:
            return []
        complete = data[: data.rfind(b"\n") + 1]
        self.offset += len(complete)
        out = []
        for line in complete.splitlines():
            try:
                out.append(decode_row(json.loads(line)))
            except ValueError:
                continue
        return out


class RunFollower:
    """A run directory read as it grows (see the module docstring); polled at most once per
    ``min_interval_s`` however many pages watch it."""

    def __init__(self, path: Path, *, min_interval_s: float = 0.5) -> None:
        self.path = path
        self.feed = LiveFeed()
        self._intervals = _Tail(path / "intervals.journal")
        self._generator = _Tail(path / "generator.journal")
        self._pending: dict[int, list[dict[str, Any]]] = {}
        self._gen: dict[int, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._polled = -math.inf
        self._min_interval_s = min_interval_s
        self._done = False

    @property
    def active(self) -> bool:
        return self.feed.active

    def event(self, since: int = 0) -> tuple[dict[str, Any], int]:
        self.poll()
        return self.feed.event(since)

    def poll(self) -> None:
        with self._lock:
            now = time.monotonic()
            if self._done or now - self._polled < self._min_interval_s:
                return
            self._polled = now
            try:
                doc = load_run(self.path)
            except Exception:  # not written yet: the next poll will see it
                return
            if not self.feed.seen:
                self.feed.begin(doc)
            if (self.path / "intervals.journal").exists():
                self._follow()
            else:  # compacted (the run ended) or never started: take what there is, once
                self._finish()
                self._done = True
            running = doc.get("status") == "running" and not self._done
            self.feed.update(doc, final=not running)

    def _follow(self) -> None:
        for row in self._generator.rows():
            self._gen[int(row.get("second", 0))] = row
        for row in self._intervals.rows():
            self._pending.setdefault(int(row.get("second", 0)), []).append(row)
        # a second is whole once a later one has begun (the writer appends a second at once)
        for second in sorted(self._pending)[:-1]:
            self.feed.add_second(second, self._pending.pop(second), self._gen.pop(second, {}))

    def _finish(self) -> None:
        done = self.feed.seconds
        rows = read_rows(self.path / "intervals.parquet", self.path / "intervals.journal")
        generator = {
            int(g.get("second", 0)): g
            for g in read_rows(self.path / "generator.parquet", self.path / "generator.journal")
        }
        by_second: dict[int, list[dict[str, Any]]] = {}
        for row in rows:
            by_second.setdefault(int(row.get("second", 0)), []).append(row)
        for second in sorted(by_second)[done:]:
            self.feed.add_second(second, by_second[second], generator.get(second, {}))
        self._pending.clear()


def newest_running(root: Path, *, now: Callable[[], float] = time.time) -> Path | None:
    """The run directory under ``root`` whose journal was written last, if within FRESH_S."""
    journals = []
    for journal in root.glob("*/intervals.journal"):
        try:
            journals.append((journal.stat().st_mtime, journal.parent))
        except OSError:
            continue
    if not journals:
        return None
    mtime, path = max(journals)
    return path if now() - mtime <= FRESH_S else None


async def sse_events(
    source: Callable[[], LiveSource | None],
    *,
    disconnected: Callable[[], Awaitable[bool]],
    tick_s: float = TICK_S,
) -> AsyncIterator[str]:
    """``text/event-stream`` chunks: one JSON ``data:`` event per tick.

    ``source`` is asked each tick (the live run may change); the first event of a run carries
    all its points, later ones only the new. When the run ends, one last event is sent with
    ``active: false`` and an ``end`` event, and the stream closes.
    """
    yield f"retry: {int(tick_s * 2000)}\n\n"
    cursor, run_id = 0, None
    while True:
        current = source()
        if current is None:
            payload: dict[str, Any] = {"run": None, "active": False, "points": [], "cursor": 0}
        else:
            payload, new_cursor = await asyncio.to_thread(current.event, cursor)
            identity = (payload.get("run") or {}).get("id")
            if identity != run_id:  # another run: start its points from the beginning
                run_id = identity
                if cursor:
                    payload, new_cursor = await asyncio.to_thread(current.event, 0)
            cursor = new_cursor
        yield "data: " + json.dumps(finite(payload), separators=(",", ":")) + "\n\n"
        if current is not None and payload["run"] is not None and not payload["active"]:
            yield "event: end\ndata: {}\n\n"
            return
        if await disconnected():
            return
        await asyncio.sleep(tick_s)


def finite(value: Any) -> Any:
    """NaN and infinities become null: the browser's JSON.parse rejects them."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return value
