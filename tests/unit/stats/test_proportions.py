"""perflab.stats.proportions against scipy's independent implementations and known values."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps
from scipy.stats.contingency import relative_risk

from perflab.stats.proportions import (
    benjamini_hochberg,
    common_ratio,
    holm,
    ratio_ztest,
    two_proportion_ztest,
)


@pytest.mark.parametrize(
    ("x1", "n1", "x2", "n2"),
    [(200, 2000, 400, 2000), (31, 1000, 17, 800), (5, 60, 0, 40), (990, 1000, 950, 1000)],
)
def test_z_squared_is_pearsons_chi_square_without_yates(x1: int, n1: int, x2: int, n2: int) -> None:
    table = np.array([[x1, n1 - x1], [x2, n2 - x2]])
    chi2, p_chi2, _, _ = sps.chi2_contingency(table, correction=False)
    z, p = two_proportion_ztest(x1, n1, x2, n2)
    assert float(z) ** 2 == pytest.approx(chi2, rel=1e-9)
    assert float(p) == pytest.approx(p_chi2, rel=1e-9)
    assert np.sign(z) == np.sign(x2 / n2 - x1 / n1)


def test_two_proportion_known_value_and_vectorized() -> None:
    # 10 % vs 20 % of 2,000: pooled 15 %, se = sqrt(.15 * .85 * 2 / 2000) = 0.011292
    z, p = two_proportion_ztest([200, 300], 2000, [400, 300], 2000)
    assert z[0] == pytest.approx(0.1 / np.sqrt(0.15 * 0.85 * 2 / 2000), rel=1e-12)
    assert z[0] == pytest.approx(8.8561, abs=1e-4)
    assert p[0] < 1e-17
    assert (z[1], p[1]) == (0.0, 1.0)


def test_no_evidence_when_nothing_or_everything_is_in_the_category() -> None:
    z, p = two_proportion_ztest([0, 50], [100, 50], [0, 70], [200, 70])
    assert list(z) == [0.0, 0.0] and list(p) == [1.0, 1.0]
    with pytest.raises(ValueError, match="between 0"):
        two_proportion_ztest(5, 4, 1, 10)


def test_ratio_test_inverts_scipys_katz_interval() -> None:
    """The ends of scipy's 95 % relative-risk interval are exactly where the test has p = 0.05."""
    result = relative_risk(30, 200, 20, 200)  # candidate 30/200 vs base 20/200
    ci = result.confidence_interval(0.95)
    z, p = ratio_ztest(20, 200, 30, 200, [ci.low, ci.high, result.relative_risk])
    np.testing.assert_allclose(p, [0.05, 0.05, 1.0], rtol=1e-9)
    assert z[0] > 0 > z[1]


def test_ratio_test_widens_by_the_variance_of_an_estimated_ratio() -> None:
    z_known, _ = ratio_ztest(100, 1000, 150, 1000)
    var = 1 / 100 - 1 / 1000 + 1 / 150 - 1 / 1000
    z_estimated, _ = ratio_ztest(100, 1000, 150, 1000, 1.0, var)  # doubles the variance
    assert float(z_estimated) == pytest.approx(float(z_known) / np.sqrt(2.0), rel=1e-12)


def test_ratio_test_survives_a_zero_count_conservatively() -> None:
    z, p = ratio_ztest(0, 1000, 40, 1000)
    z_shares, _ = two_proportion_ztest(0, 1000, 40, 1000)
    assert np.isfinite(z) and 0 < z < z_shares and p < 0.01


def test_benjamini_hochberg_matches_scipy() -> None:
    rng = np.random.default_rng(11)
    for size in (1, 2, 7, 50, 300):
        p = np.concatenate([rng.uniform(size=size), rng.uniform(0, 1e-3, size=size // 3)])
        np.testing.assert_allclose(
            benjamini_hochberg(p), sps.false_discovery_control(p, method="bh"), rtol=1e-12
        )
    assert benjamini_hochberg([]).size == 0
    with pytest.raises(ValueError):
        benjamini_hochberg([0.2, 1.5])


def test_holm_known_values() -> None:
    # sorted 0.005, 0.01, 0.03, 0.04 -> 0.02, 0.03, 0.06, max(0.06, 0.04)
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm([0.5, 0.9]), [1.0, 1.0])


def test_holm_is_never_more_lenient_than_bh_nor_than_the_raw_p() -> None:
    p = np.random.default_rng(5).uniform(0, 0.2, size=40)
    assert np.all(holm(p) >= benjamini_hochberg(p) - 1e-15)
    assert np.all(benjamini_hochberg(p) >= p)


def test_common_ratio_ignores_the_category_that_changed() -> None:
    """Shares of 10 categories of 10 %: one doubles, the other nine each fall to 8/9 of theirs."""
    base = np.full(10, 10_000.0)
    cand = np.array([20_000.0] + [80_000.0 / 9] * 9)
    ratio, variance = common_ratio(base, 100_000, cand, 100_000)
    assert ratio == pytest.approx(8 / 9, rel=1e-9)
    pooled_base, pooled_cand = 90_000.0, 80_000.0
    assert variance == pytest.approx(
        1 / pooled_base - 1 / 100_000 + 1 / pooled_cand - 1 / 100_000, rel=1e-9
    )


def test_common_ratio_is_unbiased_and_its_variance_honest_on_multinomial_draws() -> None:
    """A 10 % category doubles; the rest shrink by 8/9. The estimates over 400 seeded pairs
    centre on 8/9, and spread about as much as the stated variance says."""
    rng = np.random.default_rng(2024)
    p_base = np.array([0.10, 0.20, 0.15, 0.20, 0.10, 0.12, 0.08, 0.05])
    p_cand = np.concatenate([[0.20], p_base[1:] * 0.8 / 0.9])
    logs, stated = [], []
    for _ in range(400):
        ratio, variance = common_ratio(
            rng.multinomial(2000, p_base), 2000, rng.multinomial(2000, p_cand), 2000
        )
        logs.append(np.log(ratio))
        stated.append(variance)
    assert abs(np.mean(logs) - np.log(8 / 9)) < 3 * np.std(logs) / np.sqrt(len(logs))
    assert 0.7 < np.std(logs) / np.sqrt(np.mean(stated)) < 1.6


def test_common_ratio_without_data_is_neutral() -> None:
    assert common_ratio([0, 0], 10, [0, 0], 10) == (1.0, 0.0)
    with pytest.raises(ValueError):
        common_ratio([1], 10, [1], 10, band=0)
