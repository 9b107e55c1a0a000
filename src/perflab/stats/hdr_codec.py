"""HdrHistogram's bucket layout at 1 µs .. 1 hour, 3 digits, and a histogram's byte forms.

Layout (HdrHistogram with lowest trackable value 1, highest 3,600,000,000 and 3 significant
digits): values 0..2047 µs have a bucket each; values in [1024·2^s, 2048·2^s) share buckets
of width 2^s, so a bucket's highest value overstates any value in it by under 1/1024. The
counts-array index of ``v`` is ``s·1024 + (v >> s)`` with ``s = max(bit_length(v) - 11, 0)``,
exactly HdrHistogram's, so its wire format is ours too.

A :class:`HistogramRecord` is a histogram as plain data; :func:`dense_counts` checks its
totals against its buckets, the codecs check framing (magic, version, layout, lengths, zlib).

* **perflab format** (``to_bytes``), shipped between processes every second, so small and
  en/decoded by numpy without a per-bucket Python loop::

      b"PLHG" | version (1 byte) | zlib(payload)
      payload v1 = varints: sub_bucket_bits, max_value, n, min, max, sum, clamped, width
                   | n index deltas as uint16 (the first one absolute)
                   | n counts as uint<width*8>
      each column little-endian and byte-planed: all low bytes, then the next bytes, ...

  Byte planes put the mostly-zero high bytes side by side, where zlib squeezes them: as
  small as varints (within 10 %) at a fraction of the encoding time. Each version has its
  own decoder in ``_NATIVE_DECODERS``, so old bytes keep loading.

* **HdrHistogram V2 compressed** (``"HISTF..."`` base64), as the Java, C and Python
  HdrHistogram libraries and ``.hlog`` files write it. Interop only: a plain Python loop.
"""

from __future__ import annotations

import base64
import operator
import struct
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

Int64Array = npt.NDArray[np.int64]

MAX_VALUE_US = 3_600_000_000
SIGNIFICANT_DIGITS = 3
SUB_BUCKET_BITS = 11  # 2048 sub-buckets: 2 · 10^3 rounded up to a power of two
_HALF_BITS = SUB_BUCKET_BITS - 1
_HALF = 1 << _HALF_BITS
_EXACT_LIMIT = 1 << SUB_BUCKET_BITS
_FLOAT_EXPONENT_TO_SHIFT = 1023 + SUB_BUCKET_BITS - 1  # biased exponent is bit_length + 1022

MAGIC = b"PLHG"
VERSION = 1
_MAX_PAYLOAD = 1 << 20  # 23,221 buckets of at most 10 bytes; anything larger is not ours
_COUNT_WIDTHS = (1, 2, 4, 8)  # bytes per count: the narrowest that holds the largest
_MAX_HEADER_VARINT = 20  # sums of many huge values outgrow 64 bits; Python ints do not care

_V2_ENCODING_COOKIE = 0x1C849313
_V2_COMPRESSED_COOKIE = 0x1C849314
_V2_COOKIE_BASE_MASK = ~0xF0  # the 0xF0 nibble holds a word size, which V2 ignores
_V2_HEADER = struct.Struct(">IIiiqqd")
_V2_OUTER = struct.Struct(">II")
_V2_MAX_POSITION = 1 << 40  # far beyond any real counts array; guards absurd zero runs


def index_of(value: int) -> int:
    """Counts-array index of one value in [0, MAX_VALUE_US]."""
    shift = value.bit_length() - SUB_BUCKET_BITS
    return value if shift <= 0 else (shift << _HALF_BITS) + (value >> shift)


TOP_INDEX = index_of(MAX_VALUE_US)
N_BUCKETS = TOP_INDEX + 1


def indices_of(values: Int64Array, out: Int64Array, scratch: Int64Array) -> Int64Array:
    """Vectorized :func:`index_of` for values in [0, MAX]: float64's exponent is bit length.

    ``out`` and ``scratch`` are reused buffers of ``values.size``: fresh multi-megabyte
    temporaries per chunk cost more in page faults than the arithmetic itself.
    """
    shift = scratch
    shift.view(np.float64)[...] = values
    np.right_shift(shift, 52, out=shift)
    np.subtract(shift, _FLOAT_EXPONENT_TO_SHIFT, out=shift)
    np.maximum(shift, 0, out=shift)
    np.right_shift(values, shift, out=out)
    np.left_shift(shift, _HALF_BITS, out=shift)
    out += shift
    return out


def bucket_bounds(indices: Int64Array) -> tuple[Int64Array, Int64Array]:
    """Lowest and highest value (inclusive) that each bucket index stands for."""
    shift = np.maximum((indices >> _HALF_BITS) - 1, 0)
    sub = np.where(indices < _EXACT_LIMIT, indices, (indices & (_HALF - 1)) + _HALF)
    low = sub << shift
    return low, low + (np.int64(1) << shift) - 1


