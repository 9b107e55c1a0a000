"""Benchmark-like samples: per-process value groups, as ``perflab bench`` records them.

The same three shapes as ``tests/unit/stats/test_gate.py`` (not imported from there: a test
module is not a library), with the between-process offset the brief asks for, uniform in
0-3 %: every fresh interpreter lands on its own level (hash seed, memory layout, CPU
placement), and its values share it.

- ``lognormal``: 1.7 % log-normal noise within a process; with the offset, about 2 % CV.
- ``bimodal``: as lognormal, and 30 % of processes land in a mode 4 % slower.
- ``outliers``: as lognormal, and 5 % of values are spikes of 1.5-4x (GC pauses, interrupts).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

PROCESSES, VALUES = 10, 3  # perflab bench's defaults
Sampler = Callable[[np.random.Generator, float], npt.NDArray[np.float64]]


def lognormal(rng: np.random.Generator, scale: float) -> npt.NDArray[np.float64]:
    offset = 1.0 + rng.uniform(0.0, 0.03, size=(PROCESSES, 1))
    within = np.exp(rng.normal(0.0, 0.017, size=(PROCESSES, VALUES)))
    return scale * 1e-3 * offset * within


def bimodal(rng: np.random.Generator, scale: float) -> npt.NDArray[np.float64]:
    slow = rng.random((PROCESSES, 1)) < 0.3  # a process in the slow mode stays there
    return lognormal(rng, scale) * np.where(slow, 1.04, 1.0)


def outliers(rng: np.random.Generator, scale: float) -> npt.NDArray[np.float64]:
    values = lognormal(rng, scale)
    spikes = rng.random(values.shape) < 0.05
    return values * np.where(spikes, rng.uniform(1.5, 4.0, values.shape), 1.0)


SAMPLERS: dict[str, Sampler] = {"lognormal": lognormal, "bimodal": bimodal, "outliers": outliers}
