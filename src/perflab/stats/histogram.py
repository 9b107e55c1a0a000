"""A latency histogram in microseconds: HdrHistogram's buckets, numpy speed, exact merges.

The bucket layout and byte forms live in :mod:`perflab.stats.hdr_codec`: values 0..2047 µs
are exact, larger ones share buckets less than 0.1 % wide, up to 1 hour.

Invariants: the bucket counts, ``count``, the exact integer ``sum`` and the exact ``min`` and
``max`` always describe the same multiset of (clamped) values, so merging is plain addition
and ``merge(a, b) == histogram(a ++ b)`` holds exactly. A histogram is not thread-safe: one
writer, and readers only after it has handed the histogram over.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from perflab.stats import hdr_codec
from perflab.stats.hdr_codec import (
    MAX_VALUE_US,
    N_BUCKETS,
    SIGNIFICANT_DIGITS,
    SUB_BUCKET_BITS,
    HistogramRecord,
    Int64Array,
    bucket_bounds,
    dense_counts,
    index_of,
    indices_of,
)

__all__ = ["MAX_VALUE_US", "SIGNIFICANT_DIGITS", "LatencyHistogram"]

_EXACT_LIMIT = 1 << SUB_BUCKET_BITS  # values below this are their own bucket index
_PENDING_LIMIT = 4096  # record() buffers this many values, then bins them with numpy
_CHUNK = 1 << 18  # record_many works in cache-sized chunks; int64 sums cannot overflow
_SUMMARY_PERCENTILES = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0, "p99.9": 99.9}


def _as_int(value: object) -> int:
    """One latency as an int; floats round half-to-even like ``np.rint`` in record_many."""
    if isinstance(value, float | np.floating):
        number = float(value)
        if math.isnan(number):
            raise ValueError("latency is NaN")
        if math.isinf(number):
            return MAX_VALUE_US + 1 if number > 0 else -1
        return round(number)
    if isinstance(value, bool | np.bool_):
        raise TypeError("latency must be a number of microseconds, not a bool")
    return operator.index(value)  # type: ignore[arg-type]  # TypeError names the bad type


class LatencyHistogram:
    """Counts of latencies (µs) in HdrHistogram buckets, with exact count, sum, min and max.

    Out-of-range input: values above :data:`MAX_VALUE_US` (1 hour) are recorded as that
    value and counted in :attr:`clamped`. A negative value passed to :meth:`record` raises
    ``ValueError`` (it means a clock went backwards or start and stop were swapped); in
    :meth:`record_many` negative values are recorded as 0 and also counted in
    :attr:`clamped`, so one bad sample cannot throw away a whole second of data. Floats are
    rounded half-to-even; NaN raises ``ValueError`` everywhere.

    Pickling goes through :meth:`to_bytes` (a few kB instead of the 186 kB counts array), so
    histograms are cheap to send to another process as they are.
    """

    __slots__ = ("_clamped", "_count", "_counts", "_max", "_min", "_pending", "_sum")
    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __init__(self) -> None:
        self._counts: Int64Array = np.zeros(N_BUCKETS, dtype=np.int64)
        self._pending: list[int] = []  # in-range ints from record(), not yet binned
        self._count = self._sum = self._max = self._clamped = 0  # _count excludes _pending
        self._min = MAX_VALUE_US + 1

    def record(self, value_us: float, count: int = 1) -> None:
        """Record ``count`` occurrences of one latency (an int; a float is rounded).

        The common case (an in-range int, count 1) only appends to a small buffer that is
        binned with numpy every 4096 values or when the histogram is read: about half the
        cost of binning each value in Python, and a seventh of hdrh's ``record_value``.

        Raises:
            ValueError: the value is negative or NaN, or ``count`` is negative.
        """
        if count == 1:
            value = value_us if type(value_us) is int else _as_int(value_us)
            if 0 <= value <= MAX_VALUE_US:
                pending = self._pending
                pending.append(value)
                if len(pending) >= _PENDING_LIMIT:
                    self._flush()
                return
        self._record_slow(value_us, count)

    def _record_slow(self, value_us: object, count: int) -> None:
        value = _as_int(value_us)
        count = operator.index(count)
        if value < 0 or count < 0:
            raise ValueError(f"negative latency {value_us!r} µs or count {count}")
        if count == 0:
            return
        if value > MAX_VALUE_US:
            value = MAX_VALUE_US
            self._clamped += count
        self._counts[index_of(value)] += count
        self._count += count
        self._sum += value * count
        self._min = min(self._min, value)
        self._max = max(self._max, value)

    def record_many(self, values_us: npt.ArrayLike) -> None:
        """Record every latency in an array (any shape; int, uint or float dtype).

        Floats are rounded half-to-even first; negative values then become 0 and values
        above the maximum become the maximum, both counted in :attr:`clamped`.

        Raises:
            TypeError: the array is not numeric (bool, object, ...).
            ValueError: a float value is NaN; nothing is recorded then.
        """
        values = np.asarray(values_us).ravel()
        if values.dtype == np.int64 and 0 < values.size <= _CHUNK:
            # The load recorder's mid-run batch: in-range int64 goes straight to binning,
            # skipping the conversions below (~20 numpy calls, ~40 µs of scheduling lag
            # each fold here).
            low, high = int(values.min()), int(values.max())
            if low >= 0 and high <= MAX_VALUE_US:
                self._add_in_range(values, low, high)
                return
        kind = values.dtype.kind
        if kind not in "iuf":
            raise TypeError(f"latencies must be an int or float array, not dtype {values.dtype}")
        if kind == "f" and np.isnan(values).any():
            raise ValueError("latencies contain NaN")
        buffers = np.empty((3, min(values.size, _CHUNK)), dtype=np.int64)
        for start in range(0, values.size, _CHUNK):
            self._add_chunk(values[start : start + _CHUNK], buffers)

    def _add_chunk(self, chunk: npt.NDArray[np.number[Any]], buffers: Int64Array) -> None:
        n = chunk.size
        ints, out, scratch = buffers[0, :n], buffers[1, :n], buffers[2, :n]
        values: npt.NDArray[np.number[Any]] = chunk
        if chunk.dtype.kind == "f":
            values = np.rint(chunk, out=scratch.view(np.float64))
        elif chunk.dtype != np.int64 and chunk.dtype != np.uint64:
            values = ints  # narrow ints widen losslessly; uint64 must not wrap, so stays
            np.copyto(ints, chunk)
        low, high = values.min(), values.max()
        if low < 0 or high > MAX_VALUE_US:
            below = np.count_nonzero(values < 0)
            self._clamped += int(below) + int(np.count_nonzero(values > MAX_VALUE_US))
            low, high = np.clip((low, high), 0, MAX_VALUE_US)
            values = np.clip(values, 0, MAX_VALUE_US, out=ints, casting="unsafe")
        if values.dtype != np.int64:
            np.copyto(ints, values, casting="unsafe")  # in range now, so exact
            values = ints
        self._add_in_range(values.view(np.int64), int(low), int(high), out, scratch)

    def _add_in_range(
        self,
        values: Int64Array,
        low: int,
        high: int,
        out: Int64Array | None = None,
        scratch: Int64Array | None = None,
    ) -> None:
        """Bin values in [0, MAX]; ``out``/``scratch`` are reusable buffers of their size."""
        self._count += values.size
        self._sum += int(values.sum())
        self._min = min(self._min, low)
        self._max = max(self._max, high)
        if high < _EXACT_LIMIT:  # below 2048 µs a value is its own bucket index
            indices = values
        else:
            if out is None or scratch is None:
                out, scratch = np.empty((2, values.size), dtype=np.int64)
            indices = indices_of(values, out, scratch)
        bins = np.bincount(indices)
        self._counts[: bins.size] += bins

    def _flush(self) -> None:
        if self._pending:
            values = np.array(self._pending, dtype=np.int64)
            self._pending.clear()
            self._add_in_range(values, int(values.min()), int(values.max()))

    def merge(self, other: LatencyHistogram) -> None:
        """Add every value of ``other`` to this histogram; exact, since the layouts agree."""
        if not isinstance(other, LatencyHistogram):
            raise TypeError(f"can only merge a LatencyHistogram, not {type(other).__name__}")
        self._flush()
        other._flush()
        if other._count == 0:
            return
        self._counts += other._counts
        self._count += other._count
        self._sum += other._sum
        self._clamped += other._clamped
        self._min = min(self._min, other._min)
        self._max = max(self._max, other._max)

    def merge_sparse(
        self,
        indices: npt.ArrayLike,
        counts: npt.ArrayLike,
        *,
        min_us: int,
        max_us: int,
        sum_us: int,
        clamped: int = 0,
    ) -> None:
        """``merge(from_sparse(...))`` without building the histogram in between.

        For merging our own workers' seconds, many times a second on a core the workers
        share: no 188 kB temporary and none of :meth:`from_sparse`'s consistency checks of
        untrusted input (the coordinator's merge of a second: ~3.5 -> ~1.5 ms here); bucket
        indices are still range-checked.
        """
        idx = np.asarray(indices)
        cnt = np.asarray(counts, dtype=np.int64)
        if idx.shape != cnt.shape or idx.ndim != 1:
            raise ValueError(f"indices {idx.shape} and counts {cnt.shape} must be equal 1-D")
        added = int(cnt.sum()) if cnt.size else 0
        if added == 0:
            return
        if int(idx.min()) < 0 or int(idx.max()) >= N_BUCKETS:
            raise ValueError(f"bucket index outside [0, {N_BUCKETS - 1}]")
        self._flush()
        np.add.at(self._counts, idx.astype(np.intp), cnt)
        self._count += added
        self._sum += sum_us
        self._clamped += clamped
        self._min = min(self._min, min_us)
        self._max = max(self._max, max_us)

    @classmethod
    def merged(cls, hists: Iterable[LatencyHistogram]) -> Self:
        """One histogram holding the values of all of ``hists`` (empty if there are none)."""
        total = cls()
        for hist in hists:
            total.merge(hist)
        return total

    def reset(self) -> None:
        """Forget every value, keeping the counts array (for per-interval reuse).

        Zeroing only :meth:`_span` keeps a worker's once-a-second reset from touching 188 kB.
        """
        if self._count:
            low, end = self._span()
            self._counts[low:end] = 0
        self._pending.clear()
        self._count = self._sum = self._max = self._clamped = 0
        self._min = MAX_VALUE_US + 1

    def copy(self) -> Self:
        """An independent histogram with the same values."""
        twin = type(self)()
        twin.merge(self)
        return twin

    @property
    def count(self) -> int:
        """How many values were recorded (clamped ones included)."""
        return self._count + len(self._pending)

    @property
    def sum(self) -> int:
        """Exact sum of the recorded (clamped) values, µs."""
        self._flush()
        return self._sum

    @property
    def min(self) -> int:
        """Smallest recorded value, exact; 0 when empty."""
        self._flush()
        return self._min if self._count else 0

    @property
    def max(self) -> int:
        """Largest recorded value, exact; 0 when empty."""
        self._flush()
        return self._max

    @property
    def clamped(self) -> int:
        """How many values were out of range and recorded at the nearest bound instead."""
        return self._clamped

    @property
    def mean(self) -> float:
        """Exact mean (from the integer sum); 0.0 when empty."""
        self._flush()
        return self._sum / self._count if self._count else 0.0

    @property
    def stdev(self) -> float:
        """Population standard deviation (ddof 0); 0.0 when empty.

        Squares are not kept exactly (they would overflow int64 in bulk), so each value is
        taken at its bucket's midpoint, clipped to [min, max], around the exact mean. The
        error is at most 0.05 % of the values' root mean square, and 0 when min == max.
        """
        indices, counts = self.to_sparse()
        if not counts.size:
            return 0.0
        low, high = bucket_bounds(indices.astype(np.int64))
        mid = np.clip((low + high) / 2.0, self._min, self._max)
        deviation = mid - self.mean
        return math.sqrt(float(np.dot(counts, deviation * deviation)) / self._count)

    def percentiles(self, ps: npt.ArrayLike) -> Int64Array:
        """Values at several percentiles at once (cumulative sum + binary search).

        For each ``p`` the target rank is ``r = ceil(p / 100 · count)`` in float64, clipped to
        [1, count], the same rank ``np.percentile(..., method="inverted_cdf")`` picks. The
        answer is the highest value of the bucket holding the r-th smallest value (so at
        most 0.1 % above it, never below), clipped to [min, max]; rank 1 answers min. Hence
        p0 == min and p100 == max exactly, and values below 2048 µs are exact.

        Raises:
            ValueError: a percentile is NaN or outside [0, 100].
        """
        p = np.asarray(ps, dtype=np.float64)
        if not np.all((p >= 0.0) & (p <= 100.0)):
            raise ValueError(f"percentiles must lie in [0, 100], got {ps!r}")
        self._flush()
        n = self._count
        if n == 0:
            return np.zeros(p.shape, dtype=np.int64)
        indices = self._nonzero()
        cumulative = np.cumsum(self._counts[indices])
        rank = np.clip(np.ceil((p / 100.0) * n), 1, n).astype(np.int64)
        position = np.searchsorted(cumulative, rank, side="left")
        _, high = bucket_bounds(indices[position].astype(np.int64))
        values = np.clip(high, self._min, self._max)
        return np.where(rank == 1, self._min, values)

    def percentile(self, p: float) -> int:
        """The value at one percentile; see :meth:`percentiles` for the exact definition."""
        return int(self.percentiles([p])[0])

    def summary(self) -> dict[str, float]:
        """count, min, mean, p50, p90, p95, p99, p99.9, max, stdev (µs) for tables and JSON."""
        values = self.percentiles(list(_SUMMARY_PERCENTILES.values()))
        out = {"count": float(self.count), "min": float(self.min), "mean": self.mean}
        out.update(zip(_SUMMARY_PERCENTILES, values.astype(np.float64).tolist(), strict=True))
        out.update({"max": float(self.max), "stdev": self.stdev})
        return out

    def iter_values(self) -> tuple[Int64Array, Int64Array]:
        """(value, count) per nonzero bucket, ascending, for plotting the percentile spectrum.

        Each value is its bucket's highest value clipped to [min, max], as
        :meth:`percentiles` reports it, so ``cumsum(counts) / count`` against these values
        draws the same curve the percentiles come from.
        """
        indices, counts = self.to_sparse()
        _, high = bucket_bounds(indices.astype(np.int64))
        return np.clip(high, self.min, self.max), counts

    def to_sparse(self) -> tuple[npt.NDArray[np.int32], Int64Array]:
        """(bucket indices ascending, counts) of the nonzero buckets.

        With ``min``, ``max``, ``sum`` and ``clamped`` this is the whole histogram; pass them
        all to :meth:`from_sparse` to rebuild it.
        """
        indices = self._nonzero()
        return indices.astype(np.int32), self._counts[indices]

    def _nonzero(self) -> Int64Array:
        """Indices of nonzero buckets, scanning only the span between min's and max's buckets.

        Latencies cluster, so the span is usually a small part of the 23,552 buckets; a full
        scan would dominate the cost of shipping a one-second histogram.
        """
        self._flush()
        if self._count == 0:
            return np.zeros(0, dtype=np.int64)
        low, end = self._span()
        return np.flatnonzero(self._counts[low:end]).astype(np.int64) + low

    def _span(self) -> tuple[int, int]:
        """[start, end) of the buckets from min's to max's, the only ones that can be
        nonzero (for a histogram that is not empty)."""
        return index_of(self._min), index_of(self._max) + 1

    @classmethod
    def from_sparse(
        cls,
        indices: npt.ArrayLike,
        counts: npt.ArrayLike,
        *,
        min_us: int,
        max_us: int,
        sum_us: int,
        clamped: int = 0,
    ) -> Self:
        """Rebuild a histogram from :meth:`to_sparse` output and its exact totals.

        Indices may repeat (their counts add). An empty histogram needs all totals 0.

        Raises:
            ValueError: the buckets are out of range or the totals cannot belong to them.
        """
        totals = map(operator.index, (min_us, max_us, sum_us, clamped))
        return cls._from_record(HistogramRecord(np.asarray(indices), np.asarray(counts), *totals))

    @classmethod
    def _from_record(cls, record: HistogramRecord) -> Self:
        hist = cls()
        hist._counts = dense_counts(record)
        hist._count = int(hist._counts.sum())
        if hist._count:
            hist._min, hist._max = record.min_us, record.max_us
            hist._sum, hist._clamped = record.sum_us, record.clamped
        return hist

    def _record(self) -> HistogramRecord:
        indices, counts = self.to_sparse()
        totals = (self.min, self.max, self._sum, self._clamped)
        return HistogramRecord(indices.astype(np.int64), counts, *totals)

    def to_bytes(self) -> bytes:
        """Compact, versioned bytes of the whole histogram (format in :mod:`.hdr_codec`)."""
        return hdr_codec.to_bytes(self._record())

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        """The histogram :meth:`to_bytes` wrote, in this or any older format version.

        Raises:
            ValueError: the bytes are corrupt, truncated, of an unknown version or layout,
                or their totals do not fit their buckets.
        """
        record = hdr_codec.from_bytes(data)
        try:
            return cls._from_record(record)
        except ValueError as exc:
            raise ValueError(f"histogram bytes are inconsistent: {exc}") from exc

    def encode(self) -> str:
        """HdrHistogram V2 compressed base64 (``"HISTF..."``), readable by any HdrHistogram."""
        return hdr_codec.encode_hdr(self._record())

    @classmethod
    def decode(cls, data: str | bytes) -> Self:
        """Read an HdrHistogram V2 histogram recorded in 1 µs units with 3 digits.

        That format keeps only bucket counts, so min, max and sum come back right to the
        bucket (0.1 %), not exactly; values beyond 1 hour count as clamped.

        Raises:
            ValueError: the data is malformed or uses another unit or precision.
        """
        return cls._from_record(hdr_codec.decode_hdr(data))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LatencyHistogram):
            return NotImplemented
        mine = (self.count, self.sum, self.min, self.max, self.clamped)
        theirs = (other.count, other.sum, other.min, other.max, other.clamped)
        return mine == theirs and bool(np.array_equal(self._counts, other._counts))

    def __add__(self, other: LatencyHistogram) -> Self:
        if not isinstance(other, LatencyHistogram):
            return NotImplemented
        total = self.copy()
        total.merge(other)
        return total

    def __reduce__(self) -> tuple[Callable[[bytes], LatencyHistogram], tuple[bytes]]:
        return type(self).from_bytes, (self.to_bytes(),)

    def __repr__(self) -> str:
        p50, p99 = self.percentiles([50.0, 99.0]).tolist()
        figures = f"min={self.min}, p50={p50}, p99={p99}, max={self.max}, clamped={self.clamped}"
        return f"LatencyHistogram(count={self.count}, {figures})"
