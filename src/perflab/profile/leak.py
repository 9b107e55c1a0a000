"""The leak verdict: does a process' memory keep growing once it has warmed up?

A leak shows as a *monotonic* rise that survives the start-up ramp, so the verdict tests for
a trend in the samples after a warm-up, one-sided (only growth is a leak), with two tests
from :mod:`perflab.stats.trend` because memory noise comes in two kinds:

* stationary wander around a level (allocator arenas filling and emptying): Mann-Kendall
  with the autocorrelation correction is the right test, and the Theil-Sen slope the rate;
* integrated noise (growth driven by a count of requests carries the count's fluctuations):
  the levels then hold about one effective sample, Mann-Kendall cannot reject even a clean
  40 MB rise in 10 s, and the drift test on increments is the right one.

The p-value is Bonferroni's ``min(1, 2 min(p_mk, p_drift))``, so the false-positive rate
stays at most alpha whichever noise the process has (the drift test is conservative on
stationary noise). Statistical significance alone is not enough on memory: with a few
hundred samples a growth of a few pages is "significant" yet meaningless, so a leak must
also clear two practical floors, both documented on :func:`leak_verdict`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from perflab.model.htmljson import finite
from perflab.stats.trend import bin_medians, drift_test, trend_test

MB = 1_000_000
"""The unit of the verdict's text (SI megabytes; the numbers themselves stay in bytes)."""

MIN_POINTS = 20
"""Fewer points after the warm-up and neither the test nor the AR(1) correction holds."""

MAX_POINTS = 2000
"""Longer series are reduced to this many bin medians (the Sen slope is O(n^2))."""

DEFAULT_MIN_SLOPE_PER_HOUR = 1 * MB
DEFAULT_MIN_GROWTH = 1 * MB

WARMUP_FRACTION = 0.2
WARMUP_FLOOR_S = 10.0
WARMUP_CAP_FRACTION = 0.5

Status = Literal["growing", "no growth", "not enough data"]


def default_warmup_s(span_s: float) -> float:
    """Seconds skipped at the start: 20 % of the run, at least 10 s, at most half of it.

    Start-up memory is not a leak: imports, connection pools, thread stacks and the first
    allocator arenas arrive in the first seconds (hence the 10 s floor), and caches keyed by
    traffic keep filling for a time that grows with the run (hence a fraction, not a fixed
    time). The cap keeps half of a short run for the test.
    """
    if span_s <= 0:
        return 0.0
    return min(max(WARMUP_FLOOR_S, WARMUP_FRACTION * span_s), WARMUP_CAP_FRACTION * span_s)


