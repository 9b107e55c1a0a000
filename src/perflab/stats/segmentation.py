"""Candidate change points: PELT on a squared-error cost, plus ruptures' searches to compare.

All work on a prepared series (log scale, spikes clipped: see :mod:`perflab.stats.changepoint`)
and return sorted indices, each the first point of a new segment. The penalty of one more
change point is BIC-like, ``c * sigma^2 * log n``, with ``sigma`` the robust noise scale, so
defaults need no tuning per series.

ruptures' PELT recomputes a segment's cost from its points (about 9 s for 1,000 points), so
:func:`pelt` is our own: the same recursion and pruning (Killick et al. 2012) with ``O(1)``
costs from cumulative sums and the candidate set handled as one numpy array per step.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def noise_scale(z: FloatArray) -> float:
    """Robust standard deviation of the noise: MAD of first differences / sqrt(2).

    Differencing cancels level shifts and slow trends; the MAD ignores spikes. Quantized
    series (most differences 0) fall back to the mean absolute difference, then the std.
    """
    diffs = np.diff(z)
    if len(diffs) == 0:
        return 0.0
    mad = float(np.median(np.abs(diffs - np.median(diffs)))) * 1.4826
    if mad > 0:
        return float(mad / np.sqrt(2.0))
    mean_abs = float(np.mean(np.abs(diffs))) * np.sqrt(np.pi / 2)
    if mean_abs > 0:
        return float(mean_abs / np.sqrt(2.0))
    return float(np.std(z))


def penalty(n: int, sigma: float, factor: float) -> float:
    """The cost of one more change point: ``factor * sigma^2 * log n``."""
    return factor * max(sigma, 1e-12) ** 2 * float(np.log(max(n, 3)))


def pelt(z: FloatArray, pen: float, min_size: int = 5, *, grid: int = 2000) -> list[int]:
    """Exact penalized least-squares segmentation (PELT); segments at least ``min_size``.

    A series longer than ``grid`` points is first solved with boundaries on every ``jump``-th
    point (``jump = ceil(n / grid)``), then each boundary is moved to the best split within
    ``jump`` points of it: 10,000 points take about 0.1 s instead of 0.5 s.
    """
    n = len(z)
    if n < 2 * min_size:
        return []
    jump = max(1, -(-n // grid))
    s1 = np.concatenate(([0.0], np.cumsum(z)))
    s2 = np.concatenate(([0.0], np.cumsum(z * z)))
    best = np.full(n + 1, np.inf)
    best[0] = -pen
    last = np.zeros(n + 1, dtype=np.int64)
    admissible = np.zeros(0, dtype=np.int64)
    ends = [t for t in range(jump, n, jump) if t >= min_size] + [n]
    opened = [0] + [t for t in ends if t >= min_size and t < n]
    next_open = 0
    for t in ends:
        while next_open < len(opened) and opened[next_open] <= t - min_size:
            admissible = np.append(admissible, opened[next_open])
            next_open += 1
        if len(admissible) == 0:
            continue
        lengths = t - admissible
        sums = s1[t] - s1[admissible]
        costs = best[admissible] + (s2[t] - s2[admissible]) - sums * sums / lengths
        at = int(np.argmin(costs))
        best[t] = costs[at] + pen
        last[t] = admissible[at]
        admissible = admissible[costs <= best[t]]
    found: list[int] = []
    t = n
    while t > 0:
        t = int(last[t])
        if t > 0:
            found.append(t)
    found.sort()
    return _refine(z, found, jump, min_size) if jump > 1 else found


def _refine(z: FloatArray, found: list[int], jump: int, min_size: int) -> list[int]:
    """Each boundary moved to the best split within ``jump`` points, neighbours held."""
    out = list(found)
    for i, at in enumerate(out):
        a = out[i - 1] if i else 0
        b = out[i + 1] if i + 1 < len(out) else len(z)
        lo, hi = max(a, at - jump - min_size), min(b, at + jump + min_size)
        split, _ = best_split(z[lo:hi], min_size)
        if split > 0:
            out[i] = lo + split
    return out


def best_split(z: FloatArray, min_size: int = 2) -> tuple[int, float]:
    """The split of ``z`` that most reduces the squared error, and by how much."""
    n = len(z)
    if n < 2 * min_size:
        return -1, 0.0
    s1 = np.cumsum(z)
    t = np.arange(min_size, n - min_size + 1)
    left = s1[t - 1]
    right = s1[-1] - left
    gain = left**2 / t + right**2 / (n - t) - s1[-1] ** 2 / n
    at = int(np.argmax(gain))
    return int(t[at]), float(gain[at])


def ruptures_search(z: FloatArray, pen: float, min_size: int, how: str) -> list[int]:
    """ruptures' ``Binseg`` or ``Pelt`` (``how``) with the L2 cost, for comparison."""
    import ruptures as rpt  # imported on use: only the comparison methods need it

    algo = rpt.Binseg if how == "binseg" else rpt.Pelt
    if len(z) < 2 * min_size:
        return []
    ends = algo(model="l2", min_size=min_size, jump=1).fit(z).predict(pen=pen)
    return [int(e) for e in ends[:-1]]
