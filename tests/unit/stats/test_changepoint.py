"""Change points on seeded series: the algorithms against brute force and known answers."""

from __future__ import annotations

import numpy as np
import pytest

from perflab.stats.changepoint import (
    METHODS,
    DetectOptions,
    check_series,
    find_change_points,
    prepare,
    shift_pvalue,
    step_pvalue,
)
from perflab.stats.edivisive import divergence, edivisive, prefix_pair_sums
from perflab.stats.segmentation import best_split, noise_scale, pelt, ruptures_search


def _latency(levels: list[tuple[int, float]], cv: float = 0.02, seed: int = 0) -> np.ndarray:
    """Log-normal noise around ``level`` for ``count`` points, segment after segment."""
    rng = np.random.default_rng(seed)
    level = np.concatenate([np.full(count, value) for count, value in levels])
    return level * np.exp(rng.normal(0.0, cv, len(level)))


def test_prefix_pair_sums_match_brute_force() -> None:
    x = np.random.default_rng(1).normal(size=150)
    brute = [sum(abs(x[i] - x[j]) for j in range(t) for i in range(j)) for t in range(151)]
    np.testing.assert_allclose(prefix_pair_sums(x), brute, rtol=1e-12, atol=1e-9)


def test_divergence_matches_the_energy_statistic_by_hand() -> None:
    x = np.random.default_rng(2).normal(size=30)
    q = divergence(x, min_size=2)
    t = 11
    a, b = x[:t], x[t:]
    m, k = len(a), len(b)
    cross = np.abs(a[:, None] - b[None, :]).sum() * 2 / (m * k)
    within_a = np.abs(a[:, None] - a[None, :]).sum() / (m * (m - 1))
    within_b = np.abs(b[:, None] - b[None, :]).sum() / (k * (k - 1))
    assert q[t] == pytest.approx(m * k / (m + k) * (cross - within_a - within_b))
    assert q[1] == -np.inf and q[29] == -np.inf


def test_edivisive_finds_two_shifts() -> None:
    z = np.log(_latency([(80, 10.0), (50, 11.0), (70, 10.2)], seed=3))
    assert edivisive(z, alpha=0.001) == [80, 130]


def test_our_pelt_equals_ruptures_pelt() -> None:
    z = np.log(_latency([(60, 5.0), (40, 5.6), (50, 5.1)], cv=0.03, seed=4))
    pen = 3 * noise_scale(z) ** 2 * np.log(len(z))
    assert pelt(z, pen, 5) == ruptures_search(z, pen, 5, "pelt") == [60, 100]


def test_pelt_on_a_coarse_grid_still_lands_on_the_point() -> None:
    z = np.log(_latency([(3000, 10.0), (4000, 10.6)], cv=0.03, seed=5))
    pen = 5 * noise_scale(z) ** 2 * np.log(len(z))
    (found,) = pelt(z, pen, 5, grid=500)  # jump 14: refined to the exact index
    assert abs(found - 3000) <= 1


def test_best_split_and_noise_scale() -> None:
    z = np.r_[np.zeros(10), np.ones(5)]
    assert best_split(z, 2)[0] == 10
    rng = np.random.default_rng(6)
    noisy = rng.normal(0, 2.0, 5000) + np.r_[np.zeros(2500), np.full(2500, 50.0)]
    assert noise_scale(noisy) == pytest.approx(2.0, rel=0.05)  # the step does not count


@pytest.mark.parametrize("method", METHODS)
def test_a_clean_step_is_found_at_its_index(method: str) -> None:
    x = _latency([(70, 20.0), (50, 23.0)], seed=7)
    found = find_change_points(x, DetectOptions(method=method))
    assert [abs(c.index - 70) <= 1 for c in found] == [True]
    (c,) = found
    assert c.before == pytest.approx(np.median(x[: c.index]))
    assert c.after == pytest.approx(np.median(x[c.index :]))
    assert c.change_pct == pytest.approx(15.0, abs=2.0) and c.p_value < 1e-6