@dataclass(frozen=True, slots=True)
class LeakVerdict:
    """The verdict on one memory series; rates are in bytes per hour.

    ``p_value`` is one-sided (H1: memory grows), the Bonferroni combination of
    ``p_mann_kendall`` (levels) and ``p_drift`` (increments). ``growth_bytes`` is the
    fitted growth over the analysed window (``window_s`` seconds after ``warmup_s``). With
    ``status`` "not enough data" the numbers are NaN and ``growing`` is False.
    """

    growing: bool
    status: Status
    slope_per_hour: float
    ci_low: float
    ci_high: float
    p_value: float
    p_mann_kendall: float
    p_drift: float
    n: int
    warmup_s: float
    window_s: float
    growth_bytes: float
    alpha: float
    min_slope_per_hour: float
    text: str

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; NaN (no data) becomes None, which JSON can carry."""
        doc: dict[str, Any] = finite(asdict(self))
        return doc


def format_rate(bytes_per_hour: float) -> str:
    """``+14.2 MB/hour``: sign always shown, three significant figures or whole megabytes."""
    mb = bytes_per_hour / MB
    if abs(mb) >= 100:
        return f"{mb:+,.0f} MB/hour"
    if abs(mb) >= 1:
        return f"{mb:+.1f} MB/hour"
    return f"{mb:+.2f} MB/hour"


def format_p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.2g}" if p < 0.1 else f"p = {p:.2f}"


def leak_verdict(
    t_s: Sequence[float] | np.ndarray,
    values: Sequence[float] | np.ndarray,
    *,
    warmup_s: float | None = None,
    alpha: float = 0.05,
    min_slope_per_hour: float = DEFAULT_MIN_SLOPE_PER_HOUR,
    min_growth_bytes: float = DEFAULT_MIN_GROWTH,
) -> LeakVerdict:
    """Judge whether ``values`` (bytes, e.g. RSS) sampled at ``t_s`` (seconds) grow.

    Growing means all three: the trend is significant (one-sided p < ``alpha``), the Sen
    slope is at least ``min_slope_per_hour`` (default 1 MB/hour: glibc trims and re-grows
    its heap in 128 KB steps and Python's arenas are 256 KB-1 MB, so a few hundred KB/hour
    is allocator noise, not a leak worth a ticket), and the fitted growth over the analysed
    window is at least ``min_growth_bytes`` (default 1 MB: in a 20 s test a single 128 KB
    heap step already extrapolates to tens of MB/hour).

    ``warmup_s`` defaults to :func:`default_warmup_s` of the series' span. Too few points
    after it give a "not enough data" verdict, not an exception, so a short or interrupted
    run still gets a report.
    """
    t = np.asarray(t_s, dtype=np.float64).ravel()
    x = np.asarray(values, dtype=np.float64).ravel()
    if len(t) != len(x):
        raise ValueError(f"t_s and values differ in length ({len(t)} != {len(x)})")
    known = np.isfinite(t) & np.isfinite(x)  # NaN: a sample that could not be read
    order = np.argsort(t[known], kind="stable")
    t, x = t[known][order], x[known][order]
    span = float(t[-1] - t[0]) if len(t) else 0.0
    warm = default_warmup_s(span) if warmup_s is None else max(0.0, float(warmup_s))
    keep = t >= (t[0] if len(t) else 0.0) + warm
    t, x = t[keep], x[keep]
    t, index = np.unique(t, return_index=True)  # a repeated timestamp keeps its first value
    x = x[index]
    if len(t) < MIN_POINTS:
        return _not_enough(t_s, len(t), warm, warmup_s is None, alpha, min_slope_per_hour)
    t, x = bin_medians(t, x, MAX_POINTS)
    result = trend_test(t, x, alpha=alpha)
    p_drift = drift_test(t, x).p_increasing
    p_value = min(1.0, 2.0 * min(result.p_increasing, p_drift))
    per_hour = 3600.0
    slope = result.slope * per_hour
    window = float(t[-1] - t[0])
    growth = result.slope * window
    significant = p_value < alpha
    growing = significant and slope >= min_slope_per_hour and growth >= min_growth_bytes
    p_text = format_p(p_value)
    if growing:
        text = f"{format_rate(slope)}, {p_text}"
    elif significant and slope > 0:
        floor = format_rate(min_slope_per_hour).lstrip("+")
        text = f"no growth worth reporting (slope {format_rate(slope)}, {p_text}; below {floor}"
        text += f" or {min_growth_bytes / MB:g} MB in the window)"
    else:
        text = f"no growth (slope {format_rate(slope)}, {p_text})"
    return LeakVerdict(
        growing=growing,
        status="growing" if growing else "no growth",
        slope_per_hour=slope,
        ci_low=result.ci_low * per_hour,
        ci_high=result.ci_high * per_hour,
        p_value=p_value,
        p_mann_kendall=result.p_increasing,
        p_drift=p_drift,
        n=result.n,
        warmup_s=warm,
        window_s=window,
        growth_bytes=growth,
        alpha=alpha,
        min_slope_per_hour=min_slope_per_hour,
        text=text,
    )


def _not_enough(
    t_all: Sequence[float] | np.ndarray,
    n: int,
    warmup_s: float,
    default_warmup: bool,
    alpha: float,
    min_slope_per_hour: float,
) -> LeakVerdict:
    """The verdict for a series too short to judge, with the run length that would do."""
    t = np.sort(np.asarray(t_all, dtype=np.float64).ravel())
    step = float(np.median(np.diff(t))) if len(t) > 1 else 1.0
    window = MIN_POINTS * step
    needed = math.ceil(warmup_s + window)
    if default_warmup:  # a longer run also warms up longer
        needed = math.ceil(window)
        while needed - default_warmup_s(needed) < window:
            needed += 1
    text = (
        f"not enough data ({n} points after a {warmup_s:.0f} s warm-up; "
        f"run at least {needed} s at this sampling interval)"
    )
    nan = math.nan
    return LeakVerdict(
        growing=False,
        status="not enough data",
        slope_per_hour=nan,
        ci_low=nan,
        ci_high=nan,
        p_value=nan,
        p_mann_kendall=nan,
        p_drift=nan,
        n=n,
        warmup_s=warmup_s,
        window_s=nan,
        growth_bytes=nan,
        alpha=alpha,
        min_slope_per_hour=min_slope_per_hour,
        text=text,
    )
