"""The resampling half of :mod:`perflab.stats.compare`: per-second series of a run, circular-block
resamples of them, and each metric computed for every resample at once.

Kept apart from the verdict logic because it is the hot and subtle part: every sum over a
resample is k precomputed window sums, and percentiles come from a vectorized binary search
over cumulative bucket counts, so thousands of resamples of an hour-long run stay cheap.
The method and its small-sample corrections are stated in :mod:`perflab.stats.compare`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from perflab.stats.hdr_codec import bucket_bounds
from perflab.stats.histogram import LatencyHistogram

__all__ = [
    "METRICS",
    "PERCENTILES",
    "Resamples",
    "RunSeries",
    "Series",
    "block_length",
    "metrics",
    "spreads",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Array = npt.NDArray[np.float64] | npt.NDArray[np.int64] | npt.NDArray[np.int32]

PERCENTILES = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "p99.9": 99.9}
METRICS = (*PERCENTILES, "error_rate", "rps")


@dataclass(frozen=True)
class Series:
    """One name's figures in one run, second by second (row i is second i).

    ``values`` are the latencies (µs) the bucket columns stand for, ascending; ``counts`` are
    (seconds, columns) bucket counts. ``low``/``high``, each second's exact min and max
    (+inf and 0 when empty), are optional: with them, percentiles are clipped to each
    resample's min and max exactly as :meth:`LatencyHistogram.percentiles` clips.
    """

    values: FloatArray
    counts: FloatArray
    requests: FloatArray
    errors: FloatArray
    low: FloatArray | None = None
    high: FloatArray | None = None

    def __post_init__(self) -> None:
        rows = self.requests.shape[0]
        if self.counts.shape != (rows, self.values.shape[0]) or self.errors.shape != (rows,):
            raise ValueError(
                f"counts {self.counts.shape}, values {self.values.shape}, requests "
                f"{self.requests.shape} and errors {self.errors.shape} do not fit together"
            )

    @classmethod
    def from_histograms(
        cls, hists: Sequence[LatencyHistogram], requests: npt.ArrayLike, errors: npt.ArrayLike
    ) -> Series:
        """A series from one histogram and two counts per second (columns: buckets in use)."""
        sparse = [hist.to_sparse() for hist in hists]
        columns = np.unique(np.concatenate([idx for idx, _ in sparse] or [np.zeros(0, np.int32)]))
        counts = np.zeros((len(hists), columns.size))
        for row, (idx, cnt) in enumerate(sparse):
            counts[row, np.searchsorted(columns, idx)] = cnt
        _, high = bucket_bounds(columns.astype(np.int64))
        return cls(
            high.astype(np.float64),
            counts,
            np.asarray(requests, np.float64),
            np.asarray(errors, np.float64),
            np.array([h.min if h.count else np.inf for h in hists], dtype=np.float64),
            np.array([h.max for h in hists], dtype=np.float64),
        )


@dataclass(frozen=True)
class RunSeries:
    """A run: the wall seconds each row covers (1.0; less for a last, partial second), and a
    series per name with one row per exposure entry."""

    exposure: FloatArray
    names: Mapping[str, Series]

    def __post_init__(self) -> None:
        for name, series in self.names.items():
            if series.requests.shape != self.exposure.shape:
                rows, expected = series.requests.shape[0], self.exposure.shape[0]
                raise ValueError(f"{name!r} has {rows} rows, not {expected}")


def block_length(n: int) -> int:
    """Seconds per bootstrap block for an ``n``-second run: ``ceil(sqrt(n))``."""
    return max(1, math.ceil(math.sqrt(n)))


class Resamples:
    """Circular-block resamples of an ``n``-second run, and sums over them.

    Row ``i`` of ``starts`` holds the first seconds of resample i's blocks (the last block is
    cut to ``last`` seconds). Row 0 starts at 0, L, 2L, ...: the run itself, whose figures are
    the point estimates. Sums over a resample add k precomputed window sums, not n rows.
    """

    def __init__(self, n: int, resamples: int, rng: np.random.Generator) -> None:
        self.n, self.block = n, block_length(n)
        blocks = -(-n // self.block)
        self.last = n - (blocks - 1) * self.block
        self.starts = rng.integers(0, n, size=(resamples + 1, blocks))
        self.starts[0] = np.arange(blocks) * self.block

    def seconds(self) -> IntArray:
        """The seconds of each resample, in order: (resamples + 1, n)."""
        offsets = np.arange(self.starts.shape[1] * self.block) % self.block
        picks: IntArray = (self.starts.repeat(self.block, axis=1) + offsets) % self.n
        return picks[:, : self.n]

    def windows(self, rows: Array) -> tuple[Array, Array]:
        """Sums of ``rows`` (seconds first) over the L and the ``last`` seconds from each second."""
        n, block = self.n, self.block
        if rows.ndim == 1:  # a prefix sum over the run twice round
            prefix = np.concatenate([[0], np.cumsum(np.concatenate([rows, rows]))])
            first = prefix[:n]
            return prefix[block : block + n] - first, prefix[self.last : self.last + n] - first
        wrapped = np.concatenate([rows, rows[: block - 1]])
        full = wrapped[:n].copy()
        last = full.copy()
        for shift in range(1, block):  # shifted adds of views: L is small, rows can be wide
            full += wrapped[shift : shift + n]
            if shift == self.last - 1:
                last = full.copy()
        return full, last

    def total(self, rows: FloatArray) -> FloatArray:
        """The sum of per-second ``rows`` (1-D) over each resample."""
        full, last = self.windows(rows)
        sums: FloatArray = full[self.starts[:, :-1]].sum(axis=1) + last[self.starts[:, -1]]
        return sums

    def extreme(self, rows: FloatArray, ufunc: np.ufunc) -> FloatArray:
        """``np.minimum`` or ``np.maximum`` of per-second ``rows`` over each resample."""
        wrapped = np.concatenate([rows, rows])
        full, last = (
            ufunc.reduce(np.lib.stride_tricks.sliding_window_view(wrapped, m)[: self.n], axis=1)
            for m in (self.block, self.last)
        )
        inner = ufunc.reduce(full[self.starts[:, :-1]], axis=1)
        return np.asarray(ufunc(inner, last[self.starts[:, -1]]), dtype=np.float64)


def percentiles(series: Series, resamples: Resamples) -> FloatArray:
    """(resamples + 1, percentiles) of each resample's merged histogram; NaN when empty."""
    columns, n = series.values.shape[0], resamples.n
    total = resamples.total(series.counts.sum(axis=1))
    ps = np.fromiter(PERCENTILES.values(), np.float64)
    rank = np.maximum(np.ceil(ps[None, :] / 100.0 * total[:, None]), 1.0)
    if columns == 0:
        return np.full(rank.shape, np.nan)
    narrow = series.counts.sum() < 2**31  # int32 halves the memory traffic, exactly
    dtype = np.int32 if narrow else np.int64
    cumulative_counts = series.counts.astype(dtype).cumsum(axis=1, dtype=dtype)
    full, last = (np.ascontiguousarray(w.T) for w in resamples.windows(cumulative_counts))
    inner = resamples.starts[:, :-1].T[:, :, None]  # (blocks - 1, resamples, 1)
    final = resamples.starts[:, -1, None]
    # Binary search per (resample, percentile) for the first column whose cumulative count
    # reaches the rank: log2(columns) steps of (resamples x percentiles x blocks) lookups.
    low = np.zeros(rank.shape, dtype=np.intp)
    high = np.full(rank.shape, columns - 1, dtype=np.intp)
    for _ in range(columns.bit_length()):
        middle = (low + high) // 2
        offset = middle * n
        cumulative = np.take(last, offset + final)
        for block in inner:
            cumulative += np.take(full, offset + block)
        reached = cumulative >= rank
        high = np.where(reached, middle, high)
        low = np.where(reached, low, middle + 1)
    values = series.values[np.minimum(low, columns - 1)]
    if series.low is not None and series.high is not None:
        smallest = resamples.extreme(series.low, np.minimum)[:, None]
        largest = resamples.extreme(series.high, np.maximum)[:, None]
        values = np.where(rank == 1.0, smallest, np.clip(values, smallest, largest))
    return np.where(total[:, None] > 0, values, np.nan)


