"""Comparing shares of two independent samples, with false-discovery control across many.

These are the statistics behind differential profiles (:mod:`perflab.profile.diff`): a
sampling profiler's profile is ``n`` samples, and a function's share is the fraction of them
that were in it. Two profiles are two independent samples, so "did this share change?" is the
textbook comparison of two binomial proportions; a profile has hundreds of functions, so the
comparisons are corrected as a family.

**Two-proportion z test** (pooled): under ``H0: p1 == p2`` both samples estimate one
``p = (x1 + x2) / (n1 + n2)``, and ``z = (x1/n1 - x2/n2) / sqrt(p (1 - p) (1/n1 + 1/n2))`` is
asymptotically standard normal. ``z**2`` is Pearson's chi-square statistic of the 2x2 table
without Yates' correction, which is how the tests check it. It is accurate when every
expected count is about 5 or more; below that it is somewhat anti-conservative, which the
callers cover with a minimum effect (a share of a handful of samples cannot move by a
percentage point without a large count change).

**Ratio z test** (Katz's log method): ``H0: p2 / p1 == r``, on ``log(p2/p1)`` with the
delta-method variance ``1/x1 - 1/n1 + 1/x2 - 1/n2``; a zero count is replaced by one half
(Haldane), so a function that appears on one side only still gets a finite, conservative
statistic. Inverting it gives the interval of :func:`scipy.stats.contingency.relative_risk`.

**Benjamini-Hochberg** adjusted p-values (q values): rejecting ``q <= alpha`` keeps the
expected share of false discoveries at or below ``alpha`` under independence or positive
dependence, and when every null is true (an A/A comparison) the false discovery rate *is* the
chance of any false alarm, so an A/A pair raises one with probability at most ``alpha``.

**Holm** adjusted p values keep the chance of any false rejection at or below ``alpha``
under any dependence: stricter than BH, for a claim where one false call misleads.

**Common ratio** (the idea of DESeq's and edgeR's normalizations, Anders & Huber 2010,
Robinson & Oshlack 2010): shares are compositional (they sum to one), so when one category
grows every other share shrinks although nothing else changed. Assuming most of the mass did
not change, the categories whose ratio agrees with the weighted median estimate the common
factor by which the unchanged categories' shares moved; a share that moved by that factor
only moved because others did.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

__all__ = ["benjamini_hochberg", "common_ratio", "holm", "ratio_ztest", "two_proportion_ztest"]

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike


def two_proportion_ztest(
    x1: ArrayLike, n1: ArrayLike, x2: ArrayLike, n2: ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Pooled z of ``x2/n2 - x1/n1`` and its two-sided p value, element-wise.

    The sign is that of ``p2 - p1`` (positive: the second sample's share is larger). A pooled
    share of 0 or 1 carries no evidence either way: z is 0 and p is 1.
    """
    a, b = np.asarray(x1, dtype=float), np.asarray(x2, dtype=float)
    m, n = np.asarray(n1, dtype=float), np.asarray(n2, dtype=float)
    if np.any(a < 0) or np.any(b < 0) or np.any(a > m) or np.any(b > n):
        raise ValueError("counts must lie between 0 and their sample sizes")
    pooled = (a + b) / (m + n)
    se = np.sqrt(pooled * (1.0 - pooled) * (1.0 / m + 1.0 / n))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, (b / n - a / m) / np.where(se > 0, se, 1.0), 0.0)
    p = 2.0 * sps.norm.sf(np.abs(z))
    return np.asarray(z, dtype=float), np.asarray(p, dtype=float)


