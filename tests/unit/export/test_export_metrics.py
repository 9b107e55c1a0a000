"""RunMetrics: exact bucket counts, cumulative totals, gauges, and label values with no secret."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from perflab.export.metrics import BOUNDS_S, BOUNDS_US, FailOnce, RunMetrics, safe_label
from perflab.stats import LatencyHistogram
from perflab.stats.hdr_codec import bucket_bounds, index_of


def _hist(values: np.ndarray[Any, Any]) -> LatencyHistogram:
    hist = LatencyHistogram()
    hist.record_many(values)
    return hist


def _row(name: str, values: np.ndarray[Any, Any], **extra: Any) -> dict[str, Any]:
    hist = _hist(values)
    row: dict[str, Any] = {
        "second": 0,
        "name": name,
        "kind": "request",
        "requests": int(values.size),
        "ok": int(values.size),
        "errors": 0,
        "dropped": 0,
        "bytes_in": 10 * int(values.size),
        "errors_by_kind": {},
        "latency_hist": hist.to_bytes(),
        "service_hist": hist.to_bytes(),
    }
    row.update(extra)
    return row


GENERATOR = {
    "second": 0,
    "workers": 2,
    "cpu_pct_max": 37.5,
    "inflight": 4,
    "connections": 2,
    "sched_lag_hist": _hist(np.array([100, 200, 30_000])).to_bytes(),
}


def test_bounds_are_round_values_moved_to_bucket_edges() -> None:
    assert len(BOUNDS_US) == 18 and list(BOUNDS_US) == sorted(BOUNDS_US)
    assert BOUNDS_S[0] == 0.0001 and BOUNDS_S[3] == 0.001 and BOUNDS_S[5] == 0.005003
    for edge in BOUNDS_US:
        _, high = bucket_bounds(np.array([index_of(edge)], dtype=np.int64))
        assert int(high[0]) == edge  # the top of a bucket: no bucket straddles it
    rounds = [100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000]
    for edge, target in zip(BOUNDS_US, rounds, strict=False):
        assert target <= edge <= target * 1.001


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_bucket_counts_equal_numpy_counts_exactly(seed: int) -> None:
    rng = np.random.default_rng(seed)
    # log-normal around 3 ms reaching past 60 s, plus every boundary and its neighbours
    edges = np.array(BOUNDS_US, dtype=np.int64)
    tricky = np.concatenate([edges - 1, edges, edges + 1])
    seconds = [np.rint(rng.lognormal(np.log(3_000), 2.0, 20_000)).astype(np.int64), tricky]
    seconds.append(rng.integers(0, 2_000, 5_000))
    metrics = RunMetrics()
    for chunk in seconds:
        metrics.add_interval([_row("GET /", chunk)], GENERATOR)
    values = np.concatenate(seconds)
    (totals,) = metrics.snapshot().series.values()
    cumulative = totals.latency.cumulative()
    expected = [int(np.count_nonzero(values <= edge)) for edge in BOUNDS_US] + [values.size]
    assert cumulative == expected
    assert totals.latency.count == values.size == totals.requests
    assert totals.latency.sum_us == int(values.sum())
    assert totals.latency.min_us == int(values.min())
    assert totals.latency.max_us == int(values.max())


def test_totals_accumulate_per_name_and_kind() -> None:
    metrics = RunMetrics()
    metrics.begin({"id": "abc123", "name": "checkout"})
    errors = {"timeout": 2, "http_503": 1}
    for _ in range(3):
        rows = [
            _row("GET /a", np.array([100, 200]), errors=3, errors_by_kind=errors, dropped=1),
            _row("journey", np.array([5_000]), kind="transaction"),
        ]
        metrics.add_interval(rows, GENERATOR)
    snap = metrics.snapshot()
    assert snap.run_id == "abc123" and snap.run_name == "checkout" and snap.active
    a = snap.series[("GET /a", "request")]
    assert (a.requests, a.errors, a.dropped, a.bytes_in) == (6, 9, 3, 60)
    assert a.errors_by_kind == {"timeout": 6, "http_503": 3}
    assert snap.series[("journey", "transaction")].latency.count == 3
    metrics.finish()
    assert not metrics.snapshot().active


def test_snapshot_is_a_copy() -> None:
    metrics = RunMetrics()
    metrics.add_interval([_row("GET /", np.array([100]))], GENERATOR)
    before = metrics.snapshot()
    metrics.add_interval([_row("GET /", np.array([100]), errors_by_kind={"reset": 1})], GENERATOR)
    totals = before.series[("GET /", "request")]
    assert totals.requests == 1 and totals.latency.count == 1 and totals.errors_by_kind == {}


def test_gauges_come_from_the_generator_row() -> None:
    metrics = RunMetrics()
    metrics.add_interval([], {**GENERATOR, "vus": 7})
    g = metrics.snapshot().gauges
    assert (g.inflight, g.connections, g.cpu_percent, g.vus) == (4, 2, 37.5, 7)
    assert g.sched_lag_p99_s == pytest.approx(0.03, rel=1e-3)
    metrics.add_interval([], {"second": 1})
    assert metrics.snapshot().gauges.vus is None


@pytest.mark.parametrize(
    ("raw", "secret"),
    [
        ("GET https://alice:s3cret@api.example.com/x", "s3cret"),
        ("GET /items?token=abc123xyz&page=2", "abc123xyz"),
        ("https://h/?api_key=K3YVALUE", "K3YVALUE"),
    ],
)
def test_labels_never_carry_secrets(raw: str, secret: str) -> None:
    assert secret not in safe_label(raw)
    metrics = RunMetrics()
    metrics.begin({"id": "x", "name": raw})
    metrics.add_interval([_row(raw, np.array([100]), errors_by_kind={raw: 1})], GENERATOR)
    snap = metrics.snapshot()
    texts = [snap.run_name, *(n for n, _ in snap.series)]
    texts += [e for t in snap.series.values() for e in t.errors_by_kind]
    assert all(secret not in t for t in texts)
    assert safe_label("GET /items/{id}") == "GET /items/{id}"


def test_fail_once_swallows_and_logs_the_first(caplog: pytest.LogCaptureFixture) -> None:
    fail = FailOnce("test")
    for _ in range(3):
        with fail.guard("interval"):
            raise ValueError("boom")
    assert fail.failures == 3
    assert [r.getMessage() for r in caplog.records if "boom" in r.getMessage()] == [
        "test export: interval failed (ValueError: boom); later failures are not shown"
    ]
