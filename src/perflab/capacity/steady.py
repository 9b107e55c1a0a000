"""When a load step's throughput has settled: a test on per-second counts (pure, no clock).

A step is *steady* when, over its last ``window_s`` complete seconds (after ``warmup_s``):

- the trend is flat: the Theil-Sen slope's 95 % confidence interval (Sen 1968, from the
  normal approximation of Kendall's S) contains 0, *or* the drift it implies over the window
  is under ``max_drift`` of the mean (a tiny but significant drift on a long window is
  still steady for a capacity figure);
- the spread is small: the coefficient of variation *beyond counting noise* is at most
  ``max_cv``. Per-second request counts of a perfectly steady process still vary by about
  ``sqrt(mean)`` (Poisson), so ``max(0, var - mean) / mean**2`` is compared, not the raw CV;
  otherwise a 20 req/s step could never be steady.

The hold is bounded: never stop before ``min_hold_s`` complete seconds (nor before a whole
window after the warm-up), always stop at
``max_hold_s`` (then the step is reported as not steady).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

_Z95 = 1.959963984540054


@dataclass(frozen=True, slots=True)
class SteadyRule:
    """How long to hold a step and what "steady" means (seconds are complete seconds)."""

    window_s: int = 5
    warmup_s: int = 1
    min_hold_s: int = 5
    max_hold_s: int = 30
    max_cv: float = 0.10
    max_drift: float = 0.05

    def __post_init__(self) -> None:
        if self.window_s < 3:
            raise ValueError("a steadiness window needs at least 3 seconds")
        if self.warmup_s < 0 or self.max_cv <= 0 or self.max_drift <= 0:
            raise ValueError("warm-up must be >= 0 and the bounds positive")
        if not (
            self.min_hold_s <= self.max_hold_s and self.warmup_s + self.window_s <= self.max_hold_s
        ):
            raise ValueError("need min_hold_s <= max_hold_s and warmup_s + window_s <= max_hold_s")


@dataclass(frozen=True, slots=True)
class Steadiness:
    """The verdict on one window: ``first`` and ``last`` are the seconds it spans."""

    steady: bool
    first: int
    last: int
    mean: float
    cv: float
    slope: float
    slope_low: float
    slope_high: float
    reason: str


@dataclass(frozen=True, slots=True)
class HoldDecision:
    stop: bool
    verdict: Steadiness | None


def theil_sen(values: Sequence[float]) -> tuple[float, float, float]:
    """Median pairwise slope (per step of x = 0, 1, 2, ...) and its 95 % interval.

    The interval takes the pairwise slopes ranked ``(N - C) / 2`` and ``(N + C) / 2`` with
    ``C = z * sqrt(n (n - 1) (2n + 5) / 18)`` (no correction for ties), clipped to the range.
    """
    n = len(values)
    if n < 2:
        raise ValueError("a slope needs at least two points")
    slopes = sorted((values[j] - values[i]) / (j - i) for i in range(n) for j in range(i + 1, n))
    count = len(slopes)
    mid = count // 2
    median = slopes[mid] if count % 2 else (slopes[mid - 1] + slopes[mid]) / 2.0
    c = _Z95 * math.sqrt(n * (n - 1) * (2 * n + 5) / 18.0)
    low = max(0, min(count - 1, round((count - c) / 2.0) - 1))
    high = max(0, min(count - 1, round((count + c) / 2.0)))
    return median, slopes[low], slopes[high]


def excess_cv(values: Sequence[float]) -> float:
    """Coefficient of variation beyond Poisson counting noise (0 for a constant series)."""
    n = len(values)
    mean = sum(values) / n
    if mean <= 0:
        return math.inf
    var = sum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
    return math.sqrt(max(0.0, var - mean)) / mean


def assess(per_second: Sequence[float], rule: SteadyRule) -> Steadiness | None:
    """Judge the last ``rule.window_s`` seconds after the warm-up; None if not enough yet."""
    usable = len(per_second) - rule.warmup_s
    if usable < rule.window_s:
        return None
    first = len(per_second) - rule.window_s
    window = [float(v) for v in per_second[first:]]
    mean = sum(window) / len(window)
    slope, low, high = theil_sen(window)
    cv = excess_cv(window)
    drift = abs(slope) * (len(window) - 1) / mean if mean > 0 else math.inf
    flat = low <= 0.0 <= high or drift <= rule.max_drift
    if mean <= 0:
        reason = "no completed requests"
    elif not flat:
        reason = f"throughput drifting {slope:+.3g}/s ({drift:.0%} over {len(window)} s)"
    elif cv > rule.max_cv:
        reason = f"throughput too noisy (CV {cv:.0%} > {rule.max_cv:.0%})"
    else:
        reason = f"steady over {len(window)} s (CV {cv:.1%}, drift {drift:.1%})"
    steady = mean > 0 and flat and cv <= rule.max_cv
    return Steadiness(steady, first, len(per_second) - 1, mean, cv, slope, low, high, reason)


def decide(per_second: Sequence[float], rule: SteadyRule) -> HoldDecision:
    """Whether to end the step after these complete seconds (seconds 0, 1, ... of the step)."""
    held = len(per_second)
    verdict = assess(per_second, rule)
    if held >= rule.max_hold_s:
        return HoldDecision(True, verdict)
    if held >= rule.min_hold_s and verdict is not None and verdict.steady:
        return HoldDecision(True, verdict)
    return HoldDecision(False, verdict)
