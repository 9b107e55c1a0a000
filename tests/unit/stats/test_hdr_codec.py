"""The bucket layout and the HdrHistogram V2 wire format, checked against the hdrh package."""

from __future__ import annotations

import base64
import struct
import zlib
from typing import Any

import numpy as np
import pytest

from perflab.stats import MAX_VALUE_US, LatencyHistogram
from perflab.stats import hdr_codec as codec

hdrh = pytest.importorskip("hdrh.histogram")


def reference(lowest: int = 1, highest: int = MAX_VALUE_US, digits: int = 3) -> Any:
    return hdrh.HdrHistogram(lowest, highest, digits)


def hist_of(values: Any) -> LatencyHistogram:
    hist = LatencyHistogram()
    hist.record_many(values)
    return hist


def sample_values() -> list[int]:
    rng = np.random.default_rng(11)
    powers = [1 << k for k in range(32)] + [(1 << k) - 1 for k in range(1, 32)]
    spread = rng.integers(0, MAX_VALUE_US + 1, 3000).tolist()
    return [0, 2047, 2048, 2049, MAX_VALUE_US, *powers, *range(0, 5000, 3), *spread]


def test_index_of_is_hdrhistograms_counts_index() -> None:
    ref = reference()
    values = sample_values()
    expected = [ref.get_counts_array_index(v) for v in values]
    assert [codec.index_of(v) for v in values] == expected
    array = np.array(values, dtype=np.int64)
    out, scratch = np.empty((2, array.size), dtype=np.int64)
    assert codec.indices_of(array, out, scratch).tolist() == expected
    assert codec.TOP_INDEX == ref.get_counts_array_index(MAX_VALUE_US) == 23_220


def test_bucket_bounds_are_hdrhistograms_equivalent_values() -> None:
    ref = reference()
    indices = np.arange(0, codec.N_BUCKETS, 3, dtype=np.int64)
    low, high = codec.bucket_bounds(indices)
    lows = [ref.get_value_from_index(i) for i in indices.tolist()]
    assert low.tolist() == lows
    assert high.tolist() == [ref.get_highest_equivalent_value(v) for v in lows]


def test_every_bucket_is_narrower_than_a_thousandth_of_its_values() -> None:
    low, high = codec.bucket_bounds(np.arange(codec.N_BUCKETS, dtype=np.int64))
    assert (high[:2048] == low[:2048]).all(), "values below 2048 have a bucket each"
    assert ((high - low)[2048:] / low[2048:]).max() < 1 / 1024
    assert (low[1:] == high[:-1] + 1).all(), "buckets tile the range without gaps"


def test_our_encoding_decodes_in_hdrh() -> None:
    values = np.random.default_rng(12).lognormal(np.log(4000), 1.5, 20_000).round()
    values = np.minimum(values, MAX_VALUE_US).astype(np.int64)
    ref = reference()
    for value in values.tolist():
        ref.record_value(value)
    encoded = hist_of(values).encode()
    assert encoded.startswith("HISTF")
    decoded = hdrh.HdrHistogram.decode(encoded)
    assert decoded.get_total_count() == values.size
    top = ref.get_counts_array_index(int(values.max())) + 1
    assert [decoded.get_count_at_index(i) for i in range(top)] == list(ref.counts[:top])
    for p in (50.0, 99.0, 99.99):
        assert decoded.get_value_at_percentile(p) == ref.get_value_at_percentile(p)


def test_hdrh_encoding_decodes_here() -> None:
    values = np.random.default_rng(13).exponential(30_000, 20_000).round().astype(np.int64)
    ref = reference()
    for value in values.tolist():
        ref.record_value(value)
    ours = hist_of(values)
    decoded = LatencyHistogram.decode(ref.encode())
    assert decoded.to_sparse()[0].tolist() == ours.to_sparse()[0].tolist()
    assert decoded.to_sparse()[1].tolist() == ours.to_sparse()[1].tolist()
    assert decoded.count == values.size and decoded.clamped == 0
    low, _ = codec.bucket_bounds(np.array([codec.index_of(int(values.min()))]))
    assert decoded.min == low[0]
    assert decoded.max == ref.get_highest_equivalent_value(int(values.max()))
    assert decoded.mean == pytest.approx(values.mean(), rel=1e-3)
    assert (decoded.percentiles([50, 90, 99]) == ours.percentiles([50, 90, 99])).all()


