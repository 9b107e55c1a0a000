"""The gate's acceptance by simulation (issue 5 §2), plus its edge cases.

Benchmark-like samples: 10 worker processes x 3 values per side (the default), each
process with its own random offset (between-process variance), and three within-process
shapes: log-normal, a bimodal mixture (a process lands in a slow mode, as with an unlucky
memory layout), and log-normal with rare large outliers (GC pauses, interrupts). Seeded,
so the measured rates are exact for this code and fail loudly if the gate changes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from perflab.bench.runner import BenchSpec
from perflab.stats.benchstats import EmptySamples
from perflab.stats.gate import compare_groups

PROCESSES, VALUES, PAIRS = 10, 3, 500
Sampler = Callable[[np.random.Generator, float], np.ndarray]


def lognormal(rng: np.random.Generator, scale: float, between: float = 0.01) -> np.ndarray:
    offset = rng.normal(0.0, between, size=(PROCESSES, 1))
    return scale * 1e-3 * np.exp(offset + rng.normal(0.0, 0.017, size=(PROCESSES, VALUES)))


def bimodal(rng: np.random.Generator, scale: float) -> np.ndarray:
    slow = rng.random((PROCESSES, 1)) < 0.3  # a process in the slow mode stays there
    values = lognormal(rng, scale)
    return values * np.where(slow, 1.04, 1.0)


def with_outliers(rng: np.random.Generator, scale: float) -> np.ndarray:
    values = lognormal(rng, scale)
    spikes = rng.random(values.shape) < 0.05
    return values * np.where(spikes, rng.uniform(1.5, 4.0, values.shape), 1.0)


def _flag_rate(sampler: Sampler, slowdown: float, seed: int) -> tuple[float, str]:
    rng = np.random.default_rng(seed)
    verdicts = [
        compare_groups(
            sampler(rng, 1.0), sampler(rng, 1.0 + slowdown), seed=i, resamples=500
        ).verdict
        for i in range(PAIRS)
    ]
    changed = sum(v != "no_change" for v in verdicts)
    return changed / PAIRS, max(set(verdicts), key=verdicts.count)


@pytest.mark.parametrize("sampler", [lognormal, bimodal, with_outliers])
def test_aa_false_positive_rate_is_at_most_one_percent(sampler: Sampler) -> None:
    rate, _ = _flag_rate(sampler, 0.0, seed=11)
    print(f"A/A {sampler.__name__}: {rate:.1%}")
    assert rate <= 0.01


def test_a_five_percent_slowdown_at_two_percent_cv_is_caught() -> None:
    rng = np.random.default_rng(0)
    cv = float(np.std(np.concatenate([lognormal(rng, 1.0).ravel() for _ in range(200)])) / 1e-3)
    assert 0.017 < cv < 0.023  # the scenario really is "2 % CV"
    spec = BenchSpec()
    assert (spec.processes, spec.values) == (PROCESSES, VALUES)  # "at default settings"
    rate, common = _flag_rate(lognormal, 0.05, seed=12)
    print(f"power at +5%, 2% CV: {rate:.1%}")
    assert rate >= 0.95 and common == "slower"


def test_a_speedup_is_called_faster_with_a_ci_around_the_ratio() -> None:
    rng = np.random.default_rng(3)
    result = compare_groups(lognormal(rng, 1.0), lognormal(rng, 0.8))
    assert result.verdict == "faster"
    assert result.ci_low <= result.ratio <= result.ci_high < 1.0
    assert result.ratio == pytest.approx(0.8, rel=0.03)
    assert result.units == "processes" and result.p_value < 0.01


def test_pooling_values_as_independent_would_raise_false_alarms() -> None:
    """Why processes are the units: with a 3 % process offset, pooled values mislead."""
    rng = np.random.default_rng(5)
    pooled_flags = process_flags = 0
    for i in range(100):
        a, b = lognormal(rng, 1.0, between=0.03), lognormal(rng, 1.0, between=0.03)
        pooled = compare_groups([a.ravel()], [b.ravel()], seed=i, resamples=300)
        pooled_flags += pooled.verdict != "no_change"
        by_process = compare_groups(a, b, seed=i, resamples=300)
        process_flags += by_process.verdict != "no_change"
        assert (pooled.units, by_process.units) == ("values", "processes")
    print(f"A/A with a 3 % process offset: pooled {pooled_flags}%, by process {process_flags}%")
    assert pooled_flags >= 5 > 1 >= process_flags  # pooling would fail builds for nothing


def test_min_effect_override_and_identical_inputs() -> None:
    rng = np.random.default_rng(4)
    base, cand = lognormal(rng, 1.0), lognormal(rng, 1.03)
    assert compare_groups(base, cand, min_effect=0.10).verdict == "no_change"
    same = compare_groups(base, base)
    assert (same.verdict, same.ratio, same.p_value) == ("no_change", 1.0, 1.0)


def test_nan_values_are_dropped_and_empty_sides_raise() -> None:
    base = [[1.0, float("nan"), 1.1], [1.0, 1.05]]
    result = compare_groups(base, [[2.0, 2.1], [2.05, float("inf")]], min_effect=0.01)
    assert result.units == "values" and result.n_base == 4 and result.n_candidate == 3
    with pytest.raises(EmptySamples):
        compare_groups(base, [[float("nan")]])
