"""LatencyHistogram against numpy on the raw samples, with fixed seeds."""

from __future__ import annotations

import copy
import pickle
import types
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from perflab.stats import MAX_VALUE_US, LatencyHistogram
from perflab.stats import hdr_codec as codec

PS = [0.0, 1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.9, 99.99, 100.0]
N = 100_000
Ints = npt.NDArray[np.int64]


def _us(samples: npt.NDArray[np.float64]) -> Ints:
    return np.minimum(np.rint(samples), MAX_VALUE_US).astype(np.int64)


def _bimodal(rng: np.random.Generator) -> Ints:
    return _us(np.concatenate([rng.normal(1_000, 50, N // 2), rng.normal(250_000, 2e4, N // 2)]))


def _edges(rng: np.random.Generator) -> Ints:
    powers = [1 << k for k in range(33) if 1 << k <= MAX_VALUE_US]
    special = [0, 1, 2047, 2048, 2049, 4095, 4096, MAX_VALUE_US - 1, MAX_VALUE_US]
    fixed = np.array(special + powers + [p - 1 for p in powers], dtype=np.int64)
    return np.concatenate([fixed, rng.integers(MAX_VALUE_US - 5_000_000, MAX_VALUE_US, 1000)])


DISTRIBUTIONS: dict[str, Callable[[np.random.Generator], Ints]] = {
    "uniform": lambda rng: rng.integers(0, 10_000_000, N),
    "lognormal": lambda rng: _us(rng.lognormal(np.log(5_000), 1.0, N)),
    "exponential": lambda rng: _us(rng.exponential(20_000, N)),
    "pareto": lambda rng: _us((rng.pareto(1.1, N) + 1) * 800),  # heavy tail: max ~ 10^4 x median
    "bimodal": _bimodal,
    "constant": lambda rng: np.full(1000, 123_457, dtype=np.int64),
    "tiny": lambda rng: rng.integers(0, 2048, N),
    "edges": _edges,
}


def hist_of(values: npt.ArrayLike) -> LatencyHistogram:
    hist = LatencyHistogram()
    hist.record_many(values)
    return hist


@pytest.fixture(params=sorted(DISTRIBUTIONS))
def samples(request: pytest.FixtureRequest) -> Ints:
    rng = np.random.default_rng(1000 + sorted(DISTRIBUTIONS).index(request.param))
    values = DISTRIBUTIONS[request.param](rng)
    assert values.min() >= 0 and values.max() <= MAX_VALUE_US
    return values


# -- percentiles -------------------------------------------------------------------------


def test_percentiles_within_a_thousandth_of_numpy(samples: Ints) -> None:
    ours = hist_of(samples).percentiles(PS)
    exact = np.percentile(samples, PS, method="inverted_cdf").astype(np.int64)
    assert (ours >= exact).all(), "a bucket's highest value never understates"
    assert (ours - exact <= exact / 1024).all(), list(zip(PS, ours, exact, strict=True))
    assert ours[0] == samples.min() and ours[-1] == samples.max()
    below = exact < 2048
    assert (ours[below] == exact[below]).all(), "values under 2048 us are exact"


def test_single_percentile_agrees_with_vector(samples: Ints) -> None:
    hist = hist_of(samples)
    assert [hist.percentile(p) for p in PS] == hist.percentiles(PS).tolist()


def test_tiny_values_are_exact() -> None:
    values = np.random.default_rng(7).integers(0, 2048, 5000)
    ps = np.linspace(0, 100, 1001)
    assert (
        hist_of(values).percentiles(ps) == np.percentile(values, ps, method="inverted_cdf")
    ).all()


def test_percentile_rank_is_ceil_of_p_times_count() -> None:
    hist = hist_of(np.arange(1, 11))
    got = hist.percentiles([0, 10, 10.5, 11, 50, 50.1, 90, 99.9, 100])
    assert got.tolist() == [1, 1, 2, 2, 5, 6, 9, 10, 10]


def test_percentile_reports_highest_equivalent_value_clamped_to_max() -> None:
    hist = hist_of([1_000_000, 1_000_000, 2_000_000])
    # 1,000,000 has 20 bits: bucket width 2^9, bucket [999_936, 1_000_447].
    assert hist.percentile(50) == 1_000_447
    assert hist.percentile(1) == 1_000_000, "rank 1 is the exact minimum"
    assert hist.percentile(99) == 2_000_000, "the top bucket's high end is clamped to max"


def test_percentile_outside_range_raises() -> None:
    hist = hist_of([5])
    for bad in (-0.1, 100.01, float("nan")):
        with pytest.raises(ValueError, match=r"\[0, 100\]"):
            hist.percentile(bad)


# -- exact figures -----------------------------------------------------------------------


def test_count_sum_min_max_mean_are_exact(samples: Ints) -> None:
    hist = hist_of(samples)
    assert hist.count == samples.size
    assert hist.sum == int(samples.sum())
    assert (hist.min, hist.max) == (int(samples.min()), int(samples.max()))
    assert hist.mean == int(samples.sum()) / samples.size
    assert hist.mean == pytest.approx(np.mean(samples), rel=1e-12)


def test_stdev_close_to_numpy(samples: Ints) -> None:
    stdev = hist_of(samples).stdev
    exact = float(np.std(samples))
    if exact == 0:
        assert stdev == 0.0
    else:
        rms = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))
        assert abs(stdev - exact) <= 5e-4 * rms + 1e-9


def test_stdev_is_exact_where_buckets_are() -> None:
    values = np.random.default_rng(2).integers(0, 2048, 10_000)
    assert hist_of(values).stdev == pytest.approx(np.std(values), rel=1e-12)


def test_empty_histogram() -> None:
    hist = LatencyHistogram()
    assert (hist.count, hist.min, hist.max, hist.sum, hist.clamped) == (0, 0, 0, 0, 0)
    assert (hist.mean, hist.stdev) == (0.0, 0.0)
    assert hist.percentile(50) == 0
    assert hist.percentiles(PS).tolist() == [0] * len(PS)
    assert set(hist.summary().values()) == {0.0}
    assert [a.size for a in hist.to_sparse()] == [0, 0]
    assert [a.size for a in hist.iter_values()] == [0, 0]
    assert LatencyHistogram.from_bytes(hist.to_bytes()) == hist
    hist.record_many(np.array([], dtype=np.int64))
    assert hist.count == 0


def test_summary_matches_percentiles() -> None:
    values = np.random.default_rng(3).integers(100, 1_000_000, 10_000)
    hist = hist_of(values)
    summary = hist.summary()
    assert list(summary) == [
        "count",
        "min",
        "mean",
        "p50",
        "p90",
        "p95",
        "p99",
        "p99.9",
        "max",
        "stdev",
    ]
    p = hist.percentiles([50, 90, 95, 99, 99.9]).tolist()
    assert [summary[k] for k in ("p50", "p90", "p95", "p99", "p99.9")] == p
    assert summary["count"] == 10_000 and summary["max"] == values.max()
    assert summary["mean"] == hist.mean and summary["stdev"] == hist.stdev


def test_iter_values_draws_the_percentile_curve() -> None:
    values = np.random.default_rng(4).lognormal(9, 1, 20_000).round().astype(np.int64)
    hist = hist_of(values)
    levels, counts = hist.iter_values()
    assert (np.diff(levels) > 0).all() and counts.sum() == values.size
    assert levels[-1] == values.max()
    fraction = np.cumsum(counts) / counts.sum()
    for p in (50.0, 99.0):
        assert levels[np.searchsorted(fraction, p / 100)] == hist.percentile(p)


# -- recording paths ----------------------------------------------------------------------


def test_record_and_record_many_agree() -> None:
    values = np.random.default_rng(5).lognormal(8, 2, 10_000).round().astype(np.int64)
    values[::997] = MAX_VALUE_US + 12_345  # clamped on both paths
    one_by_one = LatencyHistogram()
    for value in values.tolist():
        one_by_one.record(value)
    assert one_by_one == hist_of(values)
    assert one_by_one.clamped == len(values[::997])


def test_record_many_of_small_ints_takes_the_short_path_with_the_same_result() -> None:
    rng = np.random.default_rng(6)
    small = rng.integers(0, 2048, 5_000, dtype=np.int64)  # every value its own bucket
    small[:2] = (0, 2047)
    crossing = np.concatenate([small, [2048, 2049, 10**6]])  # the general path
    for values in (small, crossing, small[:1]):
        one_by_one = LatencyHistogram()
        for value in values.tolist():
            one_by_one.record(value)
        assert hist_of(values) == one_by_one
    twice = hist_of(small)
    twice.record_many(small)  # into a histogram that already holds values
    assert twice == hist_of(np.concatenate([small, small]))
    negative = LatencyHistogram()
    negative.record_many(np.array([-5, 3], dtype=np.int64))  # not the short path: clamped
    assert negative.clamped == 1 and negative.min == 0


def test_record_with_count_equals_repeated_values() -> None:
    hist = LatencyHistogram()
    hist.record(1234, count=3)
    hist.record(5_000_000, 2)
    hist.record(77, 0)
    assert hist == hist_of([1234, 1234, 1234, 5_000_000, 5_000_000])


def test_record_accepts_numpy_ints_and_rounds_floats() -> None:
    hist = LatencyHistogram()
    for value in (np.int64(10), np.uint16(11), 2.5, 3.5, np.float32(4.4)):
        hist.record(value)  # type: ignore[arg-type]  # numpy scalars work too
    assert hist == hist_of([10, 11, 2, 4, 4])


def test_record_many_rounds_floats_half_to_even() -> None:
    hist = hist_of(np.array([0.5, 1.5, 2.5, 2.4999, -0.4, 1e3 + 0.5]))
    assert hist == hist_of([0, 2, 2, 2, 0, 1000])
    assert hist.clamped == 0, "-0.4 rounds to 0, which is in range"


def test_record_many_any_numeric_dtype_matches_int64() -> None:
    values = np.random.default_rng(6).integers(0, 30_000, 5000)
    reference = hist_of(values)
    for dtype in (np.int32, np.uint16, np.uint64, np.float32, np.float64):
        assert hist_of(values.astype(dtype)) == reference, dtype
    assert hist_of(values.reshape(50, 100)) == reference
    assert hist_of(values.tolist()) == reference


def test_clamping_is_counted() -> None:
    hist = hist_of(np.array([-5, 7, MAX_VALUE_US + 10, -1]))
    assert (hist.clamped, hist.min, hist.max) == (3, 0, MAX_VALUE_US)
    assert hist.sum == 7 + MAX_VALUE_US
    hist.record(MAX_VALUE_US + 1)
    hist.record(float("inf"))
    assert (hist.clamped, hist.count) == (5, 6)
    huge = hist_of(np.array([2**64 - 1, 3], dtype=np.uint64))
    assert (huge.clamped, huge.max, huge.min) == (1, MAX_VALUE_US, 3)
    floats = hist_of(np.array([-np.inf, np.inf, 1e300]))
    assert (floats.clamped, floats.min, floats.max) == (3, 0, MAX_VALUE_US)


def test_bad_values_raise() -> None:
    hist = LatencyHistogram()
    for bad in (-1, -0.6, float("nan"), float("-inf")):
        with pytest.raises(ValueError):
            hist.record(bad)
    with pytest.raises(ValueError, match="count"):
        hist.record(5, count=-1)
    with pytest.raises(TypeError):
        hist.record(True)
    with pytest.raises(TypeError):
        hist.record("5")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="NaN"):
        hist.record_many(np.array([1.0, np.nan]))
    for bad_array in (np.array([True]), np.array(["1"]), np.array([1], dtype=object)):
        with pytest.raises(TypeError, match="dtype"):
            hist.record_many(bad_array)
    assert hist.count == 0, "nothing is half-recorded"


def test_record_buffer_flushes_at_every_read() -> None:
    values = np.random.default_rng(8).integers(0, 10**7, 10_000)
    hist = LatencyHistogram()
    for i, value in enumerate(values.tolist(), 1):
        hist.record(value)
        if i in (1, 4095, 4096, 4097, 9999):
            seen = values[:i]
            assert hist.count == i
            assert (hist.min, hist.max, hist.sum) == (seen.min(), seen.max(), seen.sum())
            assert hist == hist_of(seen)
    unread = LatencyHistogram()
    for value in values.tolist():
        unread.record(value)
    assert len(unread._pending) < 4096, "the record() buffer stays bounded without reads"


# -- merging -------------------------------------------------------------------------------


def test_merge_equals_histogram_of_concatenation(samples: Ints) -> None:
    a, b = np.array_split(samples, [samples.size // 3])
    merged = hist_of(a)
    merged.merge(hist_of(b))
    whole = hist_of(samples)
    assert merged == whole
    assert (merged.count, merged.sum, merged.min, merged.max) == (
        whole.count,
        whole.sum,
        whole.min,
        whole.max,
    )


def test_merge_many_and_operators_do_not_mutate() -> None:
    rng = np.random.default_rng(9)
    parts = [rng.lognormal(7 + i, 1, 1000).round().astype(np.int64) for i in range(10)]
    hists = [hist_of(p) for p in parts]
    expected = hist_of(np.concatenate(parts))
    assert LatencyHistogram.merged(hists) == expected
    total = hists[0] + hists[1]
    assert total == hist_of(np.concatenate(parts[:2]))
    assert hists[0] == hist_of(parts[0]), "+ leaves its operands alone"
    assert LatencyHistogram.merged([]) == LatencyHistogram()


def test_merge_with_empty_and_self() -> None:
    hist = hist_of([3, 5_000, 70_000])
    before = hist.copy()
    hist.merge(LatencyHistogram())
    assert hist == before
    empty = LatencyHistogram()
    empty.merge(hist)
    assert empty == hist and empty.min == 3
    hist.merge(hist)
    assert hist == hist_of([3, 5_000, 70_000] * 2)


def test_merge_adds_clamped_and_pending_values() -> None:
    a = hist_of([-1, 10])
    b = LatencyHistogram()
    b.record(MAX_VALUE_US * 2)
    b.record(20)  # still in the record() buffer
    a.merge(b)
    assert (a.count, a.clamped, a.min, a.max) == (4, 2, 0, MAX_VALUE_US)


def test_copy_is_independent_and_reset_empties() -> None:
    hist = hist_of([1, 2, 3])
    twin = hist.copy()
    twin.record(4)
    assert hist.count == 3 and twin.count == 4
    assert copy.deepcopy(hist) == hist
    twin.reset()
    assert twin == LatencyHistogram()
    twin.record(9)
    assert (twin.min, twin.max, twin.count) == (9, 9, 1)


def test_reset_empties_every_bucket_it_used() -> None:
    hist = hist_of([-3, 0, 5, 70_000, MAX_VALUE_US + 1])  # clamped at both ends
    hist.merge_sparse(
        [9, codec.index_of(2_000_000)], [2, 1], min_us=9, max_us=2_000_000, sum_us=2_000_018
    )
    hist.record(17)  # still pending
    hist.reset()
    assert hist == LatencyHistogram() and hist.count == 0


def test_equality_sees_every_field() -> None:
    assert hist_of([100]) != hist_of([101])
    assert hist_of([3000]) != hist_of([3001]), "same bucket, different exact sum and extremes"
    assert hist_of([-1]) != hist_of([0]), "clamped differs"
    assert LatencyHistogram() != "histogram"


# -- interchange ---------------------------------------------------------------------------


def test_bytes_round_trip(samples: Ints) -> None:
    hist = hist_of(samples)
    hist.record(MAX_VALUE_US + 1)
    data = hist.to_bytes()
    assert data[:5] == b"PLHG\x01"
    back = LatencyHistogram.from_bytes(data)
    assert back == hist and back.clamped == 1 and back.sum == hist.sum
    assert pickle.loads(pickle.dumps(hist)) == hist


def test_bytes_are_compact() -> None:
    values = np.random.default_rng(10).lognormal(np.log(5000), 1.0, 200_000).round()
    data = hist_of(values).to_bytes()
    assert len(data) < len(hist_of(values).to_sparse()[0]), "under a byte per bucket"
    assert len(LatencyHistogram().to_bytes()) < 32


def test_from_bytes_rejects_bad_input() -> None:
    good = hist_of(np.arange(0, 100_000, 7)).to_bytes()
    cases = {
        b"": "truncated",
        b"PLH": "truncated",
        b"XXXX" + good[4:]: "magic",
        good[:4] + b"\x02" + good[5:]: "version 2",
        good[:4] + b"\x00" + good[5:]: "version 0",
        good[:-3]: "truncated|corrupt",
        good[:20] + bytes([good[20] ^ 0xFF]) + good[21:]: "corrupt|inconsistent|buckets",
        good + b"junk": "stray",
        good[:5] + zlib.compress(b"\x0b\x80"): "truncated",
        codec.to_bytes(codec.HistogramRecord(np.array([5, 5]), np.array([1, 1]), 5, 5, 10, 0)): (
            "increasing"
        ),
    }
    for data, message in cases.items():
        with pytest.raises(ValueError, match=message):
            LatencyHistogram.from_bytes(data)
    with pytest.raises(TypeError):
        LatencyHistogram.from_bytes("PLHG")  # type: ignore[arg-type]


def test_from_bytes_rejects_totals_that_do_not_fit_the_buckets() -> None:
    record = codec.HistogramRecord(np.array([5]), np.array([2]), 5, 5, 11, 0)
    with pytest.raises(ValueError, match=r"inconsistent.*sum_us"):
        LatencyHistogram.from_bytes(codec.to_bytes(record))


def test_sparse_round_trip(samples: Ints) -> None:
    hist = hist_of(samples)
    indices, counts = hist.to_sparse()
    assert indices.dtype == np.int32 and counts.dtype == np.int64
    assert (np.diff(indices) > 0).all() and (counts > 0).all()
    assert counts.sum() == samples.size
    back = LatencyHistogram.from_sparse(
        indices, counts, min_us=hist.min, max_us=hist.max, sum_us=hist.sum, clamped=hist.clamped
    )
    assert back == hist


def test_from_sparse_adds_repeated_indices() -> None:
    hist = LatencyHistogram.from_sparse([7, 3, 7], [1, 2, 4], min_us=3, max_us=7, sum_us=41)
    assert hist == hist_of([3, 3, 7, 7, 7, 7, 7])


def test_from_sparse_validates() -> None:
    good = {"min_us": 3, "max_us": 7, "sum_us": 10}
    cases: list[tuple[tuple[list[Any], list[int], dict[str, int]], str]] = [
        (([3, 7], [1, 1], {**good, "min_us": 4}), "min_us"),
        (([3, 7], [1, 1], {**good, "max_us": 8}), "max_us"),
        (([3, 7], [1, 1], {**good, "sum_us": 50}), "sum_us"),
        (([3, 7], [1, 1], {**good, "clamped": 3}), "clamped"),
        (([3, 7], [1, -1], good), "negative"),
        (([3, codec.N_BUCKETS], [1, 1], good), "outside"),
        (([3, 7], [1], good), "1-D"),
        (([3.0, 7.0], [1, 1], good), "integers"),
        (([], [], good), "empty"),
    ]
    for (indices, counts, totals), message in cases:
        with pytest.raises(ValueError, match=message):
            LatencyHistogram.from_sparse(indices, counts, **totals)


def test_package_exports_match_all() -> None:
    import perflab.stats

    public = {
        name
        for name, value in vars(perflab.stats).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)  # submodules
    }
    assert set(perflab.stats.__all__) == public


def test_merge_sparse_equals_merging_the_rebuilt_histogram() -> None:
    rng = np.random.default_rng(11)
    base = LatencyHistogram()
    base.record_many(rng.lognormal(6, 1, 5000))
    expected = copy.deepcopy(base)
    for scale in (1.0, 3.0, 0.5):
        part = LatencyHistogram()
        part.record_many(rng.pareto(1.5, 3000) * 100 * scale)
        indices, counts = part.to_sparse()
        totals = {"min_us": part.min, "max_us": part.max, "sum_us": part.sum}
        expected.merge(LatencyHistogram.from_sparse(indices, counts, **totals))
        base.merge_sparse(indices, counts, **totals)
    assert base == expected
    assert base.summary() == expected.summary()


def test_merge_sparse_ignores_empty_parts_and_rejects_bad_indices() -> None:
    hist = LatencyHistogram()
    hist.merge_sparse(np.zeros(0, dtype=np.int64), np.zeros(0), min_us=0, max_us=0, sum_us=0)
    assert hist.count == 0 and hist == LatencyHistogram()
    with pytest.raises(ValueError, match="bucket index"):
        hist.merge_sparse([10**7], [1], min_us=1, max_us=1, sum_us=1)
    with pytest.raises(ValueError, match="1-D"):
        hist.merge_sparse([1, 2], [1], min_us=1, max_us=1, sum_us=1)
