"""Trend tests against brute force, scipy, exact enumeration and seeded simulation."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats as sps
from scipy.signal import lfilter

from perflab.stats.trend import (
    ar1_variance_factor,
    bin_medians,
    drift_test,
    mann_kendall_s,
    mann_kendall_var,
    theil_sen,
    trend_test,
)


def _ar1(n: int, phi: float, rng: np.random.Generator) -> np.ndarray:
    """Stationary AR(1) with unit innovations (500 burn-in steps forget the start)."""
    return lfilter([1.0], [1.0, -phi], rng.normal(size=n + 500))[500:]


def _brute_s(x: np.ndarray) -> int:
    n = len(x)
    return int(sum(np.sign(x[j] - x[i]) for i in range(n) for j in range(i + 1, n)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_s_equals_the_pairwise_sign_sum_with_ties(seed: int) -> None:
    x = np.round(np.random.default_rng(seed).normal(size=60), 1)  # rounding makes ties
    assert len(np.unique(x)) < len(x)
    assert mann_kendall_s(x) == _brute_s(x)
    assert mann_kendall_s(np.full(10, 3.0)) == 0


def test_var_s_equals_exact_enumeration_of_permutations() -> None:
    """Under H0 every ordering is equally likely: Var(S) over all orderings, ties included."""
    for values in ([1.0, 2, 3, 4, 5, 6], [1.0, 1, 2, 3, 3, 3, 4]):
        s_all = [_brute_s(np.array(p)) for p in set(itertools.permutations(values))]
        exact = float(np.mean(np.square(s_all)))  # E[S] = 0
        assert mann_kendall_var(values) == pytest.approx(exact, rel=1e-12)


def test_theil_sen_without_correction_is_scipys() -> None:
    rng = np.random.default_rng(3)
    t = np.sort(rng.uniform(0, 100, 80))
    x = 0.3 * t + rng.standard_t(3, 80) * 5
    ours = theil_sen(t, x, alpha=0.1)
    ref = sps.theilslopes(x, t, 0.9, method="joint")  # intercept: median(x - b t)
    np.testing.assert_allclose(
        ours, (ref.slope, ref.intercept, ref.low_slope, ref.high_slope), rtol=1e-12
    )


def test_ar1_factor_matches_the_model_on_a_long_series() -> None:
    """For AR(1), n/n* -> (1 + rho)/(1 - rho): 19 at rho = 0.9."""
    rng = np.random.default_rng(4)
    factor, rho = ar1_variance_factor(_ar1(5000, 0.9, rng))
    assert rho == pytest.approx(0.9, abs=0.02)
    assert factor == pytest.approx(19.0, rel=0.2)
    white, _ = ar1_variance_factor(rng.normal(size=5000))
    assert white == pytest.approx(1.0, abs=0.1)


def test_a_spike_does_not_switch_the_correction_off() -> None:
    """Rank-based rho: 2 % of huge spikes would halve a Pearson lag-1 estimate."""
    rng = np.random.default_rng(5)
    x = _ar1(2000, 0.9, rng)
    spiked = x + (rng.random(2000) < 0.02) * 200
    _, clean = ar1_variance_factor(x)
    _, with_spikes = ar1_variance_factor(spiked)
    d = spiked - spiked.mean()
    pearson = float(d[1:] @ d[:-1] / (d @ d))
    assert pearson < 0.5  # what a Pearson estimate would have used
    assert with_spikes == pytest.approx(clean, abs=0.08)


def test_false_positive_rate_on_flat_ar1_noise_is_near_alpha() -> None:
    """The simulation the correction is for: wandering but flat series (rho = 0.9, n = 300).

    Measured with 1000 series per cell: 0.053 (rho 0.9) and 0.076 (rho 0.95) with the
    correction, 0.64 and 0.77 without.
    """
    rng = np.random.default_rng(6)
    t = np.arange(300.0)
    runs = [(_ar1(300, 0.9, rng), t) for _ in range(300)]
    corrected = np.mean([trend_test(t, x).p_value < 0.05 for x, t in runs])
    plain = np.mean([trend_test(t, x, autocorrelation=False).p_value < 0.05 for x, t in runs])
    assert plain > 0.4  # the failure being corrected is real
    assert 0.02 <= corrected <= 0.09  # 0.05 +- 3 standard errors of 300 draws


def test_a_trend_buried_in_correlated_noise_is_found() -> None:
    """Growth of four marginal standard deviations over the window: power 0.99 measured."""
    rng = np.random.default_rng(7)
    n, phi = 300, 0.9
    t = np.arange(float(n))
    slope = 4 / math.sqrt(1 - phi**2) / n
    results = [trend_test(t, _ar1(n, phi, rng) + slope * t) for _ in range(100)]
    assert np.mean([r.p_increasing < 0.05 for r in results]) >= 0.9
    covered = np.mean([r.ci_low <= slope <= r.ci_high for r in results])
    assert covered >= 0.85  # a 95 % interval; the corrected variance keeps it honest


def test_trend_test_on_a_clean_line_and_a_constant() -> None:
    t = np.arange(50.0)
    up = trend_test(t, 2.0 * t + 1.0)
    assert up.slope == pytest.approx(2.0) and up.intercept == pytest.approx(1.0)
    assert up.s == 50 * 49 // 2 and up.p_increasing < 0.01
    flat = trend_test(t, np.full(50, 7.0))
    assert (flat.s, flat.p_value, flat.slope) == (0, 1.0, 0.0)


def test_drift_test_holds_alpha_on_a_random_walk_and_finds_a_drift() -> None:
    rng = np.random.default_rng(8)
    t = np.arange(100.0)
    null = [drift_test(t, np.cumsum(rng.normal(size=100))).p_increasing for _ in range(400)]
    assert np.mean(np.array(null) < 0.05) <= 0.08  # measured 0.044 with 500 walks
    stationary = [drift_test(t, _ar1(100, 0.5, rng)).p_increasing for _ in range(200)]
    assert np.mean(np.array(stationary) < 0.05) <= 0.05  # conservative there: measured 0
    walk = np.cumsum(rng.normal(0.5, 1.0, 100))
    assert drift_test(t, walk).p_increasing < 0.01


def test_drift_test_scales_irregular_steps() -> None:
    """Increments over longer gaps carry more noise; a clean line stays exact anyway."""
    t = np.cumsum(np.random.default_rng(9).uniform(0.5, 1.5, 40))
    result = drift_test(t, 3.0 * t)
    assert result.drift == pytest.approx(3.0)
    assert result.p_increasing == 0.0


def test_bin_medians_keeps_a_spike_in_its_bin() -> None:
    t = np.arange(1000.0)
    x = np.zeros(1000)
    x[500] = 1e9
    bt, bx = bin_medians(t, x, 100)
    assert len(bt) == len(bx) == 100
    assert bx.max() == 0.0  # a median ignores one spike out of ten points
    assert bt[0] == pytest.approx(4.5) and bt[-1] == pytest.approx(994.5)
    same_t, _ = bin_medians(t[:50], x[:50], 100)
    assert len(same_t) == 50


@pytest.mark.parametrize(
    ("t", "x"),
    [([0, 1], [1, 2]), ([0, 1, 2], [1, 2]), ([0, 2, 1], [1, 2, 3])],
)
def test_trend_test_rejects_bad_input(t: list[float], x: list[float]) -> None:
    with pytest.raises(ValueError):
        trend_test(t, x)
