"""Is run B faster or slower than run A? Changes per metric, with bootstrap confidence intervals.

**Resampling.** Each second of a run is one unit. A second carries its latency histogram and its
counts of requests, errors and wall time. Requests in the same second are not independent:
a GC pause, a cache warming up or a noisy neighbour moves many of them together, often for
several seconds. So each run is resampled on its own with the circular block bootstrap
(Politis & Romano 1992). A resample is ``ceil(n / L)`` blocks of ``L = ceil(sqrt(n))``
consecutive seconds that start anywhere and wrap round, cut to ``n`` seconds. Every name in a
run uses the same resamples, which keeps the correlation between names. A resample's p50,
p90, p99 and p99.9 come from its merged histogram (merging adds bucket counts, so this is
exact, with :meth:`LatencyHistogram.percentiles`' rank rule). Its error rate is errors /
requests and its throughput is requests / wall seconds. The b-th resamples of the two runs are
paired, and the change replicate is ``log(candidate / base)``.

**Small-sample corrections.** Each is standard, and each is needed for an A/A comparison to
be honest with 30-60 seconds of data:
(1) Each run's replicates are spread around its estimate by ``sqrt(n / (n - L))``, which undoes
the block bootstrap's variance bias of about ``-L/n``. They are also spread by the square root
of an autocorrelation inflation: the per-second series (the log median latency, the error
fraction and the throughput) is fitted with ``rho_k = rho_1 d^(k-1)``, a level drifting as
AR(1) plus independent sampling noise. The inflation is how much more a mean of such seconds
varies than what blocks of L capture. It is at least 1, so it widens for drifts that outlast
a block.
(2) The variance comes from a short series, so an interval end is stretched by Student's t over
the normal quantile at the interval's tail level. The degrees of freedom come from
Welch-Satterthwaite, with ``min(n - 1, 1.5 n / L)`` for each run (Kuensch 1989).

**Intervals** are percentile intervals of the replicates, and they are *simultaneous*. One
rank cut, for all metrics of all names, is chosen so that at least ``confidence`` of the
resamples lie inside every interval at once (Mandel & Betensky 2008). A verdict of "anything
regressed" therefore has an A/A false-alarm rate of at most ``1 - confidence``, not of that
much per figure.

**Verdict.** A metric changed when its interval excludes 0 *and* its estimate is beyond the
minimum effect: significant, and large enough to matter. Up is worse for latency and error
rate, down for throughput. Requiring the whole interval beyond the minimum effect instead
would be wrong for a CI gate: it calls +17 % with the interval [+4 %, +30 %] "no change",
and a likely regression would pass.

**Calibration**, measured on the simulated server of ``tests/unit/stats/test_compare.py``
(AR(1) drift, two names, 0.2 % errors): A/A false alarms were 3.7 % at 30 s, 3.2 % at 40 s and
3.2 % at 60 s (600-1000 pairs each). At 30 s, +20 % latency was flagged in 200 of 200 pairs
and +10 % in 193 of 200.

**Edge cases.** A run shorter than :data:`MIN_SECONDS` raises :class:`TooFewSeconds`. A
percentile needs :data:`MIN_TAIL` values beyond it in each run before it gets an interval. A
metric that is undefined in some resample (a rare name) gets no interval and no verdict. When
the base has no errors, the relative change of the error rate is undefined. Its change and
interval are then the difference in percentage points (``unit == "pp"``). The minimum effect
is relative, so it does not apply there: errors that survive resampling are a regression.
Names that are in one run only are listed as added or removed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from perflab.stats.resample import (
    METRICS,
    PERCENTILES,
    FloatArray,
    Resamples,
    RunSeries,
    Series,
    block_length,
    metrics,
    spreads,
)

__all__ = [
    "METRICS",
    "MIN_SECONDS",
    "MIN_TAIL",
    "Comparison",
    "MetricChange",
    "Resamples",
    "RunSeries",
    "Series",
    "TooFewSeconds",
    "block_length",
    "compare",
]

Verdict = Literal["improved", "regressed", "no_change"]
Unit = Literal["%", "pp"]

HIGHER_IS_BETTER = frozenset({"rps"})
MIN_SECONDS = 5
MIN_TAIL = 10  # values beyond a percentile, in each run, for it to get an interval


class TooFewSeconds(ValueError):
    """A run has too few seconds of intervals to resample."""


@dataclass(frozen=True)
class MetricChange:
    """One metric of one name: both runs' values, the change, its interval and the verdict.

    Changes are in % (relative) or, with ``unit == "pp"``, in percentage points. None means
    undefined (or, for an interval end, unbounded). Latencies in µs, error rates as fractions,
    throughput in requests per second.
    """

    base: float | None
    candidate: float | None
    change_pct: float | None
    ci_low_pct: float | None
    ci_high_pct: float | None
    verdict: Verdict
    unit: Unit = "%"


@dataclass(frozen=True)
class Comparison:
    """What :func:`compare` found; ``by_name[name][metric]`` for the names in both runs."""

    verdict: Verdict
    by_name: dict[str, dict[str, MetricChange]]
    added: list[str]
    removed: list[str]
    block_seconds: tuple[int, int]
    notes: list[str]


@dataclass
class _Pending:
    """A metric on the working scale: log(value) for % changes, 100 x value for pp changes."""

    name: str
    metric: str
    base: float
    candidate: float
    change: float  # candidate - base, working scale
    replicates: FloatArray  # the change per resample, NaN when undefined
    variances: tuple[float, float]  # of each run's spread replicates, for Welch's df
    unit: Unit


def _pending(
    name: str, metric: str, figures: tuple[dict[str, FloatArray], ...], spread: tuple[float, ...]
) -> _Pending:
    points = metric == "error_rate" and not figures[0][metric][0] > 0
    works = []
    with np.errstate(divide="ignore", invalid="ignore"):
        for run, factor in zip(figures, spread, strict=True):
            work = run[metric] * 100.0 if points else np.log(run[metric])  # log 0 = -inf
            works.append(np.where(np.isnan(work), np.nan, work[0] + factor * (work - work[0])))
        both_zero = np.isneginf(works[0]) & np.isneginf(works[1])  # 0 / 0: no change
        change = np.where(both_zero, 0.0, works[1] - works[0])
    fewest = min(figures[0]["count"][0], figures[1]["count"][0])
    if metric in PERCENTILES and (1.0 - PERCENTILES[metric] / 100.0) * fewest < MIN_TAIL:
        change[1:] = np.nan
    finite = [w[1:][np.isfinite(w[1:])] for w in works]
    variances = [float(np.var(f)) if f.size > 1 else 0.0 for f in finite]
    return _Pending(
        name,
        metric,
        float(figures[0][metric][0]),
        float(figures[1][metric][0]),
        float(change[0]),
        change[1:],
        (variances[0], variances[1]),
        "pp" if points else "%",
    )


def _rank_cut(family: list[FloatArray], confidence: float, resamples: int, joint: bool) -> int:
    """Replicates cut from each end of every interval: the marginal cut, or the largest cut
    (at most that) at which ``confidence`` of the resamples lie inside all intervals at once."""
    marginal = int(resamples * (1.0 - confidence) / 2.0)
    if not joint or not family:
        return marginal
    replicates = np.stack(family)  # (metrics, resamples)
    ordered = np.sort(replicates, axis=1)

    def covered(cut: int) -> bool:
        low, high = ordered[:, cut, None], ordered[:, resamples - 1 - cut, None]
        inside = np.all((replicates >= low) & (replicates <= high), axis=0)
        return float(inside.mean()) >= confidence

    lo, hi = 0, marginal  # cut 0 covers every replicate
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if covered(mid) else (lo, mid - 1)
    return lo


def _stretches(family: list[_Pending], tail: float, dfs: tuple[float, float]) -> FloatArray:
    """Student's t over the normal quantile at ``tail``, with Welch-Satterthwaite's df."""
    from scipy.special import ndtri, stdtrit  # here: importing it takes 0.4 s

    variances = np.array([p.variances for p in family]).reshape(-1, 2)
    spread = variances.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = np.where(spread > 0, spread**2 / (variances**2 / np.asarray(dfs)).sum(axis=1), np.inf)
    return np.asarray(stdtrit(df, 1.0 - tail) / ndtri(1.0 - tail), dtype=np.float64)


def _percent(value: float, unit: Unit) -> float | None:
    if unit == "%":
        value = math.expm1(min(value, 700.0)) * 100.0 if math.isfinite(value) else value
    return value if math.isfinite(value) else None


def _verdict(p: _Pending, low: float, high: float, min_effect_pct: float) -> Verdict:
    threshold = 0.0 if p.unit == "pp" else min_effect_pct
    change = _percent(p.change, p.unit) or 0.0
    if low > 0.0 and change > threshold:
        went_up = True
    elif high < 0.0 and change < -threshold:
        went_up = False
    else:
        return "no_change"
    return "improved" if went_up == (p.metric in HIGHER_IS_BETTER) else "regressed"


def _finish(p: _Pending, cut: int | None, stretch: float, min_effect_pct: float) -> MetricChange:
    base, cand = (v if math.isfinite(v) else None for v in (p.base, p.candidate))
    change = _percent(p.change, p.unit)
    if cut is None or change is None:
        return MetricChange(base, cand, change, None, None, "no_change", p.unit)
    ordered = np.sort(p.replicates)
    low, high = (p.change + stretch * (float(ordered[i]) - p.change) for i in (cut, -1 - cut))
    verdict = _verdict(p, low, high, min_effect_pct)
    return MetricChange(
        base, cand, change, _percent(low, p.unit), _percent(high, p.unit), verdict, p.unit
    )


def _check(
    runs: tuple[RunSeries, RunSeries], min_effect: float, confidence: float, resamples: int
) -> None:
    if not 0.0 <= min_effect < 10.0:
        raise ValueError(f"min_effect must be a fraction in [0, 10), got {min_effect!r}")
    if not 0.5 <= confidence < 1.0:
        raise ValueError(f"confidence must lie in [0.5, 1), got {confidence!r}")
    if resamples < 100:
        raise ValueError(f"at least 100 resamples are needed, got {resamples}")
    for label, run in zip(("base", "candidate"), runs, strict=True):
        seconds = float(run.exposure.sum())
        if seconds < MIN_SECONDS - 0.01:
            raise TooFewSeconds(
                f"the {label} run has only {seconds:.1f} s of intervals; a comparison needs at "
                f"least {MIN_SECONDS} s, as whole seconds are what gets resampled"
            )


def compare(
    base: RunSeries,
    candidate: RunSeries,
    *,
    min_effect: float = 0.05,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
    joint: bool = True,
) -> Comparison:
    """Compare every metric of every name in both runs; the method is the module docstring's.

    Args:
        min_effect: the smallest relative change that counts (0.05 = 5 %).
        confidence: coverage of the intervals; simultaneous over all figures when ``joint``.
        resamples: bootstrap resamples per run.
        seed: seeds the resampling: equal inputs and seed give equal results.
        joint: simultaneous intervals (family-wise) rather than one figure at a time.

    Raises:
        TooFewSeconds: a run is shorter than :data:`MIN_SECONDS`.
        ValueError: a parameter is out of range.
    """
    runs = (base, candidate)
    _check(runs, min_effect, confidence, resamples)
    rng = np.random.default_rng(seed)
    drawn = [Resamples(run.exposure.shape[0], resamples, rng) for run in runs]
    dfs = tuple(min(r.n - 1.0, 1.5 * r.n / r.block) for r in drawn)
    common = [name for name in base.names if name in candidate.names]
    pending: list[_Pending] = []
    for name in common:
        figures = tuple(
            metrics(r.names[name], d, r.exposure) for r, d in zip(runs, drawn, strict=True)
        )
        spread = [spreads(r.names[name], r.exposure) for r in runs]
        pending += [_pending(name, m, figures, tuple(s[m] for s in spread)) for m in METRICS]
    family = [p for p in pending if math.isfinite(p.change) and not np.isnan(p.replicates).any()]
    cut = _rank_cut([p.replicates for p in family], confidence, resamples, joint)
    tail = (cut + 1) / (resamples + 1)
    stretch = dict(zip(map(id, family), _stretches(family, tail, (dfs[0], dfs[1])), strict=True))
    by_name: dict[str, dict[str, MetricChange]] = {name: {} for name in common}
    undefined: dict[str, list[str]] = {}
    for p in pending:
        ok = id(p) in stretch
        by_name[p.name][p.metric] = _finish(
            p, cut if ok else None, stretch.get(id(p), 1.0), min_effect * 100.0
        )
        if not ok:
            undefined.setdefault(p.name, []).append(p.metric)
    gaps: dict[tuple[str, ...], list[str]] = {}
    for name, missing in undefined.items():
        gaps.setdefault(tuple(missing), []).append(name)
    notes = [
        f"no interval for {', '.join(metrics)} of {', '.join(names)}: too few requests (a "
        f"percentile needs {MIN_TAIL} beyond it in each run, and every resample needs some)"
        for metrics, names in gaps.items()
    ]
    verdicts = {m.verdict for figures in by_name.values() for m in figures.values()}
    verdict: Verdict = next((v for v in ("regressed", "improved") if v in verdicts), "no_change")
    return Comparison(
        verdict=verdict,
        by_name=by_name,
        added=[name for name in candidate.names if name not in base.names],
        removed=[name for name in base.names if name not in candidate.names],
        block_seconds=(drawn[0].block, drawn[1].block),
        notes=notes,
    )
