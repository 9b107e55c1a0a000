"""Steadiness of per-second throughput: flat, drifting, noisy series and the hold bounds."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from perflab.capacity.steady import SteadyRule, assess, decide, excess_cv, theil_sen

RULE = SteadyRule(window_s=5, warmup_s=1, min_hold_s=6, max_hold_s=12, max_cv=0.1)


def test_theil_sen_matches_scipy() -> None:
    rng = np.random.default_rng(7)
    y = 3.0 * np.arange(12) + rng.normal(0, 2, 12)
    slope, low, high = theil_sen(list(y))
    ref = stats.theilslopes(y, np.arange(12), alpha=0.95)
    assert slope == pytest.approx(ref.slope)
    assert (low, high) == pytest.approx((ref.low_slope, ref.high_slope))


def test_excess_cv_discounts_poisson_noise() -> None:
    rng = np.random.default_rng(1)
    poisson = rng.poisson(20, 400).astype(float)
    assert excess_cv(list(poisson)) < 0.05  # raw CV is ~0.22: counting noise, not unsteadiness
    assert excess_cv([100.0, 200.0, 100.0, 200.0]) > 0.2


def test_flat_series_is_steady_after_the_minimum_hold() -> None:
    series = [40.0, 200, 199, 201, 200, 200, 199, 200]
    assert not decide(series[:5], RULE).stop  # not a full window after the warm-up yet
    decision = decide(series[:6], RULE)
    assert decision.stop and decision.verdict is not None and decision.verdict.steady
    assert (decision.verdict.first, decision.verdict.last) == (1, 5)


def test_ramp_is_not_steady_until_it_flattens() -> None:
    ramp = [20.0, 40, 60, 80, 100, 120, 140]
    verdict = assess(ramp, RULE)
    assert verdict is not None and not verdict.steady and "drifting" in verdict.reason
    assert not decide(ramp, RULE).stop
    settled = [*ramp, 150, 150, 151, 150, 149]
    decision = decide(settled, RULE)
    assert decision.stop and decision.verdict is not None and decision.verdict.steady


def test_noisy_series_is_not_steady_and_stops_at_max_hold() -> None:
    noisy = [100.0, 300, 100, 300, 100, 300, 100, 300, 100, 300, 100]
    verdict = assess(noisy, RULE)
    assert verdict is not None and not verdict.steady and "noisy" in verdict.reason
    assert not decide(noisy, RULE).stop
    last = decide([*noisy, 300], RULE)
    assert last.stop and last.verdict is not None and not last.verdict.steady


def test_bad_rule_is_refused() -> None:
    with pytest.raises(ValueError):
        SteadyRule(window_s=10, max_hold_s=5)
    with pytest.raises(ValueError):
        SteadyRule(window_s=2)
