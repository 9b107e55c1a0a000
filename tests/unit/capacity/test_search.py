"""The SLO search on a fake target whose breaking point is known, and its intervals."""

from __future__ import annotations

import numpy as np
import pytest

from perflab.capacity.search import (
    Check,
    SearchPlan,
    Verdict,
    confidence_statement,
    judge,
    parse_slo,
    quantile_interval,
    search,
    wilson_interval,
)
from perflab.errors import UsageError
from perflab.stats import LatencyHistogram


def _fake(threshold: float) -> tuple[list[float], object]:
    probed: list[float] = []

    def probe(rate: float) -> Verdict:
        probed.append(rate)
        ok = rate <= threshold
        check = Check("p99<100ms", 50.0 if ok else 150.0, 45.0, 155.0, 100.0, ok)
        return Verdict(rate, (check,))

    return probed, probe


@pytest.mark.parametrize("threshold", [7.0, 180.0, 203.0, 999.0, 4321.0])
def test_finds_the_threshold_within_tolerance(threshold: float) -> None:
    probed, probe = _fake(threshold)
    result = search(SearchPlan(start_rate=50.0, tolerance=0.05), probe)  # type: ignore[arg-type]
    assert result.converged
    assert result.max_rate is not None and result.first_fail is not None
    assert result.max_rate <= threshold < result.first_fail
    assert (result.first_fail - result.max_rate) / result.max_rate <= 0.05
    assert len(probed) <= 16


def test_bounded_by_max_rate_probes_and_time() -> None:
    probed, probe = _fake(1e9)
    result = search(SearchPlan(start_rate=10.0, max_rate=100.0), probe)  # type: ignore[arg-type]
    assert probed == [10.0, 20.0, 40.0, 80.0, 100.0]
    assert result.max_rate == 100.0 and not result.converged and "max-rate" in result.stop_reason
    probed, probe = _fake(200.0)
    plan = SearchPlan(start_rate=50.0, tolerance=0.001, max_probes=6)
    result = search(plan, probe)  # type: ignore[arg-type]
    assert len(probed) == 6 and "probe budget" in result.stop_reason
    probed, probe = _fake(200.0)
    budget = iter([True, True, False])
    result = search(plan, probe, can_probe=lambda: next(budget))  # type: ignore[arg-type]
    assert len(probed) == 2 and "time budget" in result.stop_reason


def test_unmet_at_the_lowest_rate() -> None:
    probed, probe = _fake(0.5)
    result = search(SearchPlan(start_rate=8.0), probe)  # type: ignore[arg-type]
    assert probed == [8.0, 4.0, 2.0, 1.0]
    assert result.max_rate is None and "not met even at 1/s" in result.stop_reason
    assert "No probed rate met the SLO" in confidence_statement(result)


def test_generator_limit_is_reported_not_taken_for_the_target() -> None:
    def failing(rate: float) -> Verdict:
        check = Check("p99<100ms", 150.0, 140.0, 160.0, 100.0, rate < 400.0)
        return Verdict(rate, (check,), generator_limited=rate >= 400.0)

    result = search(SearchPlan(start_rate=100.0), failing)
    assert result.first_fail is None and result.max_rate == 200.0
    assert "load generator" in result.stop_reason


def test_quantile_interval_covers_the_true_quantile() -> None:
    rng = np.random.default_rng(3)
    covered = 0
    true_p99_us = float(np.quantile(rng.exponential(20_000, 2_000_000), 0.99))
    for _ in range(200):
        sample = rng.exponential(20_000, 2_000)
        hist = LatencyHistogram()
        hist.record_many(sample)
        value, low, high = quantile_interval(hist, 0.99)
        assert low <= value <= high
        assert value == pytest.approx(np.quantile(sample, 0.99, method="inverted_cdf"), rel=2e-3)
        covered += low <= true_p99_us <= high
    assert 0.90 <= covered / 200 <= 0.995  # a 95 % interval


def test_wilson_interval_matches_the_published_example() -> None:
    # Newcombe (1998), Table I: 81/263 -> 0.2553 to 0.3662
    low, high = wilson_interval(81, 263)
    assert (low, high) == pytest.approx((0.2553, 0.3662), abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_judge_and_robustness() -> None:
    slo = parse_slo(["p99<100ms, error_rate<5%"], max_error_rate=0.01)
    hist = LatencyHistogram()
    hist.record_many(np.full(5000, 20_000.0))
    checks = judge(slo, hist, requests=5000, errors=0, dropped=0)
    assert [c.passed for c in checks] == [True, True, True] and all(c.robust for c in checks)
    assert checks[0].observed == pytest.approx(20.0, rel=1e-3)
    dropped = judge(slo, hist, requests=5000, errors=0, dropped=200)  # never served
    assert not dropped[2].passed and dropped[2].observed == pytest.approx(200 / 5200)
    assert not judge(slo, LatencyHistogram(), 0, 0, 0)[0].passed  # silence is no success


@pytest.mark.parametrize("text", ["p99>100ms", "rps<5", "GET /: p99<1s", "p99<<3", ""])
def test_bad_slo_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError):
        parse_slo([text])
