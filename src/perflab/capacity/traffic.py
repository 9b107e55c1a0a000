"""Traffic history from a CSV file: ``timestamp, requests/s`` rows, hourly or daily.

Finer data is averaged per hour, data between an hour and a day per day. Every problem is a
:class:`~perflab.errors.UsageError` naming the file, line and column and saying what data
would help, so ``perflab capacity plan`` prints one line.
"""

from __future__ import annotations

import csv
import itertools
import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from perflab.capacity.forecast import DAY, HOUR, WEEK, History, utc
from perflab.errors import UsageError

_TIME_HEADERS = ("timestamp", "time", "date", "datetime", "ts", "hour", "day")
_RPS_HEADERS = ("rps", "requests_per_s", "requests/s", "req/s", "throughput", "value")
_WANT = "a CSV with a header row and columns timestamp,rps (hourly or daily, two weeks or more)"


def parse_time(text: str) -> datetime:
    """An ISO 8601 date or date-time (naive = UTC) or Unix seconds."""
    raw = text.strip()
    try:
        value = float(raw)
    except ValueError:
        return utc(datetime.fromisoformat(raw.replace("Z", "+00:00")))
    if not math.isfinite(value):
        raise ValueError(raw)
    return datetime.fromtimestamp(value, tz=UTC)


def _columns(path: Path, names: list[str]) -> tuple[int, int]:
    lower = [n.lower() for n in names]
    at_time = next((lower.index(h) for h in _TIME_HEADERS if h in lower), None)
    at_rps = next((lower.index(h) for h in _RPS_HEADERS if h in lower), None)
    if len(names) == 2:
        at_time = 0 if at_time is None else at_time
        at_rps = 1 - at_time if at_rps is None else at_rps
    if at_time is None or at_rps is None or at_time == at_rps:
        raise UsageError(
            f"{path}: cannot tell the timestamp and requests/s columns apart in "
            f"{', '.join(map(repr, names))}",
            hint=f"name them 'timestamp' and 'rps'; expected {_WANT}",
        )
    return at_time, at_rps


def _rows(path: Path) -> list[list[str]]:
    if not path.exists():
        raise UsageError(f"no such file: {path}", hint=f"expected {_WANT}")
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            return [row for row in csv.reader(handle) if any(cell.strip() for cell in row)]
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (csv.Error, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not a readable CSV file ({exc})", hint=_WANT) from exc


def _parse(path: Path) -> list[tuple[datetime, float]]:
    rows = _rows(path)
    if len(rows) < 2:
        raise UsageError(f"{path}: no data rows", hint=f"expected {_WANT}")
    names = [h.strip() for h in rows[0]]
    at_time, at_rps = _columns(path, names)
    points: list[tuple[datetime, float]] = []
    for line, row in enumerate(rows[1:], start=2):
        cells = [row[i].strip() if i < len(row) else "" for i in (at_time, at_rps)]
        try:
            when = parse_time(cells[0])
        except ValueError:
            raise UsageError(
                f"{path}, line {line}, column {names[at_time]!r}: {cells[0]!r} is not a time",
                hint="use ISO 8601 (2026-03-01 or 2026-03-01T14:00:00Z) or Unix seconds",
            ) from None
        try:
            rps = float(cells[1])
        except ValueError:
            rps = math.nan
        if not math.isfinite(rps) or rps < 0:
            raise UsageError(
                f"{path}, line {line}, column {names[at_rps]!r}: {cells[1]!r} is not a "
                "requests/s figure (a finite number ≥ 0)",
                hint="fill in or remove the row",
            )
        if points and when <= points[-1][0]:
            raise UsageError(
                f"{path}, line {line}, column {names[at_time]!r}: {cells[0]} is not after "
                "the row before it",
                hint="sort the rows by time and drop duplicates",
            )
        points.append((when, rps))
    return points


def load_history(path: Path) -> History:
    """The file's traffic, bucketed per hour or per day (mean requests/s of each bucket)."""
    points = _parse(path)
    gaps = sorted(b[0] - a[0] for a, b in itertools.pairwise(points))
    if not gaps:
        raise UsageError(f"{path}: one data row is no history", hint=f"expected {_WANT}")
    typical = gaps[len(gaps) // 2]
    if typical > DAY:
        raise UsageError(
            f"{path}: points every {typical} are too sparse for a weekly pattern",
            hint="give hourly or daily requests/s",
        )
    step = HOUR if typical <= HOUR else DAY
    buckets: dict[datetime, list[float]] = defaultdict(list)
    for when, rps in points:
        floor = when.replace(minute=0, second=0, microsecond=0)
        buckets[floor if step == HOUR else floor.replace(hour=0)].append(rps)
    times = sorted(buckets)
    span = times[-1] - times[0] + step
    if span < 2 * WEEK:
        raise UsageError(
            f"{path}: {span / DAY:.1f} days of traffic are too few to see a weekly pattern",
            hint="give at least two weeks (four or more make a steadier trend)",
        )
    values = np.array([float(np.mean(buckets[t])) for t in times])
    if not np.any(values > 0):
        raise UsageError(f"{path}: every requests/s value is zero", hint="check the column")
    return History(times, values, step, str(path))


def history_from_points(times: list[datetime], rps: list[float], step: timedelta) -> History:
    """A :class:`History` from in-memory points (for the Python API and tests)."""
    return History([utc(t) for t in times], np.asarray(rps, dtype=float), step)
