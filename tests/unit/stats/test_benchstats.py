"""perflab.stats.benchstats against independent numpy computations, with fixed seeds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from perflab.stats.benchstats import (
    EmptySamples,
    hierarchical_medians,
    noise_warning,
    outlier_mask,
    samples_needed,
    summarize,
)


def test_summary_figures_match_numpy_on_the_pooled_values() -> None:
    rng = np.random.default_rng(1)
    groups = [rng.lognormal(-7.0, 0.05, size=5) for _ in range(6)]
    pooled = np.concatenate(groups)
    s = summarize(groups, seed=3)
    assert (s.n, s.processes, s.dropped) == (30, 6, 0)
    assert s.median == pytest.approx(float(np.median(pooled)))
    assert s.mean == pytest.approx(float(pooled.mean()))
    assert s.stdev == pytest.approx(float(np.std(pooled, ddof=1)))
    assert s.mad == pytest.approx(float(np.median(np.abs(pooled - np.median(pooled)))))
    assert s.cv == pytest.approx(s.stdev / s.mean)
    assert s.percentiles["p95"] == pytest.approx(float(np.percentile(pooled, 95)))
    assert s.ci_low < s.median < s.ci_high
    assert summarize(groups, seed=3) == s  # seeded: reproducible


def test_ci_of_the_median_covers_the_true_median_about_95_percent() -> None:
    rng = np.random.default_rng(7)
    true_median = math.exp(-7.0)
    covered = 0
    for i in range(200):
        offsets = rng.normal(0.0, 0.02, size=(10, 1))  # between-process variance
        groups = np.exp(-7.0 + offsets + rng.normal(0.0, 0.02, size=(10, 3)))
        s = summarize(list(groups), seed=i, resamples=500)
        covered += s.ci_low <= true_median <= s.ci_high
    assert 0.85 <= covered / 200 <= 0.99


def test_hierarchical_bootstrap_handles_uneven_groups() -> None:
    rng = np.random.default_rng(0)
    groups = [np.array([1.0, 1.0, 1.0]), np.array([2.0]), np.array([3.0, 3.0])]
    meds = hierarchical_medians(groups, 2000, rng)
    assert set(np.unique(meds)) <= {1.0, 1.5, 2.0, 2.5, 3.0}
    assert 1.0 in meds and 3.0 in meds


def test_outliers_are_counted_and_kept() -> None:
    values = [1.0, 1.01, 0.99, 1.02, 0.98, 1.0, 5.0]
    assert outlier_mask(values).tolist() == [False] * 6 + [True]
    s = summarize([values])
    assert s.outliers == 1 and s.max == 5.0 and s.n == 7


def test_nan_and_non_positive_values_are_dropped_and_counted() -> None:
    s = summarize([[1.0, float("nan"), 2.0], [float("inf"), -1.0], [3.0]])
    assert (s.n, s.dropped, s.processes) == (3, 3, 2)
    with pytest.raises(EmptySamples):
        summarize([[], [float("nan")]])


def test_noise_warning_estimates_the_samples_needed() -> None:
    assert samples_needed(30, 0.04, 0.02) == 120  # half-width ~ 1/sqrt(n)
    assert samples_needed(30, 0.01, 0.02) == 30
    rng = np.random.default_rng(2)
    noisy = summarize([rng.lognormal(0.0, 0.2, size=3) for _ in range(5)])
    warning = noise_warning(noisy, 0.01)
    assert warning is not None and "values" in warning and "more processes" in warning
    quiet = summarize([rng.lognormal(0.0, 0.001, size=3) for _ in range(5)])
    assert noise_warning(quiet, 0.01) is None