def metrics(series: Series, resamples: Resamples, exposure: FloatArray) -> dict[str, FloatArray]:
    """Every metric (and the latency count) for the run (row 0) and each resample."""
    out = dict(zip(PERCENTILES, percentiles(series, resamples).T, strict=True))
    out["count"] = resamples.total(series.counts.sum(axis=1))
    requests = resamples.total(series.requests)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["error_rate"] = np.where(
            requests > 0, resamples.total(series.errors) / requests, np.nan
        )
        out["rps"] = requests / resamples.total(exposure)
    return out


def _autocorrelations(x: FloatArray) -> tuple[float, float]:
    x = x[np.isfinite(x)]
    d = x - x.mean() if x.size > 3 else np.zeros(0)
    power = float(d @ d)
    return (float(d[1:] @ d[:-1]) / power, float(d[2:] @ d[:-2]) / power) if power else (0, 0)


def _inflation(x: FloatArray, block: int) -> float:
    """How much more a mean of the seconds ``x`` varies than blocks of L capture (>= 1).

    rho_1 gets Kendall's bias correction (1 + 3 rho_1) / n; rho_1 and d = rho_2 / rho_1 are
    clipped to [0, 0.9]. With rho_k = rho_1 d^(k-1), the variance of a mean is
    1 + 2 rho_1 / (1 - d) times that of independent seconds, of which blocks capture the
    Bartlett-weighted 1 + 2 sum_{k<L} (1 - k/L) rho_k.
    """
    rho1, rho2 = _autocorrelations(x)
    rho1 = min(max(rho1 + (1.0 + 3.0 * rho1) / max(int(np.isfinite(x).sum()), 1), 0.0), 0.9)
    decay = min(max(rho2 / rho1, 0.0), 0.9) if rho1 > 0 else 0.0
    lags = np.arange(1, block)
    captured = 1.0 + 2.0 * float(np.sum((1.0 - lags / block) * rho1 * decay ** (lags - 1)))
    return max(1.0, (1.0 + 2.0 * rho1 / (1.0 - decay)) / captured)


def spreads(series: Series, exposure: FloatArray) -> dict[str, float]:
    """How far to spread each metric's resamples of one run around its estimate."""
    n = exposure.shape[0]
    block = block_length(n)
    bias = n / max(n - block, 1)
    totals = series.counts.sum(axis=1)
    middle = (series.counts.cumsum(axis=1) < np.ceil(totals / 2.0)[:, None]).sum(axis=1)
    medians = (
        series.values[np.minimum(middle, series.values.shape[0] - 1)] if middle.size else totals
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        level = np.where(totals > 0, np.log(np.maximum(medians, 1.0)), np.nan)
        errors = np.where(series.requests > 0, series.errors / series.requests, np.nan)
        rate = np.where(exposure >= 0.5, series.requests / exposure, np.nan)
    by_family = {
        key: math.sqrt(bias * _inflation(x, block))
        for key, x in (("latency", level), ("error_rate", errors), ("rps", rate))
    }
    return {m: by_family.get(m, by_family["latency"]) for m in METRICS}
