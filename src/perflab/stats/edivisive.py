"""E-divisive means (Matteson & James 2014), the change-point search of Otava and Hunter.

The divergence of a split ``x[:t] | x[t:]`` (exponent 1) is

    Q(t) = m k / (m + k) * (2/(m k) * sum|a - b| - sum|a - a'| / C(m,2) - sum|b - b'| / C(k,2))

with ``m = t``, ``k = n - t``, ``a`` left, ``b`` right. Every pair sum follows from the prefix
sums ``W[t] = sum_{i<j<t} |x_i - x_j|`` of the series and of its reverse, so all ``n - 1``
splits cost one pass. ``W`` is computed exactly in blocks of ``B ~ sqrt(n)``: each block is
sorted once and ``searchsorted`` gives every later point's distance sum to it; pairs inside
a block come from a ``B x B`` matrix. That is ``O(n^1.5)`` work done by numpy, about 20 ms
for 10,000 points, instead of the ``O(n^2)`` distance matrix.

Significance follows Otava's variant of the paper's permutation test: the best split of the
best segment is kept while Welch's t-test between its two sides gives ``p <= alpha``.
"""

from __future__ import annotations

import itertools

import numpy as np
from numpy.typing import NDArray
from scipy import stats

FloatArray = NDArray[np.float64]


def prefix_pair_sums(x: FloatArray) -> FloatArray:
    """``W[t] = sum_{i<j<t} |x_i - x_j|`` for ``t = 0..n`` (length ``n + 1``)."""
    n = len(x)
    if n < 2:
        return np.zeros(n + 1)
    block = max(8, int(np.sqrt(n)))
    earlier = np.zeros(n)  # sum over i < j of |x_j - x_i|, built block by block
    for start in range(0, n - block, block):
        stop = start + block
        ordered = np.sort(x[start:stop])
        cum = np.concatenate(([0.0], np.cumsum(ordered)))
        later = x[stop:]
        below = np.searchsorted(ordered, later)
        sum_below = cum[below]
        earlier[stop:] += (
            later * below - sum_below + (cum[-1] - sum_below) - later * (len(ordered) - below)
        )
    blocks = -(-n // block)
    padded = np.full(blocks * block, np.nan)
    padded[:n] = x
    grid = padded.reshape(blocks, block)
    diffs = np.abs(grid[:, :, None] - grid[:, None, :])
    lower = np.tril(np.ones((block, block), dtype=bool), k=-1)
    within = np.nansum(np.where(lower, diffs, 0.0), axis=2).reshape(-1)[:n]
    return np.concatenate(([0.0], np.cumsum(earlier + within)))


def divergence(x: FloatArray, min_size: int = 2) -> FloatArray:
    """``Q(t)`` for every split ``t`` (index = first point of the right part); ``-inf`` where
    a side would be shorter than ``min_size``."""
    n = len(x)
    out = np.full(n + 1, -np.inf)
    lo, hi = max(2, min_size), n - max(2, min_size)
    if hi < lo:
        return out
    left = prefix_pair_sums(x)
    right = prefix_pair_sums(x[::-1])
    t = np.arange(lo, hi + 1)
    m, k = t.astype(float), (n - t).astype(float)
    within_left, within_right = left[t], right[n - t]
    cross = left[n] - within_left - within_right
    e = 2.0 * cross / (m * k) - within_left / (m * (m - 1) / 2) - within_right / (k * (k - 1) / 2)
    out[t] = m * k / (m + k) * e
    return out


def edivisive(x: FloatArray, *, alpha: float = 0.01, min_size: int = 5) -> list[int]:
    """Change points by E-divisive means, hierarchical, each split kept while significant."""
    n = len(x)
    found: list[int] = []
    best: dict[tuple[int, int], tuple[float, int]] = {}
    while True:
        bounds = [0, *sorted(found), n]
        for a, b in itertools.pairwise(bounds):
            if (a, b) not in best:
                q = divergence(x[a:b], min_size)
                at = int(np.argmax(q))
                best[(a, b)] = (float(q[at]), a + at)
        (a, b), (q_best, at) = max(best.items(), key=lambda item: item[1][0])
        if not np.isfinite(q_best):
            return sorted(found)
        if welch_pvalue(x[a:at], x[at:b]) > alpha:
            return sorted(found)
        found.append(at)
        del best[(a, b)]


def welch_pvalue(a: FloatArray, b: FloatArray) -> float:
    """Two-sided p-value of Welch's t-test; 0 for distinct constant samples."""
    va, vb = float(np.var(a, ddof=1)) / len(a), float(np.var(b, ddof=1)) / len(b)
    diff = abs(float(np.mean(a)) - float(np.mean(b)))
    if va + vb <= 0:
        return 0.0 if diff > 0 else 1.0
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    return float(2 * stats.t.sf(diff / np.sqrt(va + vb), dof))
