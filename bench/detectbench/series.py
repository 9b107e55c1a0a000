"""Generated series with known change points, shaped like benchmark histories.

Each :class:`Case` holds positive values (latency-like: a base level times log-normal noise)
and one or more annotators' sets of true change points (index = first point of the new
level). Annotators differ where a human would: on a gradual ramp (start, middle or end) and
on a shift smaller than 1.5 noise standard deviations (one of them does not mark it).
Drifts, variance changes, outlier spikes and bursts, short dips, bimodality and quantization
are *not* change points. Everything is drawn from ``numpy.random.default_rng(seed)``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

Rng = np.random.Generator


@dataclass
class Case:
    kind: str
    values: np.ndarray
    annotations: list[list[int]] = field(default_factory=list)


def _positions(rng: Rng, n: int, count: int, gap: int) -> list[int]:
    """``count`` change points at least ``gap`` apart and from the ends."""
    for _ in range(200):
        points = sorted(int(p) for p in rng.integers(gap, n - gap + 1, size=count))
        if all(b - a >= gap for a, b in itertools.pairwise(points)):
            return points
    return [n // 2]


def _levels(rng: Rng, points: list[int], n: int, low: float, high: float) -> np.ndarray:
    """A log-level per point, shifting by +-[low, high] (relative) at each of ``points``."""
    level = np.zeros(n)
    current = 0.0
    for p in points:
        current += np.log1p(rng.uniform(low, high)) * rng.choice([-1.0, 1.0])
        level[p:] = current
    return level


def _series(rng: Rng, level: np.ndarray, cv: float) -> np.ndarray:
    base = rng.uniform(0.5, 500.0)
    return base * np.exp(level + rng.normal(0.0, cv, len(level)))


def _spikes(rng: Rng, x: np.ndarray, rate: float, burst: bool = False) -> np.ndarray:
    x = x.copy()
    for i in np.flatnonzero(rng.random(len(x)) < rate):
        width = int(rng.integers(1, 4)) if burst else 1
        x[i : i + width] *= 1.0 + rng.uniform(0.3, 3.0)
    return x


def _small_aware(points: list[int], shifts: list[float], cv: float) -> list[list[int]]:
    seen = [p for p, s in zip(points, shifts, strict=True) if abs(s) >= 1.5 * cv]
    return [points, seen] if seen != points else [points]


def step(rng: Rng) -> Case:
    n = int(rng.integers(100, 400))
    points = _positions(rng, n, int(rng.integers(1, 4)), 20)
    x = _series(rng, _levels(rng, points, n, 0.10, 0.30), 0.02)
    return Case("step", x, [points])


def small(rng: Rng) -> Case:
    n = int(rng.integers(200, 800))
    cv = rng.uniform(0.01, 0.05)
    points = _positions(rng, n, int(rng.integers(1, 3)), 60)
    level = _levels(rng, points, n, 0.03, 0.10)
    shifts = [float(level[p] - level[p - 1]) for p in points]
    return Case("small", _series(rng, level, cv), _small_aware(points, shifts, cv))


def outliers(rng: Rng) -> Case:
    n = int(rng.integers(100, 500))
    points = _positions(rng, n, int(rng.integers(0, 3)), 30) if rng.random() < 0.7 else []
    x = _series(rng, _levels(rng, points, n, 0.10, 0.20), 0.02)
    return Case("outliers", _spikes(rng, x, 0.03), [points])


def bimodal(rng: Rng) -> Case:
    n = int(rng.integers(150, 500))
    points = _positions(rng, n, int(rng.integers(1, 3)), 30)
    level = _levels(rng, points, n, 0.08, 0.20)
    level += np.where(rng.random(n) < 0.3, np.log(1.12), 0.0)
    return Case("bimodal", _series(rng, level, 0.015), [points])


def drift(rng: Rng) -> Case:
    n = int(rng.integers(200, 1000))
    total = rng.uniform(0.10, 0.30) * rng.choice([-1.0, 1.0])
    shape = np.linspace(0, 1, n) if rng.random() < 0.5 else np.sin(np.linspace(0, np.pi, n))
    points = _positions(rng, n, 1, 50) if rng.random() < 0.5 else []
    level = np.log1p(total) * shape + _levels(rng, points, n, 0.10, 0.20)
    return Case("drift", _series(rng, level, 0.02), [points])


def ramp(rng: Rng) -> Case:
    n = int(rng.integers(150, 500))
    start = int(rng.integers(40, n - 60))
    width = int(rng.integers(6, 20))
    size = np.log1p(rng.uniform(0.10, 0.25)) * rng.choice([-1.0, 1.0])
    level = np.clip((np.arange(n) - start) / width, 0, 1) * size
    truth = [[start], [start + width // 2], [start + width]]
    return Case("ramp", _series(rng, level, 0.02), truth)


def short(rng: Rng) -> Case:
    n = int(rng.integers(20, 61))
    points = [int(rng.integers(8, n - 7))] if rng.random() < 0.6 else []
    x = _series(rng, _levels(rng, points, n, 0.10, 0.30), rng.uniform(0.02, 0.03))
    return Case("short", x, [points])


def long(rng: Rng) -> Case:
    n = int(rng.choice([2000, 5000, 10000]))
    cv = rng.uniform(0.02, 0.04)
    points = _positions(rng, n, int(rng.integers(3, 9)), 150)
    level = _levels(rng, points, n, 0.03, 0.15)
    shifts = [float(level[p] - level[p - 1]) for p in points]
    x = _spikes(rng, _series(rng, level, cv), 0.01)
    return Case("long", x, _small_aware(points, shifts, cv))


def noise(rng: Rng) -> Case:
    n = int(rng.choice([30, 100, 300, 1000, 5000]))
    x = _spikes(rng, _series(rng, np.zeros(n), rng.uniform(0.01, 0.05)), 0.01)
    if rng.random() < 0.5:
        x = np.round(x, 1 - int(np.floor(np.log10(np.median(x)))))  # 2 significant digits
    return Case("noise", x, [[]])


def variance(rng: Rng) -> Case:
    n = int(rng.integers(200, 800))
    at = int(rng.integers(50, n - 50))
    cv = np.where(np.arange(n) < at, 0.01, rng.uniform(0.03, 0.05))
    x = rng.uniform(1, 100) * np.exp(rng.normal(0.0, 1.0, n) * cv)
    return Case("variance", x, [[]])


def history(rng: Rng) -> Case:
    """A nightly-benchmark-like history: everything at once, a few real shifts."""
    n = int(rng.integers(80, 1500))
    cv = rng.uniform(0.02, 0.04)
    points = _positions(rng, n, int(rng.integers(0, 4)), 25)
    level = _levels(rng, points, n, 0.04, 0.20)
    level += np.cumsum(rng.normal(0.0, cv / 25, n))  # slow wander of the machine
    if rng.random() < 0.4:
        level += np.where(rng.random(n) < 0.2, np.log(1.08), 0.0)  # second mode
    for dip in rng.integers(0, n - 3, size=int(rng.integers(0, 3))):
        level[dip : dip + 3] -= np.log(1.15)  # a short excursion, not a new level
    x = _spikes(rng, _series(rng, level, cv), 0.02, burst=True)
    x = np.round(x, 2 - int(np.floor(np.log10(np.median(x)))))  # 3 significant digits
    shifts = [float(level[p] - level[p - 1]) for p in points]
    return Case("history", x, _small_aware(points, shifts, cv))


KINDS: dict[str, Callable[[Rng], Case]] = {
    f.__name__: f
    for f in (step, small, outliers, bimodal, drift, ramp, short, long, noise, variance, history)
}


def cases(per_kind: int = 20, seed: int = 20240501) -> Iterator[Case]:
    """``per_kind`` cases of every kind; the same cases for the same seed."""
    for offset, make in enumerate(KINDS.values()):
        rng = np.random.default_rng([seed, offset])
        for _ in range(per_kind):
            yield make(rng)