def ratio_ztest(
    x1: ArrayLike,
    n1: ArrayLike,
    x2: ArrayLike,
    n2: ArrayLike,
    ratio: ArrayLike = 1.0,
    ratio_variance: ArrayLike = 0.0,
) -> tuple[FloatArray, FloatArray]:
    """z of ``log((x2/n2) / (x1/n1)) - log(ratio)`` and its two-sided p value, element-wise.

    ``ratio_variance`` is the variance of ``log(ratio)`` when the ratio is itself estimated
    (:func:`common_ratio`), added to the statistic's. Zero counts become one half (Haldane's
    correction) in both the estimate and its variance.
    """
    a, b = np.asarray(x1, dtype=float), np.asarray(x2, dtype=float)
    m, n = np.asarray(n1, dtype=float), np.asarray(n2, dtype=float)
    if np.any(m <= 0) or np.any(n <= 0):
        raise ValueError("sample sizes must be positive")
    a, b = np.where(a > 0, a, 0.5), np.where(b > 0, b, 0.5)
    var = np.maximum(1.0 / a - 1.0 / m + 1.0 / b - 1.0 / n, 0.0)
    var = var + np.asarray(ratio_variance, dtype=float)
    log_change = np.log(b / n) - np.log(a / m) - np.log(np.asarray(ratio, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(var > 0, log_change / np.sqrt(np.where(var > 0, var, 1.0)), 0.0)
    p = 2.0 * sps.norm.sf(np.abs(z))
    return np.asarray(z, dtype=float), np.asarray(p, dtype=float)


def benjamini_hochberg(p_values: ArrayLike) -> FloatArray:
    """Benjamini-Hochberg adjusted p values, in the input's order (empty in, empty out).

    ``q[i] = min over j with p[j] >= p[i] of p[j] * m / rank(j)``, capped at 1: the step-up
    procedure at level ``alpha`` rejects exactly the hypotheses with ``q <= alpha``.
    """
    p = _p_array(p_values)
    if p.size == 0:
        return p
    order = np.argsort(p)
    scaled = p[order] * p.size / np.arange(1, p.size + 1)
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    q = np.empty_like(p)
    q[order] = np.minimum(adjusted, 1.0)
    return q


def holm(p_values: ArrayLike) -> FloatArray:
    """Holm's step-down adjusted p values, in the input's order (empty in, empty out).

    ``q[i] = max over j with p[j] <= p[i] of p[j] * (m - rank(j) + 1)``, capped at 1: rejecting
    ``q <= alpha`` keeps the chance of *any* false rejection at or below ``alpha`` whatever
    the dependence, for claims where one false call is already misleading.
    """
    p = _p_array(p_values)
    if p.size == 0:
        return p
    order = np.argsort(p)
    adjusted = np.maximum.accumulate(p[order] * np.arange(p.size, 0, -1))
    q = np.empty_like(p)
    q[order] = np.minimum(adjusted, 1.0)
    return q


def common_ratio(
    x1: ArrayLike, n1: float, x2: ArrayLike, n2: float, band: float = 2.5
) -> tuple[float, float]:
    """The factor by which the shares of unchanged categories moved, and the variance of its log.

    Start from the weighted median of the per-category log ratios ``log((x2/n2) / (x1/n1))``
    (weights ``x1 + x2``, so the categories that carry the mass decide); keep the categories
    whose log ratio lies within ``band`` of their own standard errors of it (the ones that
    really changed lie outside), and re-centre on their pooled ratio, twice. Pooling makes
    the estimate about as precise as the mass it keeps, where the median alone is as noisy as
    one category; selecting by each category's own noise, rather than trimming a fixed share
    from both ends, keeps it unbiased when the changed categories all lie on one side. The
    variance is the delta method's ``1/X1 - 1/N1 + 1/X2 - 1/N2`` of the pooled counts.
    Zero counts become one half. ``(1.0, 0.0)`` when there is nothing to compare.
    """
    if band <= 0:
        raise ValueError("band must be positive")
    a, b = np.asarray(x1, dtype=float).ravel(), np.asarray(x2, dtype=float).ravel()
    weights = a + b
    keep = weights > 0
    if not np.any(keep) or n1 <= 0 or n2 <= 0:
        return 1.0, 0.0
    a, b, weights = np.where(a > 0, a, 0.5)[keep], np.where(b > 0, b, 0.5)[keep], weights[keep]
    log_ratios = np.log(b / n2) - np.log(a / n1)
    se = np.sqrt(np.maximum(1.0 / a - 1.0 / n1 + 1.0 / b - 1.0 / n2, 0.0))
    order = np.argsort(log_ratios, kind="stable")
    median_at = order[int(np.searchsorted(np.cumsum(weights[order]), weights.sum() / 2.0))]
    center, kept = float(log_ratios[median_at]), np.array([median_at])
    for _ in range(2):
        inside = np.flatnonzero(np.abs(log_ratios - center) <= band * se)
        kept = inside if inside.size else np.array([median_at])
        center = float(np.log(b[kept].sum() / n2) - np.log(a[kept].sum() / n1))
    pooled1, pooled2 = float(a[kept].sum()), float(b[kept].sum())
    variance = max(1.0 / pooled1 - 1.0 / n1 + 1.0 / pooled2 - 1.0 / n2, 0.0)
    return float(np.exp(center)), variance


def _p_array(p_values: ArrayLike) -> FloatArray:
    p = np.asarray(p_values, dtype=float).ravel()
    if np.any(np.isnan(p)) or np.any(p < 0) or np.any(p > 1):
        raise ValueError("p values must lie in [0, 1]")
    return p