def test_round_trip_through_hdr_form_keeps_buckets() -> None:
    hist = hist_of([0, 1, 2, 5, 5, 2047, 2048, 123_456_789, MAX_VALUE_US])
    back = LatencyHistogram.decode(hist.encode())
    assert back.to_sparse()[1].tolist() == hist.to_sparse()[1].tolist()
    assert back.to_sparse()[0].tolist() == hist.to_sparse()[0].tolist()
    assert (back.min, back.max) == (0, MAX_VALUE_US)
    empty = LatencyHistogram.decode(LatencyHistogram().encode())
    assert empty == LatencyHistogram()


def test_wider_hdr_histogram_folds_into_the_top_bucket() -> None:
    wide = reference(highest=1 << 40)
    for value in (10, 10**12, 5 * 10**11):
        wide.record_value(value)
    hist = LatencyHistogram.decode(wide.encode())
    assert (hist.count, hist.clamped, hist.max, hist.min) == (3, 2, MAX_VALUE_US, 10)


def test_other_units_or_precision_are_refused() -> None:
    for settings, message in (((1000, MAX_VALUE_US, 3), "lowest"), ((1, MAX_VALUE_US, 2), "3")):
        other = reference(*settings)
        other.record_value(5000)
        with pytest.raises(ValueError, match=message):
            LatencyHistogram.decode(other.encode())


def _v2(body: bytes, *, cookie: int = 0x1C849313, length: int | None = None) -> bytes:
    header = struct.pack(">IIiiqqd", cookie, len(body), 0, 3, 1, MAX_VALUE_US, 1.0)
    compressed = zlib.compress(header + body)
    outer = struct.pack(">II", 0x1C849314, len(compressed) if length is None else length)
    return base64.b64encode(outer + compressed)


def test_hdr_decode_rejects_bad_input() -> None:
    good = hist_of([1, 2, 3]).encode()
    raw = base64.b64decode(good)
    cases: dict[str | bytes, str] = {
        "not base64!": "base64",
        base64.b64encode(b"abc"): "truncated",
        base64.b64encode(b"\x1c\x84\x93\x15" + raw[4:]): "cookie",
        base64.b64encode(raw[:-2]): "length",
        base64.b64encode(raw[:4] + struct.pack(">I", len(raw) - 10) + raw[8:-2]): "corrupt|trunc",
        _v2(b"\x02", cookie=0x1C849301): "encoding cookie",
        _v2(b"\x02\x80"): "truncated inside a varint",
        _v2(b"\x02", length=3): "length",
    }
    for data, message in cases.items():
        with pytest.raises(ValueError, match=message):
            LatencyHistogram.decode(data)


def test_zigzag_varints_use_hdrhistograms_nine_byte_form() -> None:
    for value in (0, 1, -1, 63, -64, 64, 2**55, -(2**55), 2**62, 2**63 - 1, -(2**63)):
        encoded = codec._zigzag_varint(value)
        assert codec._read_zigzag(encoded, 0) == (value, len(encoded))
    assert codec._zigzag_varint(-1) == b"\x01" and codec._zigzag_varint(64) == b"\x80\x01"
    assert len(codec._zigzag_varint(2**63 - 1)) == 9
    with pytest.raises(ValueError):
        codec._zigzag_varint(2**63)


def test_huge_counts_survive_both_formats() -> None:
    hist = LatencyHistogram()
    hist.record(1000, count=2**61)
    hist.record(7, count=3)
    assert LatencyHistogram.from_bytes(hist.to_bytes()) == hist
    decoded = LatencyHistogram.decode(hist.encode())
    assert decoded.to_sparse()[1].tolist() == [3, 2**61]


def test_native_count_width_follows_the_largest_count() -> None:
    for count, width in ((255, 1), (256, 2), (2**32 - 1, 4), (2**32, 8)):
        record = codec.HistogramRecord(np.array([9]), np.array([count]), 9, 9, 9 * count, 0)
        data = codec.to_bytes(record)
        payload = zlib.decompress(data[5:])
        assert payload[-width:] == count.to_bytes(width, "little")
        assert payload[-width - 2 : -width] == b"\x09\x00", "uint16 index delta"
        assert payload[-width - 3] == width, "the header's last varint is the width"
        assert codec.from_bytes(data).counts.tolist() == [count]


def test_native_columns_are_byte_planed() -> None:
    record = codec.HistogramRecord(np.array([1, 300]), np.array([1, 2]), 1, 300, 601, 0)
    payload = zlib.decompress(codec.to_bytes(record)[5:])
    # deltas 1 and 299 = 0x012B as uint16: low bytes (01, 2B), then high bytes (00, 01)
    assert payload[-6:] == bytes([0x01, 0x2B, 0x00, 0x01, 1, 2])
