"""When each replayed request goes out: original timing, spread, scaled or re-timed.

Access logs in the common and combined formats stamp requests to the second. Requests that
share a second are spread evenly over it (``k`` requests in second ``s`` go out at
``s + i/k``), which keeps the per-second rate of the original exactly and avoids a burst at
every whole second; finer structure inside a second is not known and not invented.
"""

from __future__ import annotations

import math
import re
from itertools import groupby
from operator import itemgetter

from perflab.errors import UsageError
from perflab.model.replay import ReplayEntry, ReplayPlan

_SPEED = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*[xX]?\s*$")


Headers = tuple[tuple[str, str], ...]
Raw = tuple[float, bool, str, str, str, Headers, bytes]
"""A parsed request before its timing is settled: ``(at, precise, method, path, name,
headers, body)``. ``at`` is seconds since the epoch; ``precise`` is false when it is only
known to the second (and is spread within it). A tuple, not an object: a long log makes
millions of them."""


def parse_speed(text: str) -> float:
    """The replay speed factor from ``"2x"``, ``"0.5x"`` or ``"2"`` (2 = twice as fast)."""
    match = _SPEED.match(text)
    value = float(match.group(1)) if match else 0.0
    if not match or not math.isfinite(value) or value <= 0:
        raise UsageError(f"bad speed {text!r}: expected a positive factor, e.g. 2x, 0.5x, 10")
    return value


def check_timing(speed: float, rate: float | None, limit: int | None) -> None:
    if not (math.isfinite(speed) and speed > 0):
        raise UsageError(f"bad speed {speed!r}: must be a positive factor")
    if rate is not None:
        if speed != 1.0:
            raise UsageError("give either --speed or --rate, not both")
        if not (math.isfinite(rate) and rate > 0):
            raise UsageError(f"bad rate {rate!r}/s: must be positive")
    if limit is not None and limit < 1:
        raise UsageError(f"bad --limit {limit}: must be at least 1")


def _offsets(raws: list[Raw], speed: float) -> list[float]:
    """Seconds after the first request, divided by ``speed``; requests known only to the
    second are spread evenly within it (``raws`` is sorted, so a second's are contiguous)."""
    base = raws[0][0] if raws else 0.0
    out: list[float] = []
    extend = out.extend
    for (at, precise), group in groupby(raws, key=itemgetter(0, 1)):
        k = len(list(group))
        start = at - base  # relative first: epoch floats have steps of ~0.2 µs
        if precise or k == 1:
            extend([start / speed] * k)
        else:
            extend([(start + i / k) / speed for i in range(k)])
    return out


def build_plan(
    source: str,
    raws: list[Raw],
    *,
    skipped: list[tuple[int, str]],
    lines: int,
    speed: float = 1.0,
    rate: float | None = None,
    limit: int | None = None,
) -> ReplayPlan:
    """Sort by time (stable: log order breaks ties), limit, then spread and scale or re-time.

    With ``rate`` the original timing is dropped and requests go out at that constant rate in
    their original order; otherwise offsets are divided by ``speed``.
    """
    raws.sort(key=itemgetter(0))
    if limit is not None:
        del raws[limit:]
    if rate is not None:
        offsets = [i / rate for i in range(len(raws))]
    else:
        offsets = _offsets(raws, speed)
    columns = (map(itemgetter(i), raws) for i in range(2, 7))
    entries = tuple(map(ReplayEntry, offsets, *columns))
    return ReplayPlan(source=source, entries=entries, skipped=tuple(skipped), lines=lines)


def rates(plan: ReplayPlan) -> tuple[float, float]:
    """``(mean, peak)`` requests per second; peak is the busiest whole second of the replay."""
    n = len(plan.entries)
    if not n:
        return 0.0, 0.0
    per_second: dict[int, int] = {}
    for entry in plan.entries:
        second = int(entry.offset_s)
        per_second[second] = per_second.get(second, 0) + 1
    mean = n / plan.duration_s if plan.duration_s >= 1.0 else float(n)
    return mean, float(max(per_second.values()))
