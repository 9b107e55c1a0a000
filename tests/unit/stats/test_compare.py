"""perflab.stats.compare: exact resampled figures, and honest verdicts on simulated servers."""

from __future__ import annotations

import time

import numpy as np
import pytest

from perflab.stats.compare import (
    MIN_SECONDS,
    Resamples,
    RunSeries,
    Series,
    TooFewSeconds,
    compare,
)
from perflab.stats.hdr_codec import bucket_bounds, indices_of
from perflab.stats.histogram import LatencyHistogram
from perflab.stats.resample import metrics


def _series(
    rng: np.random.Generator,
    level: np.ndarray,
    *,
    rate: float,
    median_us: float,
    error_rate: float,
    sigma: float = 0.4,
) -> Series:
    """Per-second Poisson arrivals, log-normal latencies around a drifting level, HDR buckets."""
    n = level.size
    counts = rng.poisson(rate, n)
    second = np.repeat(np.arange(n), counts)
    noise = sigma * rng.standard_normal(second.size)
    latency = np.rint(median_us * np.exp(level[second] + noise)).astype(np.int64)
    index = indices_of(latency, np.empty_like(latency), np.empty_like(latency))
    columns, column = np.unique(index, return_inverse=True)
    flat = np.bincount(second * columns.size + column, minlength=n * columns.size)
    _, high = bucket_bounds(columns.astype(np.int64))
    errors = rng.binomial(counts, error_rate)
    shape = (n, columns.size)
    return Series(high.astype(float), flat.reshape(shape).astype(float), counts * 1.0, errors * 1.0)


def _server_run(
    rng: np.random.Generator,
    seconds: int = 40,
    *,
    slower: float = 1.0,
    rate: float = 1.0,
    level_sd: float = 0.04,
    persistence: float = 0.5,
) -> RunSeries:
    """A run like a real server's: the server's state drifts as AR(1) from second to second
    (sd ``level_sd``), moving both request names' latencies together; 0.2 % errors."""
    innovations = rng.standard_normal(seconds) * level_sd * np.sqrt(1 - persistence**2)
    level = np.empty(seconds)
    level[0] = rng.standard_normal() * level_sd
    for i in range(1, seconds):
        level[i] = persistence * level[i - 1] + innovations[i]
    names = {
        "GET /": _series(rng, level, rate=300 * rate, median_us=5000 * slower, error_rate=0.002),
        "POST /order": _series(
            rng, level, rate=60 * rate, median_us=15000 * slower, error_rate=0.002
        ),
    }
    return RunSeries(np.ones(seconds), names)


def _histograms(rng: np.random.Generator, n: int) -> list[LatencyHistogram]:
    hists = []
    for _ in range(n):
        hist = LatencyHistogram()
        hist.record_many(rng.lognormal(np.log(5000), 0.8, rng.integers(0, 60)))
        hists.append(hist)
    return hists


@pytest.mark.parametrize("n", [5, 6, 7, 16, 31])
def test_resampled_figures_equal_merged_histograms(n: int) -> None:
    rng = np.random.default_rng(n)
    hists = _histograms(rng, n)
    requests = np.array([h.count for h in hists]) + rng.integers(0, 3, n)
    errors = rng.integers(0, 3, n)
    exposure = rng.uniform(0.5, 1.0, n)
    resamples = Resamples(n, 60, rng)
    figures = metrics(Series.from_histograms(hists, requests, errors), resamples, exposure)
    seconds = resamples.seconds()
    assert seconds[0].tolist() == list(range(n))  # row 0 is the run itself
    for row, picked in enumerate(seconds):
        merged = LatencyHistogram.merged(hists[s] for s in picked)
        expected = merged.percentiles([50, 90, 99, 99.9]) if merged.count else [np.nan] * 4
        got = [figures[m][row] for m in ("p50", "p90", "p99", "p99.9")]
        np.testing.assert_array_equal(got, expected)
        assert figures["error_rate"][row] == pytest.approx(
            errors[picked].sum() / requests[picked].sum()
        )
        assert figures["rps"][row] == pytest.approx(requests[picked].sum() / exposure[picked].sum())


def test_resamples_are_wrapped_blocks_of_consecutive_seconds() -> None:
    resamples = Resamples(10, 200, np.random.default_rng(1))
    assert resamples.block == 4 and resamples.last == 2  # blocks of 4, 4 and 2 seconds
    seconds = resamples.seconds()
    steps = (np.diff(seconds, axis=1) % 10)[:, [0, 1, 2, 4, 5, 6, 8]]  # steps inside blocks
    assert np.all(steps == 1)
    assert len({tuple(row) for row in seconds}) > 150  # starts really vary


def test_aa_comparisons_say_no_change_at_least_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(2024)
    trials = 200
    flagged = [
        compare(_server_run(rng), _server_run(rng), seed=trial).verdict != "no_change"
        for trial in range(trials)
    ]
    assert sum(flagged) / trials <= 0.05, f"A/A false alarms: {sum(flagged)}/{trials}"


def test_twenty_percent_slower_is_flagged_at_least_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(7)
    trials = 40
    found = [
        compare(_server_run(rng), _server_run(rng, slower=1.2), seed=trial).verdict
        for trial in range(trials)
    ]
    assert found.count("regressed") / trials >= 0.95, found


def test_directions_latency_down_improves_and_throughput_down_regresses() -> None:
    rng = np.random.default_rng(3)
    base = _server_run(rng)
    faster = compare(base, _server_run(rng, slower=0.8))
    assert faster.verdict == "improved"
    assert faster.by_name["GET /"]["p50"].verdict == "improved"
    assert faster.by_name["GET /"]["p50"].change_pct == pytest.approx(-20, abs=4)
    fewer = compare(base, _server_run(rng, rate=0.7))
    assert fewer.by_name["GET /"]["rps"].verdict == "regressed"
    assert fewer.by_name["GET /"]["rps"].ci_high_pct < -5  # type: ignore[operator]
    assert fewer.verdict == "regressed"


