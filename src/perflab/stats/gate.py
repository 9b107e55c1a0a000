"""The benchmark gate: is the candidate faster, slower, or not significantly different?

**Units.** A benchmark's values come in groups, one per worker process (a fresh interpreter).
Values of one process share its hash seed, memory layout and CPU placement, so the honest
unit of independent evidence is the *process*, not the value: treating 30 values from 6
processes as 30 independent draws would shrink every interval by the between-process spread
and flag A/A pairs as changed (measured with a 3 % process offset: 6 % of A/A pairs
flagged when pooled, none by process). So each process is reduced to its median, and the
test works on those per-process medians. When a side has fewer than :data:`MIN_UNITS`
processes (the in-process pytest mode), the values themselves are the units and the result
says so (``units == "values"``).

**Estimate.** ``ratio = median(candidate values) / median(base values)``; > 1 is slower.
Its interval is the percentile interval of ratios of *hierarchical* bootstrap medians
(resample processes, then values within them; see :mod:`perflab.stats.benchstats`), each
side resampled on its own with a fixed seed.

**Verdict.** A change is called only when all three hold: the two-sided Mann-Whitney U test
on the units rejects "same distribution" at ``alpha``; the bootstrap interval of the ratio
excludes 1; and ``|ratio - 1| >= min_effect``. The default minimum effect comes from the
measured noise: ``max(1 %, K * se)`` where ``se`` is the standard error of the log ratio from
the spread of the per-process medians, so a noisier benchmark needs a larger change before
it fails a build, and a quiet one can catch small ones.

**Calibration** (``tests/unit/stats/test_gate.py``, seeded, 10 processes x 3 values each
side, the runner's default): A/A false alarms over 500 pairs each of log-normal, bimodal
and outlier-laden distributions with a between-process offset were at most
:data:`MEASURED_FPR`; a 5 % slowdown at 2 % CV was caught in :data:`MEASURED_POWER` of 500 pairs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

from perflab.stats.benchstats import clean_groups, hierarchical_medians

__all__ = [
    "ALPHA",
    "MIN_EFFECT_FLOOR",
    "MIN_UNITS",
    "NOISE_QUANTILE",
    "GateResult",
    "Verdict",
    "compare_groups",
    "default_min_effect",
]

FloatArray = npt.NDArray[np.float64]
Verdict = Literal["faster", "slower", "no_change"]

ALPHA = 0.05
MIN_EFFECT_FLOOR = 0.01
NOISE_QUANTILE = 0.999
MIN_UNITS = 3
MEASURED_FPR = "0.4 %"
MEASURED_POWER = "99.6 %"


@dataclass(frozen=True)
class GateResult:
    """One benchmark's comparison; ``base``/``candidate`` are the pooled medians."""

    base: float
    candidate: float
    ratio: float
    ci_low: float
    ci_high: float
    p_value: float
    min_effect: float
    verdict: Verdict
    units: Literal["processes", "values"]
    n_base: int
    n_candidate: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _units(groups: Sequence[FloatArray]) -> tuple[FloatArray, Literal["processes", "values"]]:
    if len(groups) >= MIN_UNITS:
        return np.array([np.median(g) for g in groups]), "processes"
    return np.concatenate(groups), "values"


def default_min_effect(base_units: FloatArray, cand_units: FloatArray) -> float:
    """``max(1 %, t * se(log ratio))`` from the units' spread: the noise-derived threshold.

    ``t`` is Student's quantile at :data:`NOISE_QUANTILE` with Welch-Satterthwaite degrees of
    freedom: with 6 processes a side the spread itself is estimated from few units, and a
    fixed multiplier would let the unlucky pairs whose spread looks small through.
    """
    sides = [units for units in (base_units, cand_units) if units.size > 1]
    parts = [float(np.var(np.log(units), ddof=1)) / units.size for units in sides]
    var = sum(parts)
    if var <= 0:
        return MIN_EFFECT_FLOOR
    df = var**2 / sum(part**2 / (units.size - 1) for part, units in zip(parts, sides, strict=True))
    k = float(sps.t.ppf(NOISE_QUANTILE, df))
    return max(MIN_EFFECT_FLOOR, math.expm1(k * math.sqrt(var)))


def compare_groups(
    base: Sequence[Sequence[float]],
    candidate: Sequence[Sequence[float]],
    *,
    min_effect: float | None = None,
    alpha: float = ALPHA,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> GateResult:
    """Compare per-process value groups of base and candidate (NaN/inf/<=0 values dropped).

    Raises :class:`perflab.stats.benchstats.EmptySamples` when a side has no usable value.
    """
    base_groups, _ = clean_groups(base)
    cand_groups, _ = clean_groups(candidate)
    base_units, base_kind = _units(base_groups)
    cand_units, cand_kind = _units(cand_groups)
    kind: Literal["processes", "values"] = (
        "processes" if base_kind == cand_kind == "processes" else "values"
    )
    if kind == "values":  # both sides must use the same kind of unit
        base_units, cand_units = np.concatenate(base_groups), np.concatenate(cand_groups)
    base_med = float(np.median(np.concatenate(base_groups)))
    cand_med = float(np.median(np.concatenate(cand_groups)))
    ratio = cand_med / base_med
    rng = np.random.default_rng(seed)
    boots = hierarchical_medians(cand_groups, resamples, rng) / hierarchical_medians(
        base_groups, resamples, rng
    )
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = (float(x) for x in np.percentile(boots, [tail, 100.0 - tail]))
    if base_units.size + cand_units.size > 2 and np.ptp(np.concatenate([base_units, cand_units])):
        p_value = float(sps.mannwhitneyu(cand_units, base_units, alternative="two-sided").pvalue)
    else:
        p_value = 1.0
    effect = default_min_effect(base_units, cand_units) if min_effect is None else min_effect
    significant = p_value < alpha and not low <= 1.0 <= high and abs(ratio - 1.0) >= effect
    verdict: Verdict = "no_change"
    if significant:
        verdict = "slower" if ratio > 1.0 else "faster"
    return GateResult(
        base=base_med,
        candidate=cand_med,
        ratio=ratio,
        ci_low=min(low, ratio),
        ci_high=max(high, ratio),
        p_value=p_value,
        min_effect=effect,
        verdict=verdict,
        units=kind,
        n_base=int(base_units.size),
        n_candidate=int(cand_units.size),
    )
