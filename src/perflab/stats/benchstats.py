"""Summaries of benchmark samples: centre, spread, outliers, a CI of the median, a noise check.

A benchmark's samples come in groups: each worker process (a fresh interpreter) yields a few
values, and values of one process share its hash seed, memory layout and CPU placement, so
they vary less among themselves than between processes. The CI of the median therefore comes
from a **hierarchical bootstrap** (resample processes with replacement, then values within
each chosen process): resampling the pooled values as if independent would ignore the
between-process variance and give an interval too narrow to trust. With one group (the
in-process pytest mode) it falls back to the plain bootstrap of the values.

Outliers are flagged by Tukey's fences (1.5 IQR beyond the quartiles) and *kept*: a slow value
is a real observation (a GC pause, an interrupt), so it stays in every statistic and is only
counted and reported. The median and the CI of the median are robust to it anyway.

Everything here is pure: arrays in, numbers out; the bootstrap takes an explicit seed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "PERCENTILES",
    "BenchSummary",
    "EmptySamples",
    "clean_groups",
    "hierarchical_medians",
    "noise_warning",
    "outlier_mask",
    "samples_needed",
    "summarize",
]

FloatArray = npt.NDArray[np.float64]
PERCENTILES = (5.0, 25.0, 75.0, 95.0)


class EmptySamples(ValueError):
    """No finite positive value to summarize (every process failed, or NaN everywhere)."""


@dataclass(frozen=True)
class BenchSummary:
    """Statistics of one benchmark's values (seconds per iteration, or any positive unit).

    ``mad`` is the raw median absolute deviation (not scaled by 1.4826); ``cv`` is stdev/mean.
    ``ci_low``/``ci_high`` bound the median at ``confidence``; ``outliers`` counts values past
    Tukey's fences (they are kept in every figure). ``dropped`` counts NaN/inf/non-positive
    values removed before anything was computed.
    """

    n: int
    processes: int
    median: float
    mean: float
    stdev: float
    mad: float
    cv: float
    min: float
    max: float
    percentiles: dict[str, float]
    ci_low: float
    ci_high: float
    confidence: float
    outliers: int
    dropped: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def rel_halfwidth(self) -> float:
        """Half the CI width relative to the median: the precision the samples reached."""
        return (self.ci_high - self.ci_low) / 2.0 / self.median if self.median > 0 else math.inf


def clean_groups(groups: Sequence[Sequence[float]]) -> tuple[list[FloatArray], int]:
    """Per-process arrays with NaN, inf and non-positive values removed, and how many were.

    A group left empty is dropped entirely. Raises :class:`EmptySamples` when nothing is left.
    """
    kept: list[FloatArray] = []
    dropped = 0
    for group in groups:
        arr = np.asarray(list(group), dtype=np.float64).ravel()
        ok = np.isfinite(arr) & (arr > 0)
        dropped += int(arr.size - ok.sum())
        if ok.any():
            kept.append(arr[ok])
    if not kept:
        raise EmptySamples("no finite positive values")
    return kept, dropped


def outlier_mask(values: npt.ArrayLike, fence: float = 1.5) -> npt.NDArray[np.bool_]:
    """True where a value lies beyond ``fence`` IQRs outside the quartiles (Tukey)."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.size < 4:
        return np.zeros(arr.shape, dtype=bool)
    q1, q3 = np.percentile(arr, [25.0, 75.0])
    iqr = q3 - q1
    mask = (arr < q1 - fence * iqr) | (arr > q3 + fence * iqr)
    return np.asarray(mask & bool(iqr > 0), dtype=bool)


