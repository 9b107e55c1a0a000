"""Parsing of the human units on the command line: durations, rates, stages.

Every parser raises :class:`~perflab.errors.UsageError` with one line that names the bad value
and shows what is expected, because these strings come straight from users and CI configs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from perflab.errors import UsageError

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|us|µs|s|m|h)")
_UNIT_SECONDS = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*(\d*)\s*(ms|s|m|h|sec|min))?\s*$")
_RATE_UNIT = {"ms": 1e-3, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def parse_duration(text: str, *, what: str = "duration") -> float:
    """Seconds from ``"30s"``, ``"1m30s"``, ``"500ms"``, ``"2h"`` or a bare number of seconds."""
    raw = text.strip()
    try:
        value = float(raw)
    except ValueError:
        pass
    else:
        if value < 0:
            raise UsageError(f"bad {what} {text!r}: must not be negative")
        return value
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(raw):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if pos != len(raw) or not raw:
        raise UsageError(
            f"bad {what} {text!r}: expected a number with a unit, e.g. 30s, 1m30s, 500ms, 2h"
        )
    return total


def parse_rate(text: str) -> float:
    """Requests per second from ``"500/s"``, ``"500"``, ``"30/m"`` or ``"100/1s"``."""
    match = _RATE.match(text)
    if not match:
        raise UsageError(f"bad rate {text!r}: expected requests per time unit, e.g. 500/s, 30/m")
    count = float(match.group(1))
    per = float(match.group(2) or 1) * _RATE_UNIT[match.group(3) or "s"]
    if per <= 0:
        raise UsageError(f"bad rate {text!r}: the time unit must be positive")
    return count / per


def format_duration(seconds: float) -> str:
    """Shortest readable form: ``90.0 -> "1m30s"``, ``0.25 -> "250ms"``."""
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else ""]
    if secs or not (hours or minutes):
        parts.append(f"{secs:g}s")
    return "".join(parts)


@dataclass(frozen=True, slots=True)
class Stage:
    """Ramp linearly to ``target`` (requests/s or virtual users) over ``duration_s``."""

    duration_s: float
    target: float


def parse_stages(text: str, *, rates: bool) -> tuple[Stage, ...]:
    """Stages from ``"30s:100/s,1m:500/s,30s:0/s"`` (rates) or ``"30s:10,1m:50"`` (VUs)."""
    stages: list[Stage] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        duration, sep, target = part.partition(":")
        if not sep:
            example = "30s:100/s,1m:500/s" if rates else "30s:10,1m:50"
            raise UsageError(f"bad stage {part!r}: expected DURATION:TARGET, e.g. {example}")
        seconds = parse_duration(duration, what="stage duration")
        if rates:
            value = parse_rate(target)
        else:
            try:
                value = float(int(target.strip()))
            except ValueError:
                raise UsageError(
                    f"bad stage {part!r}: the target of a VU stage is a whole number of users"
                ) from None
            if value < 0:
                raise UsageError(f"bad stage {part!r}: the number of users must not be negative")
        stages.append(Stage(seconds, value))
    if not stages:
        raise UsageError(f"bad stages {text!r}: expected at least one DURATION:TARGET")
    return tuple(stages)


def target_at(start: float, stages: tuple[Stage, ...], t: float) -> float:
    """The linearly interpolated stage target (rate or VUs) at ``t`` seconds."""
    prev, t0 = start, 0.0
    for stage in stages:
        if t < t0 + stage.duration_s:
            frac = (t - t0) / stage.duration_s if stage.duration_s > 0 else 1.0
            return prev + (stage.target - prev) * frac
        prev, t0 = stage.target, t0 + stage.duration_s
    return prev
