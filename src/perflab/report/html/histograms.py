"""Thousands of encoded histograms at once: one bucket table, merges, percentiles.

A report reads every per-second histogram of a run: a 1-hour run with 10 request names has
36,000 rows, each with a corrected and a service-time histogram. Decoding them one
:class:`LatencyHistogram` at a time costs ~0.25 ms each (a dense 23,552-bucket array per
histogram), over 15 s in all. Here the nonzero buckets of all blobs go into one CSR table in
row order, so merging consecutive rows is a ``bincount`` over a slice, and percentiles follow
:meth:`LatencyHistogram.percentiles` exactly: the highest value of the bucket holding rank
``ceil(p/100 · n)``, clipped to [min, max], and min itself at rank 1.

perflab-format version 1 blobs take a vectorized path (the layout is documented in
:mod:`perflab.stats.hdr_codec`; a unit test holds both decoders to the same answers): only
zlib runs once per blob, headers are parsed for all rows at once, and rows with the same
bucket count and count width are unplaned as one 2-D array. Any other version, or anything
odd, goes through :func:`hdr_codec.from_bytes`, which also names what is wrong.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from perflab.stats import LatencyHistogram, hdr_codec

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Bytes = npt.NDArray[np.uint8]
Part = tuple[npt.NDArray[np.integer[Any]], npt.NDArray[np.integer[Any]]]

_PREFIX = hdr_codec.MAGIC + bytes((1,))
_MAX_PAYLOAD = 1 << 20
_HEAD_BYTES = 48  # n, min, max, sum, clamped and width: 6 varints of at most 8 bytes


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    return bytes((*out, value))


_LAYOUT = _varint(hdr_codec.SUB_BUCKET_BITS) + _varint(hdr_codec.MAX_VALUE_US)


@dataclass(frozen=True, slots=True)
class HistTable:
    """Row ``r``'s nonzero buckets are entries ``offsets[r] : offsets[r + 1]``, ascending.

    Counts are positive, so the cumulative count over all entries strictly increases.
    """

    offsets: Ints
    index: Ints
    count: Ints
    min_us: Ints
    max_us: Ints
    sum_us: Ints

    @property
    def rows(self) -> int:
        return len(self.offsets) - 1

    def row_totals(self) -> Ints:
        """How many values each row holds."""
        cumulative = np.concatenate(([0], np.cumsum(self.count)))
        return np.diff(cumulative[self.offsets])


def _inflate(blob: bytes | None) -> bytes:
    """The payload of a sound version-1 blob; b"" for anything else."""
    if not blob or blob[:5] != _PREFIX:
        return b""
    inflater = zlib.decompressobj()
    try:
        payload = inflater.decompress(blob[5:], _MAX_PAYLOAD)
    except zlib.error:
        return b""
    if not inflater.eof or inflater.unused_data or inflater.unconsumed_tail:
        return b""
    return payload if payload.startswith(_LAYOUT) else b""


def _headers(heads: Bytes) -> tuple[Ints, Ints]:
    """The 6 varints after the layout (n, min, max, sum, clamped, width) of all rows at once.

    Returns the values (a row per blob) and where each row's buckets start: -1 when the
    header does not end inside ``heads`` or a value has over 8 bytes (left to hdr_codec).
    """
    rows, cols = heads.shape
    last = heads < 0x80  # the byte that ends a varint
    ended: Ints = np.cumsum(last, axis=1, dtype=np.int64)
    varint: Ints = ended - last  # which varint each byte belongs to
    column = np.broadcast_to(np.arange(cols, dtype=np.int64), heads.shape)
    after_end = np.concatenate((np.ones((rows, 1), bool), last[:, :-1]), axis=1)
    begins = np.maximum.accumulate(np.where(after_end, column, 0), axis=1)
    shift = 7 * (column - begins)
    wide = ((varint < 6) & (shift > 49)).any(axis=1)
    part = (heads & 0x7F).astype(np.int64) << np.minimum(shift, 49)
    values = np.stack([np.where(varint == k, part, 0).sum(axis=1) for k in range(6)], axis=1)
    end = np.argmax(ended >= 6, axis=1)
    body = np.where((ended[:, -1] >= 6) & ~wide, end + 1 + len(_LAYOUT), -1)
    return values, body


def decode_many(blobs: Sequence[bytes | None]) -> HistTable:
    """One table of all blobs' buckets, in order; a missing or empty blob is an empty row.

    Raises:
        ValueError: a blob is not a perflab histogram (the message says what is wrong).
    """
    rows = len(blobs)
    payloads = [_inflate(blob) for blob in blobs]
    window = len(_LAYOUT) + _HEAD_BYTES
    heads = b"".join(p[len(_LAYOUT) : window].ljust(_HEAD_BYTES, b"\xff") for p in payloads)
    header, body_at = _headers(np.frombuffer(heads, dtype=np.uint8).reshape(rows, _HEAD_BYTES))
    n, width = header[:, 0], header[:, 5]
    sizes = np.array([len(p) for p in payloads], dtype=np.int64)
    fast = (body_at >= 0) & np.isin(width, (1, 2, 4, 8)) & (sizes - body_at == n * (2 + width))
    totals = np.where(fast, header[:, 1:4].T, 0)  # min, max, sum
    parts: list[Part | None] = [None] * rows
    odd = _unplane(payloads, body_at, n, width, fast & (n > 0), parts)
    for r in sorted({*np.flatnonzero(~fast).tolist(), *odd}):
        blob = blobs[r]
        if blob:
            record = hdr_codec.from_bytes(blob)
            positive = record.counts > 0
            parts[r] = (record.indices[positive], record.counts[positive])
            totals[:, r] = record.min_us, record.max_us, record.sum_us
    present = [p for p in parts if p is not None]
    lengths = [0 if p is None else len(p[0]) for p in parts]
    offsets = np.concatenate(([0], np.cumsum(lengths, dtype=np.int64)))
    if not present:
        empty = np.zeros(0, dtype=np.int64)
        return HistTable(offsets, empty, empty.copy(), *totals)
    index = np.concatenate([p[0] for p in present], dtype=np.int64)
    count = np.concatenate([p[1] for p in present], dtype=np.int64)
    return HistTable(offsets, index, count, *totals)


def _unplane(
    payloads: list[bytes],
    body_at: Ints,
    n: Ints,
    width: Ints,
    fast: npt.NDArray[np.bool_],
    parts: list[Part | None],
) -> list[int]:
    """Fill ``parts[r]`` with (indices, counts) views for each fast row, a shape at a time.

    Returns the rows left for the careful decoder (zero counts, which to_bytes never writes).
    """
    odd: list[int] = []
    shape_key = np.where(fast, n * 16 + width, -1)
    order = np.argsort(shape_key, kind="stable")
    for members in np.split(order, np.flatnonzero(np.diff(shape_key[order])) + 1):
        if not fast[members[0]]:
            continue
        size, wide = int(n[members[0]]), int(width[members[0]])
        rows = members.tolist()
        data = b"".join(
            payloads[r][a:] for r, a in zip(rows, body_at[members].tolist(), strict=True)
        )
        planes = np.frombuffer(data, dtype=np.uint8).reshape(len(rows), 2 + wide, size)
        deltas = planes[:, 1].astype(np.int32) << 8
        deltas |= planes[:, 0]
        indices = np.cumsum(deltas, axis=1, dtype=np.int32)  # the first delta is absolute
        counts = np.ascontiguousarray(planes[:, 2:].transpose(0, 2, 1)).view(f"<u{wide}")
        counts = counts.reshape(len(rows), size)
        if counts.min() == 0:
            odd.extend(rows)
            continue
        for i, r in enumerate(rows):
            parts[r] = (indices[i], counts[i])
    return odd


def row_percentiles(table: HistTable, percentiles: Sequence[float]) -> Floats:
    """Percentiles (µs) of each row on its own, a column per percentile; NaN for empty rows."""
    ps = np.asarray(percentiles, dtype=np.float64)
    out = np.full((table.rows, ps.size), np.nan)
    lengths = np.diff(table.offsets)
    rows = np.flatnonzero(lengths > 0)
    if not rows.size:
        return out
    cumulative = np.cumsum(table.count)
    starts = table.offsets[rows]
    before = cumulative[starts] - table.count[starts]
    totals = cumulative[table.offsets[rows + 1] - 1] - before
    rank = np.clip(np.ceil(ps[None, :] / 100.0 * totals[:, None]), 1, totals[:, None])
    position = np.searchsorted(cumulative, before[:, None] + rank.astype(np.int64), side="left")
    _, high = hdr_codec.bucket_bounds(table.index[position])
    low_v, high_v = table.min_us[rows, None], table.max_us[rows, None]
    out[rows] = np.where(rank <= 1, low_v, np.clip(high, low_v, high_v))
    return out


def range_percentiles(
    table: HistTable, cuts: Sequence[int] | Ints, percentiles: Sequence[float]
) -> tuple[Floats, Ints]:
    """Percentiles (µs) of the merge of rows ``cuts[i] : cuts[i + 1]``, and its value count.

    Rows must be ordered so each range is contiguous (seconds of a time window). A range
    without values gets NaN; ask for 100 to get the exact maximum.
    """
    ps = np.asarray(percentiles, dtype=np.float64)
    bounds = np.asarray(cuts, dtype=np.int64)
    groups = len(bounds) - 1
    out = np.full((groups, ps.size), np.nan)
    sizes = np.zeros(groups, dtype=np.int64)
    entry_cuts = table.offsets[bounds]
    for g in range(groups):
        a, b = int(entry_cuts[g]), int(entry_cuts[g + 1])
        if a == b:
            continue
        idx = table.index[a:b]
        low = int(idx.min())
        cumulative = np.cumsum(np.bincount(idx - low, weights=table.count[a:b]))
        total = int(cumulative[-1])
        rank = np.clip(np.ceil(ps / 100.0 * total), 1, total)
        _, high = hdr_codec.bucket_bounds(np.searchsorted(cumulative, rank) + np.int64(low))
        rows = slice(int(bounds[g]), int(bounds[g + 1]))
        nonempty = np.diff(table.offsets[rows.start : rows.stop + 1]) > 0
        min_v = int(table.min_us[rows][nonempty].min())
        max_v = int(table.max_us[rows][nonempty].max())
        out[g] = np.where(rank <= 1, min_v, np.clip(high, min_v, max_v))
        sizes[g] = total
    return out, sizes


@dataclass(frozen=True, slots=True)
class ColumnSummary:
    """What a report needs from one histogram column (e.g. every row's ``latency_hist``)."""

    window: Floats  # percentiles of each window's merged rows (a row per window), µs
    window_count: Ints  # values per window
    row: Floats  # percentiles of each row alone (a row per row), µs
    merged: list[LatencyHistogram]  # the exact merge of each label's rows


def summarize(
    blobs: Sequence[bytes | None],
    cuts: Sequence[int] | Ints,
    labels: Ints,
    n_labels: int,
    window_ps: Sequence[float],
    row_ps: Sequence[float],
    *,
    chunk_rows: int = 2048,
) -> ColumnSummary:
    """Windows' merged percentiles, rows' own percentiles and per-label merges in one pass.

    ``cuts`` split the rows into consecutive windows (``cuts[0] == 0``, ``cuts[-1] ==
    len(blobs)``). The rows are decoded a few thousand at a time, whole windows per chunk:
    small temporaries are reused by the allocator, where arrays of the whole run would cost
    a page fault per 4 kB on every numpy pass.
    """
    bounds = np.asarray(cuts, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    span = hdr_codec.N_BUCKETS
    window = np.full((len(bounds) - 1, len(window_ps)), np.nan)
    window_count = np.zeros(len(bounds) - 1, dtype=np.int64)
    row = np.full((len(blobs), len(row_ps)), np.nan)
    dense = np.zeros(n_labels * span, dtype=np.float64)
    totals = np.zeros((4, len(blobs)), dtype=np.int64)  # min, max, sum, buckets
    first = 0
    while first < len(bounds) - 1:
        last = int(np.searchsorted(bounds, bounds[first] + chunk_rows, side="right")) - 1
        last = max(last, first + 1)
        a, b = int(bounds[first]), int(bounds[last])
        table = decode_many(blobs[a:b])
        window[first:last], window_count[first:last] = range_percentiles(
            table, bounds[first : last + 1] - a, window_ps
        )
        if len(row_ps):
            row[a:b] = row_percentiles(table, row_ps)
        lengths = np.diff(table.offsets)
        totals[:, a:b] = table.min_us, table.max_us, table.sum_us, lengths
        if n_labels:
            dense += _label_counts(table, labels[a:b], lengths, dense.size)
        first = last
    return ColumnSummary(window, window_count, row, _label_merges(dense, totals, labels, n_labels))


def _label_counts(table: HistTable, labels: Ints, lengths: Ints, size: int) -> Floats:
    """Bucket counts per label, side by side: label ``k``'s at ``k * N_BUCKETS``."""
    key = np.repeat(labels * hdr_codec.N_BUCKETS, lengths)
    key += table.index
    weights = table.count
    if labels.min() < 0:  # label -1 makes every key negative: index < N_BUCKETS
        keep = key >= 0
        key, weights = key[keep], weights[keep]
    counts: Floats = np.bincount(key, weights=weights, minlength=size).astype(
        np.float64, copy=False
    )
    return counts


def _label_merges(
    dense: Floats, totals: Ints, labels: Ints, n_labels: int
) -> list[LatencyHistogram]:
    span = hdr_codec.N_BUCKETS
    out = []
    for label in range(n_labels):
        counts = dense[label * span : (label + 1) * span]
        indices = np.flatnonzero(counts)
        rows = np.flatnonzero(labels == label)
        if not indices.size:
            out.append(LatencyHistogram())
            continue
        rows = rows[totals[3, rows] > 0]
        out.append(
            LatencyHistogram.from_sparse(
                indices,
                counts[indices].astype(np.int64),
                min_us=int(totals[0, rows].min()),
                max_us=int(totals[1, rows].max()),
                sum_us=int(totals[2, rows].sum()),
            )
        )
    return out