def hierarchical_medians(
    groups: Sequence[FloatArray], resamples: int, rng: np.random.Generator
) -> FloatArray:
    """Medians of ``resamples`` two-level bootstrap resamples (processes, then values).

    Groups may differ in size: every group is padded to the largest with NaN and each
    resample takes as many values from a chosen process as that process had, so the pooled
    resample has the original total size on average; ``nanmedian`` ignores the padding.
    """
    if len(groups) == 1:
        arr = groups[0]
        picks = rng.integers(0, arr.size, size=(resamples, arr.size))
        return np.asarray(np.median(arr[picks], axis=1), dtype=np.float64)
    width = max(g.size for g in groups)
    padded = np.full((len(groups), width), np.nan)
    sizes = np.array([g.size for g in groups])
    for i, g in enumerate(groups):
        padded[i, : g.size] = g
    procs = rng.integers(0, len(groups), size=(resamples, len(groups)))
    within = rng.random((resamples, len(groups), width))
    cols = (within * sizes[procs][..., None]).astype(np.int64)
    cols = np.where(np.arange(width) < sizes[procs][..., None], cols, width)  # padding slots
    padded = np.concatenate([padded, np.full((len(groups), 1), np.nan)], axis=1)
    drawn = np.sort(padded[procs[..., None], cols].reshape(resamples, -1), axis=1)
    return _sorted_nanmedian(drawn)


def _sorted_nanmedian(rows: FloatArray) -> FloatArray:
    """Row medians of rows sorted ascending with NaN last (``np.nanmedian`` is far slower)."""
    count = (~np.isnan(rows)).sum(axis=1)
    idx = np.arange(rows.shape[0])
    return np.asarray((rows[idx, (count - 1) // 2] + rows[idx, count // 2]) / 2.0, np.float64)


def summarize(
    groups: Sequence[Sequence[float]],
    *,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> BenchSummary:
    """Summarize per-process value groups; raises :class:`EmptySamples` when none is usable."""
    kept, dropped = clean_groups(groups)
    pooled = np.concatenate(kept)
    median = float(np.median(pooled))
    mean = float(pooled.mean())
    stdev = float(pooled.std(ddof=1)) if pooled.size > 1 else 0.0
    if pooled.size > 1:
        boots = hierarchical_medians(kept, resamples, np.random.default_rng(seed))
        tail = (1.0 - confidence) / 2.0 * 100.0
        low, high = (float(x) for x in np.percentile(boots, [tail, 100.0 - tail]))
    else:
        low = high = median
    return BenchSummary(
        n=int(pooled.size),
        processes=len(kept),
        median=median,
        mean=mean,
        stdev=stdev,
        mad=float(np.median(np.abs(pooled - median))),
        cv=stdev / mean if mean > 0 else 0.0,
        min=float(pooled.min()),
        max=float(pooled.max()),
        percentiles={
            f"p{p:g}": float(v)
            for p, v in zip(PERCENTILES, np.percentile(pooled, PERCENTILES), strict=True)
        },
        ci_low=min(low, median),
        ci_high=max(high, median),
        confidence=confidence,
        outliers=int(outlier_mask(pooled).sum()),
        dropped=dropped,
    )


def samples_needed(n: int, rel_halfwidth: float, target: float) -> int:
    """Samples for the CI half-width to shrink to ``target`` (it falls as 1/sqrt(n))."""
    if rel_halfwidth <= target or target <= 0:
        return n
    return math.ceil(n * (rel_halfwidth / target) ** 2)


def noise_warning(summary: BenchSummary, precision: float) -> str | None:
    """A warning when the median is known less precisely than asked, else None.

    Like pyperf's "the benchmark seems unstable": the CI half-width relative to the median is
    compared with ``precision`` and the sample count that would reach it is estimated
    (half-width ~ 1/sqrt(n); with processes as the units, more processes help most).
    """
    reached = summary.rel_halfwidth
    if reached <= precision:
        return None
    needed = samples_needed(summary.n, reached, precision)
    factor = needed / max(summary.n, 1)
    more = math.ceil(summary.processes * factor) - summary.processes
    return (
        f"too noisy for ±{precision:.1%}: the median is known to ±{reached:.1%} "
        f"(CV {summary.cv:.1%}); about {needed} values (~{more} more processes) would be needed"
    )