@pytest.mark.parametrize("method", ["edivisive", "pelt", "binseg"])
@pytest.mark.parametrize("seed", [10, 11, 12])
def test_pure_noise_has_no_change_point(method: str, seed: int) -> None:
    x = _latency([(400, 8.0)], cv=0.04, seed=seed)
    assert find_change_points(x, DetectOptions(method=method)) == []


@pytest.mark.parametrize("method", ["edivisive", "pelt"])
def test_a_slow_drift_is_not_a_change_point(method: str) -> None:
    rng = np.random.default_rng(13)
    x = np.exp(np.linspace(0, np.log(1.25), 600) + rng.normal(0, 0.02, 600))
    assert find_change_points(x, DetectOptions(method=method)) == []


@pytest.mark.parametrize("method", ["edivisive", "pelt"])
def test_outlier_spikes_are_not_change_points(method: str) -> None:
    x = _latency([(300, 12.0)], seed=14)
    x[[40, 41, 90, 150, 151, 152, 260]] *= 4.0
    assert find_change_points(x, DetectOptions(method=method)) == []


def test_a_step_on_a_drift_is_found() -> None:
    rng = np.random.default_rng(15)
    level = np.linspace(0, 0.2, 500) + np.where(np.arange(500) >= 300, np.log(1.15), 0.0)
    x = np.exp(level + rng.normal(0, 0.02, 500))
    assert [c.index for c in find_change_points(x)] == [300]


def test_ten_thousand_points_with_six_shifts() -> None:
    rng = np.random.default_rng(16)
    at = [1500, 3000, 4200, 6000, 7700, 9000]
    level = np.zeros(10_000)
    for i, p in enumerate(at):
        level[p:] += np.log(1.08) * (1 if i % 2 else -1)
    x = 20.0 * np.exp(level + rng.normal(0, 0.03, 10_000))
    found = [c.index for c in find_change_points(x)]
    assert len(found) == 6 and all(abs(f - p) <= 5 for f, p in zip(found, at, strict=True))


def test_step_pvalue_separates_a_step_from_a_drift() -> None:
    rng = np.random.default_rng(17)
    t = np.arange(120, dtype=float)
    drift = 0.01 * t + rng.normal(0, 0.05, 120)
    assert step_pvalue(drift[:60], drift[60:]) > 0.01
    assert shift_pvalue(drift[:60], drift[60:]) < 1e-10  # a rank test alone is fooled
    step = drift + np.where(t >= 60, 0.3, 0.0)
    assert step_pvalue(step[:60], step[60:]) < 1e-6


def test_min_change_drops_small_shifts() -> None:
    x = _latency([(300, 10.0), (300, 10.3)], cv=0.01, seed=18)
    assert len(find_change_points(x)) == 1
    assert find_change_points(x, DetectOptions(min_change=0.05)) == []


def test_prepare_logs_positive_series_and_clips_spikes() -> None:
    x = _latency([(100, 10.0)], seed=19)
    x[50] = 1000.0
    z = prepare(x)
    assert z[50] < np.log(12.0)
    assert np.allclose(prepare(np.r_[-1.0, x], "linear")[1:10], x[:9])
    with pytest.raises(ValueError, match="log scale"):
        prepare(np.r_[-1.0, x], "log")


@pytest.mark.parametrize(
    ("values", "message"),
    [([], "empty"), ([1.0, float("nan"), 2.0], "index 1"), ([3.0] * 9, "constant")],
)
def test_bad_series(values: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_series(values)


def test_a_short_series_and_a_piecewise_constant_one() -> None:
    x = _latency([(12, 30.0), (12, 36.0)], seed=20)
    assert [c.index for c in find_change_points(x)] == [12]
    flat = [1.0] * 20 + [2.0] * 20
    assert [c.index for c in find_change_points(flat)] == [20]
