"""The batch histogram decoder and its merges, against LatencyHistogram and hdr_codec."""

from __future__ import annotations

import numpy as np
import pytest

from perflab.report.html.histograms import (
    decode_many,
    range_percentiles,
    row_percentiles,
    summarize,
)
from perflab.stats import LatencyHistogram, hdr_codec

PS = [0.0, 1.0, 50.0, 90.0, 99.0, 99.9, 100.0]


def _histograms(seed: int = 7, n: int = 400) -> list[LatencyHistogram]:
    """Varied shapes: log-normal, one value with a huge count (wide counts), full range, empty."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        h = LatencyHistogram()
        kind = i % 5
        if kind == 0:
            h.record_many(rng.lognormal(np.log(4_000), 0.9, int(rng.integers(1, 600))))
        elif kind == 1:
            h.record(0, 70_000)  # count width 4
            h.record(3)
        elif kind == 2:
            h.record_many(rng.integers(0, 3_600_000_000, 40))
            h.record(100, 2**33)  # count width 8, big sum
        elif kind == 3:
            h.record(int(rng.integers(1, 5_000_000)), 300)  # count width 2, one bucket
        out.append(h)  # kind 4: empty
    return out


@pytest.fixture(scope="module")
def hists() -> list[LatencyHistogram]:
    return _histograms()


def test_decode_many_matches_hdr_codec(hists: list[LatencyHistogram]) -> None:
    blobs: list[bytes | None] = [h.to_bytes() for h in hists] + [None, b""]
    table = decode_many(blobs)
    assert table.rows == len(blobs)
    for r, blob in enumerate(blobs):
        a, b = table.offsets[r], table.offsets[r + 1]
        if not blob:
            assert a == b
            continue
        record = hdr_codec.from_bytes(blob)
        assert np.array_equal(table.index[a:b], record.indices)
        assert np.array_equal(table.count[a:b], record.counts)
        totals = (table.min_us[r], table.max_us[r], table.sum_us[r])
        assert totals == (record.min_us, record.max_us, record.sum_us)
    assert table.row_totals().tolist() == [h.count for h in hists] + [0, 0]


def test_corrupt_blob_raises_with_the_codecs_message() -> None:
    good = LatencyHistogram()
    good.record(5)
    with pytest.raises(ValueError, match="bad magic"):
        decode_many([good.to_bytes(), b"NOPE\x01garbage"])
    with pytest.raises(ValueError):
        decode_many([good.to_bytes()[:-3]])  # truncated zlib stream


def test_row_and_range_percentiles_equal_latency_histogram(
    hists: list[LatencyHistogram],
) -> None:
    blobs = [h.to_bytes() for h in hists]
    table = decode_many(blobs)
    rows = row_percentiles(table, PS)
    for h, got in zip(hists, rows, strict=True):
        if h.count:
            assert got.tolist() == h.percentiles(PS).tolist()
        else:
            assert np.isnan(got).all()
    cuts = [0, 1, 7, 50, 51, 51, 200, len(hists)]
    merged, counts = range_percentiles(table, cuts, PS)
    for g in range(len(cuts) - 1):
        expected = LatencyHistogram.merged(hists[cuts[g] : cuts[g + 1]])
        assert counts[g] == expected.count
        if expected.count:
            assert merged[g].tolist() == expected.percentiles(PS).tolist()
        else:
            assert np.isnan(merged[g]).all()


@pytest.mark.parametrize("chunk_rows", [1, 37, 4096])
def test_summarize_in_chunks_is_exact(hists: list[LatencyHistogram], chunk_rows: int) -> None:
    rng = np.random.default_rng(3)
    blobs = [h.to_bytes() for h in hists]
    cuts = np.unique(np.concatenate(([0, len(hists)], rng.integers(0, len(hists), 30))))
    labels = rng.integers(-1, 4, len(hists))
    out = summarize(blobs, cuts, labels, 4, PS, [99.0], chunk_rows=chunk_rows)
    for g in range(len(cuts) - 1):
        expected = LatencyHistogram.merged(hists[cuts[g] : cuts[g + 1]])
        assert out.window_count[g] == expected.count
        if expected.count:
            assert out.window[g].tolist() == expected.percentiles(PS).tolist()
    for label in range(4):
        mine = [h for h, x in zip(hists, labels, strict=True) if x == label]
        assert out.merged[label] == LatencyHistogram.merged(mine)
    for h, got in zip(hists, out.row[:, 0], strict=True):
        assert (got == h.percentile(99.0)) if h.count else np.isnan(got)