@dataclass(frozen=True, slots=True)
class HistogramRecord:
    """A whole histogram as plain data: nonzero buckets ascending, and exact totals."""

    indices: Int64Array
    counts: Int64Array
    min_us: int
    max_us: int
    sum_us: int
    clamped: int


def dense_counts(record: HistogramRecord) -> Int64Array:
    """The full counts array of a record, once its totals are known to fit its buckets.

    Indices may repeat (their counts add) and come in any order.

    Raises:
        ValueError: an index out of range, a negative count, min or max outside the outermost
            bucket, a sum the buckets cannot make, more clamped than counted, or an empty
            record whose totals are not all 0.
    """
    idx, cnt = record.indices, record.counts
    if idx.ndim != 1 or idx.shape != cnt.shape:
        raise ValueError(f"indices {idx.shape} and counts {cnt.shape} must be equal 1-D")
    if idx.size and (idx.dtype.kind not in "iu" or cnt.dtype.kind not in "iu"):
        raise ValueError(f"indices and counts must be integers, not {idx.dtype}/{cnt.dtype}")
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) > TOP_INDEX):
        raise ValueError(f"bucket index outside [0, {TOP_INDEX}]")
    if cnt.size and int(cnt.min()) < 0:
        raise ValueError("bucket counts must not be negative")
    dense = np.zeros(N_BUCKETS, dtype=np.int64)
    np.add.at(dense, idx.astype(np.intp), cnt.astype(np.int64))
    _check_totals(dense, record)
    return dense


def _check_totals(dense: Int64Array, record: HistogramRecord) -> None:
    min_us, max_us, sum_us, clamped = record.min_us, record.max_us, record.sum_us, record.clamped
    # The occupied buckets, sorted: counts are never negative, so these are exactly the
    # distinct indices with a positive count (np.unique would cost ~2 ms and import numpy.ma).
    indices = np.flatnonzero(dense).astype(np.int64)
    if not indices.size:
        if (min_us, max_us, sum_us, clamped) != (0, 0, 0, 0):
            raise ValueError("an empty histogram needs min_us = max_us = sum_us = clamped = 0")
        return
    low, high = bucket_bounds(indices)
    high = np.minimum(high, MAX_VALUE_US)
    if not int(low[0]) <= min_us <= int(high[0]):
        raise ValueError(f"min_us {min_us} is outside its bucket [{low[0]}, {high[0]}]")
    if not max(min_us, int(low[-1])) <= max_us <= int(high[-1]):
        raise ValueError(f"max_us {max_us} is outside its bucket [{low[-1]}, {high[-1]}]")
    weights = dense[indices].astype(np.float64)
    least, most = float(np.dot(weights, low)), float(np.dot(weights, high))
    if not least * (1 - 1e-9) <= sum_us <= most * (1 + 1e-9):  # slack for float rounding
        raise ValueError(f"sum_us {sum_us} is impossible for these buckets")
    if not 0 <= clamped <= weights.sum():
        raise ValueError(f"clamped {clamped} is not within [0, count]")


# -- perflab format ------------------------------------------------------------------------


def to_bytes(record: HistogramRecord) -> bytes:
    """The perflab format of a record (strictly increasing indices, positive counts)."""
    deltas = np.diff(record.indices, prepend=0).astype("<u2")
    largest = int(record.counts.max()) if record.counts.size else 0
    width = next(w for w in _COUNT_WIDTHS if largest < 1 << (8 * w))
    header = (
        SUB_BUCKET_BITS,
        MAX_VALUE_US,
        len(record.indices),
        record.min_us,
        record.max_us,
        record.sum_us,
        record.clamped,
        width,
    )
    counts = record.counts.astype(f"<u{width}")
    payload = b"".join(map(_varint, header)) + _planes(deltas) + _planes(counts)
    return MAGIC + bytes((VERSION,)) + zlib.compress(payload, 1)


