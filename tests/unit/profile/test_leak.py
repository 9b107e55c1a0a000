"""The leak verdict on synthetic memory series whose truth is known."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.signal import lfilter

from perflab.profile.leak import (
    MB,
    MIN_POINTS,
    default_warmup_s,
    format_p,
    format_rate,
    leak_verdict,
)

BASE = 80 * MB


def _wander(n: int, phi: float, sd_bytes: float, rng: np.random.Generator) -> np.ndarray:
    """AR(1) noise with the given marginal standard deviation."""
    innovations = rng.normal(0.0, sd_bytes * math.sqrt(1 - phi**2), n + 500)
    return lfilter([1.0], [1.0, -phi], innovations)[500:]


def _leaking(rate_per_hour: float, seed: int, minutes: int = 30) -> tuple[np.ndarray, ...]:
    """1 Hz RSS: start-up ramp, a leak that shows in 1 MiB allocator steps, wandering noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(minutes * 60.0)
    ramp = 30 * MB * (1 - np.exp(-t / 20.0))  # imports, pools, caches: not a leak
    leaked = np.floor(rate_per_hour * t / 3600 / 2**20) * 2**20  # grows in arena steps
    noise = _wander(len(t), 0.95, 2 * MB, rng)
    return t, BASE + ramp + leaked + noise


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_linear_growth_in_steps_under_noise_is_found(seed: int) -> None:
    t, rss = _leaking(50 * MB, seed)
    verdict = leak_verdict(t, rss)
    assert verdict.growing and verdict.status == "growing"
    assert verdict.slope_per_hour == pytest.approx(50 * MB, rel=0.10)
    assert verdict.ci_low < 50 * MB < verdict.ci_high
    assert verdict.warmup_s == pytest.approx(0.2 * 1799)  # a fifth of the 30 minutes
    assert verdict.text.startswith("+") and "MB/hour, p " in verdict.text


def test_flat_wandering_series_are_not_called_leaks() -> None:
    """rho = 0.97 at 1 Hz with 4 MB of wander: what a healthy Python server's RSS does."""
    rng = np.random.default_rng(10)
    t = np.arange(900.0)
    verdicts = [leak_verdict(t, BASE + _wander(900, 0.97, 4 * MB, rng)) for _ in range(40)]
    false_alarms = sum(v.growing for v in verdicts)
    assert false_alarms <= 4  # alpha = 0.05 of 40 is 2 (1 seen); the plain test flags 20
    assert all(v.text.startswith("no growth") for v in verdicts if not v.growing)


def test_growth_driven_by_a_request_count_is_found_in_a_short_run() -> None:
    """A leak per request carries the arrival count's noise: integrated, like a random walk.

    Mann-Kendall alone cannot reject here (about one effective sample in the levels); the
    drift test on increments can, and the verdict uses both.
    """
    rng = np.random.default_rng(11)
    t = np.arange(0.0, 12.0, 0.25)
    requests = np.cumsum(rng.poisson(200 * 0.25, len(t)))
    rss = BASE + 20_000 * requests
    verdict = leak_verdict(t, rss, warmup_s=2.0)
    designed = 200 * 20_000 * 3600
    assert verdict.growing
    assert verdict.slope_per_hour == pytest.approx(designed, rel=0.1)
    assert verdict.p_drift < 1e-6 and verdict.p_value == pytest.approx(2 * verdict.p_drift)


def test_allocator_noise_below_the_practical_floor_is_not_a_leak() -> None:
    """A few page-sized steps up in a quiet process are significant yet not worth a ticket."""
    t = np.arange(0.0, 600.0)
    rss = BASE + np.floor(t / 100) * 4096 * 8  # +32 KB every 100 s: ~1.2 MB/hour, 160 KB
    verdict = leak_verdict(t, rss)
    assert not verdict.growing
    assert verdict.p_value < 0.05
    assert verdict.text.startswith("no growth worth reporting")


def test_too_few_points_is_a_verdict_not_an_exception() -> None:
    t = np.arange(0.0, 22.0)  # 1 Hz for 21 s: a 10 s warm-up leaves 12 points
    verdict = leak_verdict(t, BASE + 1e6 * t)
    assert verdict.status == "not enough data" and not verdict.growing
    assert verdict.n == 12 and math.isnan(verdict.slope_per_hour)
    assert verdict.text == (
        "not enough data (12 points after a 10 s warm-up; run at least 30 s at this "
        "sampling interval)"
    )
    assert 30 - default_warmup_s(30) >= MIN_POINTS
    short = leak_verdict(np.arange(0, 5.0, 0.5), np.ones(10), warmup_s=1.0)
    assert "run at least 11 s" in short.text
    assert leak_verdict([], []).status == "not enough data"


def test_default_warmup_is_a_fifth_with_a_floor_and_a_cap() -> None:
    assert default_warmup_s(15) == 7.5  # half of a short run at most
    assert default_warmup_s(40) == 10.0  # at least 10 s
    assert default_warmup_s(3600) == 720.0  # a fifth of a long soak
    assert default_warmup_s(0) == 0.0


def test_json_carries_no_nan_and_round_trips() -> None:
    t, rss = _leaking(50 * MB, 4, minutes=10)
    doc = leak_verdict(t, rss).to_json()
    assert json.loads(json.dumps(doc, allow_nan=False))["growing"] is True
    empty = leak_verdict([0.0, 1.0], [1.0, 2.0]).to_json()
    assert empty["slope_per_hour"] is None and empty["status"] == "not enough data"


def test_texts() -> None:
    assert format_rate(14_478 * MB) == "+14,478 MB/hour"
    assert format_rate(12.34 * MB) == "+12.3 MB/hour"
    assert format_rate(-0.1 * MB) == "-0.10 MB/hour"
    assert format_p(0.0004) == "p < 0.001"
    assert format_p(0.0123) == "p = 0.012"
    assert format_p(0.41) == "p = 0.41"
    flat = leak_verdict(np.arange(100.0), np.full(100, float(BASE)))
    assert flat.text == "no growth (slope +0.00 MB/hour, p = 1.00)"


def test_timestamps_in_any_order_and_repeated() -> None:
    t, rss = _leaking(50 * MB, 5, minutes=10)
    order = np.random.default_rng(5).permutation(len(t))
    shuffled = leak_verdict(t[order], rss[order])
    assert shuffled.slope_per_hour == leak_verdict(t, rss).slope_per_hour
    gappy = rss.copy()
    gappy[::7] = np.nan  # unreadable samples are skipped, not propagated
    assert leak_verdict(t, gappy).growing
    with pytest.raises(ValueError):
        leak_verdict([0.0, 1.0], [1.0])
