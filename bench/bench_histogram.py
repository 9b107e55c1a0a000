"""LatencyHistogram against the hdrh package on the same latencies, plus merge and wire costs.

Run: ``python bench/bench_histogram.py [--values 10000000] [--hdrh-budget 18]``.

hdrh records one value per Python call (``record_value``), so it gets the same array in
chunks until its time budget is spent; if the budget runs out first, its 10M figure is
extrapolated from the values it did record, and the output says so. The budget keeps the
whole script under 30 s on a busy machine. Both histograms' counts are compared on the
values both recorded, so the speed-up is between equal results.
"""

from __future__ import annotations

import argparse
import pickle
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt

from perflab.stats import LatencyHistogram

try:
    from hdrh.histogram import HdrHistogram  # type: ignore[import-untyped]
except ImportError:  # pragma: no cover - hdrh is a dev/bench extra
    HdrHistogram = None

Ints = npt.NDArray[np.int64]
MAX_US = 3_600_000_000


def latencies(n: int, seed: int = 1) -> Ints:
    """Log-normal latencies (median 4 ms, p99 ~ 40 ms) with a 0.1 % tail of slow outliers."""
    rng = np.random.default_rng(seed)
    values = rng.lognormal(np.log(4_000), 1.0, n)
    slow = rng.random(n) < 0.001
    values[slow] *= rng.uniform(10, 100, int(slow.sum()))
    return np.minimum(np.rint(values), MAX_US).astype(np.int64)


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_record_many(values: Ints) -> tuple[LatencyHistogram, float]:
    def run() -> LatencyHistogram:
        hist = LatencyHistogram()
        hist.record_many(values)
        return hist

    seconds = best_of(3, run)
    return run(), seconds


def bench_hdrh(values: Ints, budget: float) -> tuple[Any, int, float]:
    """(hdrh histogram, values recorded, seconds spent recording)."""
    hist = HdrHistogram(1, MAX_US, 3)
    record = hist.record_value
    done, spent = 0, 0.0
    for chunk in np.array_split(values, max(1, values.size // 250_000)):
        batch = chunk.tolist()  # list conversion is not hdrh's cost; keep it off the clock
        start = time.perf_counter()
        for value in batch:
            record(value)
        spent += time.perf_counter() - start
        done += len(batch)
        if spent > budget:
            break
    return hist, done, spent


def same_counts(ours: LatencyHistogram, theirs: Any) -> bool:
    indices, counts = ours.to_sparse()
    dense = np.zeros(theirs.counts_len, dtype=np.int64)
    dense[indices] = counts
    return bool((np.ctypeslib.as_array(theirs.counts) == dense).all())


def bench_single_record(values: Ints) -> float:
    batch = values[:200_000].tolist()

    def run() -> None:
        hist = LatencyHistogram()
        record = hist.record
        for value in batch:
            record(value)
        _ = hist.count, hist.max  # reading folds in the buffered tail

    return best_of(3, run) / len(batch)


def bench_wire(values: Ints) -> None:
    per_second = [LatencyHistogram() for _ in range(60)]
    for hist, part in zip(per_second, np.array_split(values[:6_000_000], 60), strict=True):
        hist.record_many(part)
    merge = best_of(3, lambda: LatencyHistogram.merged(per_second))
    print(f"merge 60 one-second histograms (100k values each): {merge * 1e3:8.2f} ms")
    cases = {
        "1 s, 100k values": per_second[0],
        "merged 6M values": LatencyHistogram.merged(per_second),
    }
    for label, hist in cases.items():
        data = hist.to_bytes()
        encode = best_of(20, hist.to_bytes)
        decode = best_of(20, partial(LatencyHistogram.from_bytes, data))
        buckets = hist.to_sparse()[0].size
        print(
            f"{label:>17}: {buckets:5d} buckets, to_bytes {len(data):6d} B "
            f"in {encode * 1e3:5.2f} ms, from_bytes {decode * 1e3:5.2f} ms, "
            f"pickle {len(pickle.dumps(hist)):6d} B, HdrHistogram V2 {len(hist.encode()):6d} B"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=10_000_000)
    parser.add_argument("--hdrh-budget", type=float, default=18.0, help="seconds for hdrh")
    args = parser.parse_args()

    values = latencies(args.values)
    n = values.size
    ours, seconds = bench_record_many(values)
    print(f"perflab record_many, {n:,} values: {seconds:6.3f} s ({seconds / n * 1e9:.1f} ns/value)")
    single = bench_single_record(values)
    print(f"perflab record() one at a time:      {single * 1e9:6.0f} ns/value")
    print("  ", ours)

    if HdrHistogram is None:
        print("hdrh is not installed (pip install hdrhistogram): no comparison")
    else:
        theirs, done, spent = bench_hdrh(values, args.hdrh_budget)
        projected = spent / done * n
        note = "" if done == n else f" (extrapolated from {done:,} values: budget spent)"
        print(f"hdrh record_value loop, {n:,} values: {projected:6.2f} s{note}")
        print(f"speed-up: {projected / seconds:.0f}x")
        prefix = ours if done == n else LatencyHistogram()
        if done != n:
            prefix.record_many(values[:done])
        print(
            f"identical counts on the {done:,} values both recorded: {same_counts(prefix, theirs)}"
        )

    bench_wire(values)


if __name__ == "__main__":
    main()