def from_bytes(data: bytes) -> HistogramRecord:
    """Decode perflab-format bytes of any known version.

    Raises:
        TypeError: ``data`` is not bytes-like.
        ValueError: naming what is wrong (magic, version, zlib, lengths, layout).
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"histogram bytes expected, got {type(data).__name__}")
    data = bytes(data)
    if len(data) < len(MAGIC) + 1:
        raise ValueError(f"histogram bytes truncated: {len(data)} bytes, need at least 5")
    if data[: len(MAGIC)] != MAGIC:
        raise ValueError(f"not a perflab histogram: bad magic {data[:4]!r}, expected {MAGIC!r}")
    version = data[len(MAGIC)]
    decoder = _NATIVE_DECODERS.get(version)
    if decoder is None:
        known = ", ".join(map(str, _NATIVE_DECODERS))
        raise ValueError(f"unknown perflab histogram version {version} (known: {known})")
    return decoder(_inflate(data[len(MAGIC) + 1 :]))


def _from_bytes_v1(payload: bytes) -> HistogramRecord:
    header, pos = _read_varints(payload, 8)
    sub_bits, max_value, n, min_us, max_us, sum_us, clamped, width = header
    if (sub_bits, max_value) != (SUB_BUCKET_BITS, MAX_VALUE_US):
        raise ValueError(f"histogram layout (sub-bucket bits, max) {sub_bits, max_value} differs")
    if width not in _COUNT_WIDTHS:
        raise ValueError(f"histogram count width {width} is not one of {_COUNT_WIDTHS}")
    if len(payload) - pos != n * (2 + width):
        raise ValueError(
            f"histogram has {len(payload) - pos} bytes of buckets, header says {n} of {2 + width}"
        )
    deltas = _unplane(payload[pos : pos + 2 * n], "<u2").astype(np.int64)
    counts = _unplane(payload[pos + 2 * n :], f"<u{width}")
    if n and (deltas[1:] == 0).any():
        raise ValueError("histogram bucket indices are not strictly increasing")
    if width == 8 and n and int(counts.max()) >= 1 << 63:
        raise ValueError("histogram bucket count does not fit 63 bits")
    return HistogramRecord(
        np.cumsum(deltas), counts.astype(np.int64), min_us, max_us, sum_us, clamped
    )


_NATIVE_DECODERS = {1: _from_bytes_v1}


def _planes(column: npt.NDArray[np.unsignedinteger[Any]]) -> bytes:
    return column.view(np.uint8).reshape(-1, column.itemsize).T.tobytes()


def _unplane(raw: bytes, dtype: str) -> npt.NDArray[np.unsignedinteger[Any]]:
    planes = np.frombuffer(raw, dtype=np.uint8).reshape(np.dtype(dtype).itemsize, -1)
    return np.ascontiguousarray(planes.T).view(dtype).ravel()


def _varint(value: int) -> bytes:
    if value < 0:
        raise ValueError(f"cannot encode negative {value} as an unsigned varint")
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _read_varints(buf: bytes, n: int) -> tuple[list[int], int]:
    values, pos = [], 0
    for _ in range(n):
        value = 0
        for length in range(_MAX_HEADER_VARINT + 1):
            if length == _MAX_HEADER_VARINT:
                raise ValueError(f"histogram header varint longer than {length} bytes")
            if pos >= len(buf):
                raise ValueError("histogram header truncated inside a varint")
            byte = buf[pos]
            pos += 1
            value |= (byte & 0x7F) << (7 * length)
            if byte < 0x80:
                break
        values.append(value)
    return values, pos


# -- HdrHistogram V2 -----------------------------------------------------------------------


def encode_hdr(record: HistogramRecord) -> str:
    """HdrHistogram V2 compressed base64 of a record's buckets (the totals are not carried).

    Counts are zigzag LEB128 (HdrHistogram's 9-byte variant); a run of two or more empty
    entries is one negative number, as the Java reference writes it.
    """
    body = bytearray()
    position = 0
    for index, count in zip(record.indices.tolist(), record.counts.tolist(), strict=True):
        gap = index - position
        if gap:
            body += _zigzag_varint(-gap if gap > 1 else 0)
        body += _zigzag_varint(count)
        position = index + 1
    header = _V2_HEADER.pack(
        _V2_ENCODING_COOKIE, len(body), 0, SIGNIFICANT_DIGITS, 1, MAX_VALUE_US, 1.0
    )
    compressed = zlib.compress(header + bytes(body))
    outer = _V2_OUTER.pack(_V2_COMPRESSED_COOKIE, len(compressed))
    return base64.b64encode(outer + compressed).decode("ascii")


def decode_hdr(data: str | bytes) -> HistogramRecord:
    """Read HdrHistogram V2 compressed base64 (``"HISTF..."``) recorded in 1 µs, 3 digits.

    The format carries only counts, so min and max are the bounds of the outermost buckets
    and the sum takes every value at its bucket's midpoint: right to 0.1 %, not exactly.
    Values beyond 1 hour (a wider Java histogram) land in the top bucket, counted as clamped.

    Raises:
        ValueError: naming what is wrong (base64, cookie, lengths, zlib, unit, precision).
    """
    try:
        raw = base64.b64decode(data, validate=True)
    except ValueError as exc:  # binascii.Error is one
        raise ValueError(f"HdrHistogram data is not valid base64: {exc}") from exc
    if len(raw) < _V2_OUTER.size:
        raise ValueError(f"HdrHistogram data truncated: {len(raw)} bytes")
    cookie, length = _V2_OUTER.unpack_from(raw)
    if cookie & _V2_COOKIE_BASE_MASK != _V2_COMPRESSED_COOKIE & _V2_COOKIE_BASE_MASK:
        raise ValueError(f"not an HdrHistogram V2 compressed histogram (cookie {cookie:#010x})")
    if length != len(raw) - _V2_OUTER.size:
        raise ValueError(f"HdrHistogram length field says {length}, {len(raw) - 8} bytes follow")
    payload = _inflate(raw[_V2_OUTER.size :])
    if len(payload) < _V2_HEADER.size:
        raise ValueError(f"HdrHistogram payload truncated: {len(payload)} bytes")
    cookie, body_len, offset, digits, lowest, _, _ = _V2_HEADER.unpack_from(payload)
    if cookie & _V2_COOKIE_BASE_MASK != _V2_ENCODING_COOKIE & _V2_COOKIE_BASE_MASK:
        raise ValueError(f"unsupported HdrHistogram encoding cookie {cookie:#010x} (V2 only)")
    if body_len != len(payload) - _V2_HEADER.size:
        raise ValueError(f"HdrHistogram counts length {body_len} does not match its payload")
    if (lowest, digits, offset) != (1, SIGNIFICANT_DIGITS, 0):
        raise ValueError(
            f"HdrHistogram (lowest, digits, index offset) {lowest, digits, offset} "
            "is not (1, 3, 0): only 1 µs units with 3 significant digits are readable"
        )
    return _v2_record(*_v2_counts(payload[_V2_HEADER.size :]))


def _v2_counts(body: bytes) -> tuple[Int64Array, Int64Array]:
    indices: list[int] = []
    counts: list[int] = []
    position = pos = 0
    while pos < len(body):
        value, pos = _read_zigzag(body, pos)
        if value < 0:
            position -= value
        else:
            if value:
                indices.append(position)
                counts.append(value)
            position += 1
        if position > _V2_MAX_POSITION:
            raise ValueError(f"HdrHistogram counts run past index {_V2_MAX_POSITION}")
    return np.array(indices, dtype=np.int64), np.array(counts, dtype=np.int64)


def _v2_record(indices: Int64Array, counts: Int64Array) -> HistogramRecord:
    folded = np.zeros(N_BUCKETS, dtype=np.int64)
    np.add.at(folded, np.minimum(indices, TOP_INDEX), counts)
    nonzero = np.flatnonzero(folded)
    if not nonzero.size:
        return HistogramRecord(nonzero, nonzero, 0, 0, 0, 0)
    low, high = bucket_bounds(nonzero)
    high = np.minimum(high, MAX_VALUE_US)
    weights = folded[nonzero]
    total = sum(map(operator.mul, weights.tolist(), ((low + high) // 2).tolist()))
    clamped = int(counts[indices > TOP_INDEX].sum())
    return HistogramRecord(nonzero, weights, int(low[0]), int(high[-1]), total, clamped)


def _zigzag_varint(value: int) -> bytes:
    """HdrHistogram's zigzag LEB128: up to 8 groups of 7 bits, then a 9th byte of 8 bits."""
    if not -(1 << 63) <= value < 1 << 63:
        raise ValueError(f"HdrHistogram count {value} does not fit 64 bits")
    zz = ((value << 1) ^ (value >> 63)) & 0xFFFF_FFFF_FFFF_FFFF
    out = bytearray()
    for _ in range(8):
        if zz <= 0x7F:
            out.append(zz)
            return bytes(out)
        out.append((zz & 0x7F) | 0x80)
        zz >>= 7
    out.append(zz)
    return bytes(out)


def _read_zigzag(buf: bytes, pos: int) -> tuple[int, int]:
    zz = 0
    for k in range(9):
        if pos >= len(buf):
            raise ValueError("HdrHistogram counts truncated inside a varint")
        byte = buf[pos]
        pos += 1
        if k == 8:
            zz |= byte << 56
            break
        zz |= (byte & 0x7F) << (7 * k)
        if byte < 0x80:
            break
    return (zz >> 1) ^ -(zz & 1), pos


# -- shared --------------------------------------------------------------------------------


def _inflate(compressed: bytes) -> bytes:
    inflater = zlib.decompressobj()
    try:
        payload = inflater.decompress(compressed, _MAX_PAYLOAD)
    except zlib.error as exc:
        raise ValueError(f"histogram payload is corrupt: {exc}") from exc
    if inflater.unconsumed_tail:
        raise ValueError(f"histogram payload inflates past {_MAX_PAYLOAD} bytes")
    if not inflater.eof:
        raise ValueError("histogram payload is truncated (zlib stream incomplete)")
    if inflater.unused_data:
        raise ValueError(f"{len(inflater.unused_data)} stray bytes after histogram payload")
    return payload