def test_figures_and_intervals_are_consistent() -> None:
    rng = np.random.default_rng(4)
    result = compare(_server_run(rng), _server_run(rng, slower=1.1))
    p50 = result.by_name["GET /"]["p50"]
    assert p50.base is not None and p50.candidate is not None and p50.change_pct is not None
    assert p50.change_pct == pytest.approx((p50.candidate / p50.base - 1) * 100)
    assert p50.ci_low_pct is not None and p50.ci_high_pct is not None
    assert p50.ci_low_pct < p50.change_pct < p50.ci_high_pct
    assert 0 < p50.ci_low_pct and p50.verdict == "regressed"
    assert result.block_seconds == (7, 7)


def test_joint_intervals_are_wider_than_one_at_a_time() -> None:
    rng = np.random.default_rng(5)
    base, candidate = _server_run(rng), _server_run(rng)
    joint = compare(base, candidate).by_name["GET /"]["p90"]
    single = compare(base, candidate, joint=False).by_name["GET /"]["p90"]
    assert joint.ci_low_pct < single.ci_low_pct  # type: ignore[operator]
    assert joint.ci_high_pct > single.ci_high_pct  # type: ignore[operator]


def test_same_seed_same_result_and_the_seed_matters() -> None:
    rng = np.random.default_rng(6)
    base, candidate = _server_run(rng), _server_run(rng)
    assert compare(base, candidate, seed=1) == compare(base, candidate, seed=1)
    assert compare(base, candidate, seed=1) != compare(base, candidate, seed=2)


def test_errors_from_none_are_compared_in_percentage_points() -> None:
    rng = np.random.default_rng(8)
    base, candidate = _server_run(rng), _server_run(rng)
    clean = {name: _with_errors(s, np.zeros_like(s.errors)) for name, s in base.names.items()}
    failing = {name: _with_errors(s, s.requests * 0.01) for name, s in candidate.names.items()}
    result = compare(RunSeries(base.exposure, clean), RunSeries(candidate.exposure, failing))
    errors = result.by_name["GET /"]["error_rate"]
    assert errors.unit == "pp" and errors.base == 0.0
    assert errors.change_pct == pytest.approx(1.0)  # 0 % -> 1 %: one percentage point
    assert errors.verdict == "regressed" and result.verdict == "regressed"
    both_clean = compare(RunSeries(base.exposure, clean), RunSeries(base.exposure, clean))
    none = both_clean.by_name["GET /"]["error_rate"]
    assert (none.change_pct, none.ci_low_pct, none.ci_high_pct) == (0.0, 0.0, 0.0)
    assert none.verdict == "no_change"


def _with_errors(series: Series, errors: np.ndarray) -> Series:
    return Series(series.values, series.counts, series.requests, errors)


def test_a_rare_name_gets_figures_but_no_interval_for_its_tail() -> None:
    rng = np.random.default_rng(9)
    level = np.zeros(30)
    rare = [_series(rng, level, rate=20, median_us=9000, error_rate=0) for _ in range(2)]
    result = compare(
        RunSeries(np.ones(30), {"rare": rare[0]}), RunSeries(np.ones(30), {"rare": rare[1]})
    )
    p999, p50 = result.by_name["rare"]["p99.9"], result.by_name["rare"]["p50"]
    assert p999.base is not None and p999.ci_low_pct is None and p999.verdict == "no_change"
    assert p50.ci_low_pct is not None
    assert any("rare" in note and "p99.9" in note for note in result.notes)


def test_names_in_one_run_only_are_added_or_removed() -> None:
    rng = np.random.default_rng(10)
    base, candidate = _server_run(rng), _server_run(rng)
    renamed = {"GET /v2": candidate.names["GET /"], "POST /order": candidate.names["POST /order"]}
    result = compare(base, RunSeries(candidate.exposure, renamed))
    assert result.added == ["GET /v2"] and result.removed == ["GET /"]
    assert list(result.by_name) == ["POST /order"]


def test_too_few_seconds_are_refused_with_a_reason() -> None:
    rng = np.random.default_rng(11)
    short = _server_run(rng, seconds=MIN_SECONDS - 1)
    with pytest.raises(TooFewSeconds, match=r"candidate run has only 4\.0 s"):
        compare(_server_run(rng), short)
    compare(_server_run(rng, seconds=MIN_SECONDS), _server_run(rng, seconds=MIN_SECONDS))


@pytest.mark.parametrize(
    ("option", "value"), [("min_effect", -0.1), ("confidence", 1.0), ("resamples", 10)]
)
def test_bad_parameters_raise(option: str, value: float) -> None:
    rng = np.random.default_rng(12)
    with pytest.raises(ValueError, match=option):
        compare(_server_run(rng), _server_run(rng), **{option: value})  # type: ignore[arg-type]


def test_a_minute_with_five_names_compares_in_under_a_second() -> None:
    rng = np.random.default_rng(13)
    level = np.zeros(60)
    runs = [
        RunSeries(
            np.ones(60),
            {
                f"GET /{k}": _series(
                    rng, level, rate=500, median_us=4000 * (k + 1), error_rate=0.01
                )
                for k in range(5)
            },
        )
        for _ in range(2)
    ]
    compare(*runs)  # warm-up: imports, allocator
    start = time.perf_counter()
    compare(*runs)
    assert time.perf_counter() - start < 1.0
