"""Chart series from interval rows, checked against run.json and independent merges."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from tests.synthetic_run import synthetic_run

from perflab.report.html.data import run_data, spectrum, window_size
from perflab.stats import LatencyHistogram
from perflab.store import load_run, read_generator, read_intervals

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "run-v1"


def _finite(values: list[float]) -> list[float]:
    return [v for v in values if v == v]


def test_window_size_keeps_points_bounded() -> None:
    assert window_size(1) == 1
    assert window_size(720) == 1
    assert window_size(721) == 2
    assert window_size(3600) == 5
    assert math.ceil(86_400 / window_size(86_400)) <= 720


def test_golden_run_series_agree_with_run_json() -> None:
    doc = load_run(GOLDEN)
    rows = read_intervals(GOLDEN)
    data = run_data(doc, rows, read_generator(GOLDEN))
    seconds = sorted({r["second"] for r in rows})
    assert data.window_s == 1 and len(data.t) == seconds[-1] - seconds[0] + 1
    sent = sum(data.throughput["ok"]) + sum(data.throughput["errors"])
    assert sent == doc["totals"]["requests"]
    whole = data.spectrum["corrected"]
    assert whole.count == sum(LatencyHistogram.from_bytes(r["latency_hist"]).count for r in rows)
    assert whole.y[-1] == pytest.approx(doc["totals"]["latency_ms"]["max"])
    for name, summary in doc["by_name"].items():
        s = data.spectrum_by_name[name]
        assert s.y[-1] == pytest.approx(summary["latency_ms"]["max"])
    for second in range(len(data.t)):
        mine = [r for r in rows if r["second"] == seconds[0] + second]
        merged = LatencyHistogram.merged(
            LatencyHistogram.from_bytes(r["latency_hist"]) for r in mine
        )
        assert data.latency["p99"][second] == pytest.approx(merged.percentile(99) / 1000)
        assert data.latency["max"][second] == pytest.approx(merged.max / 1000)
    assert set(data.generator) >= {"sched_lag_p99_ms", "cpu_pct_max", "inflight"}


def test_spectrum_is_monotone_and_ends_at_the_max() -> None:
    h = LatencyHistogram()
    h.record_many(np.random.default_rng(1).lognormal(8, 1, 50_000))
    s = spectrum(h)
    assert s.x[0] == 1.0 and s.x[-1] == pytest.approx(50_000)
    assert all(a <= b for a, b in zip(s.y, s.y[1:], strict=False))
    assert s.y[-1] == pytest.approx(h.max / 1000) and s.label[-1] == "max"
    at_99 = s.x.index(100.0)  # x = 1 / (1 - 0.99)
    assert s.y[at_99] == pytest.approx(h.percentile(99) / 1000) and s.label[at_99] == "99%"
    assert spectrum(LatencyHistogram()).count == 0


@pytest.fixture(scope="module")
def long_run() -> tuple[dict, list, list]:
    return synthetic_run(seconds=1500, names=3, rps=20)


def test_long_run_is_windowed_and_keeps_the_max(long_run: tuple[dict, list, list]) -> None:
    doc, rows, generator = long_run
    data = run_data(doc, rows, generator)
    assert data.window_s == 3 and len(data.t) == 500
    assert data.t[:2] == [0.0, 3.0]
    # the max of every window is the max of its seconds, the largest one the run's max
    assert max(_finite(data.latency["max"])) == pytest.approx(doc["totals"]["latency_ms"]["max"])
    assert (
        max(_finite(data.p99_by_name[next(iter(doc["by_name"]))]))
        >= doc["by_name"][next(iter(doc["by_name"]))]["latency_ms"]["p99"]
    )
    # throughput: window means, so sum(rate * window length) is every request
    lengths = [min(3, 1500 - int(t)) for t in data.t]
    total = sum(
        (a + b) * n
        for a, b, n in zip(data.throughput["ok"], data.throughput["errors"], lengths, strict=True)
    )
    assert total == pytest.approx(doc["totals"]["requests"])
    errors = sum(
        sum(v * n for v, n in zip(s, lengths, strict=True)) for s in data.errors_by_kind.values()
    )
    assert errors == pytest.approx(doc["totals"]["errors"])
    assert list(data.errors_by_kind) == list(doc["totals"]["errors_by_kind"])  # most first
    whole = data.spectrum["corrected"]
    at_99 = whole.x.index(100.0)
    assert whole.y[at_99] == pytest.approx(doc["totals"]["latency_ms"]["p99"])
    assert len(data.generator["cpu_pct_max"]) == 500


def test_only_request_rows_make_the_latency_series(long_run: tuple[dict, list, list]) -> None:
    doc, rows, _ = long_run
    slow = LatencyHistogram()
    slow.record(3_000_000_000)  # 50 minutes: would dominate every max if it were counted
    extra = [
        {**rows[0], "kind": "transaction", "name": "checkout", "latency_hist": slow.to_bytes()}
    ]
    data = run_data(doc, rows + extra)
    assert max(_finite(data.latency["max"])) < 3_000_000
    assert "checkout" not in data.p99_by_name


def test_no_rows_gives_empty_series() -> None:
    data = run_data({"by_name": {}}, [], [])
    assert data.t == [] and data.spectrum["corrected"].count == 0 and not data.generator


def test_host_steal_is_charted_where_it_was_measured() -> None:
    from perflab.report.html.figures import generator_load

    doc, rows, gen = synthetic_run(seconds=6, names=1)
    assert not _finite(run_data(doc, rows, gen).generator["steal_pct"])  # older runs: none
    names = [t["name"] for t in generator_load(run_data(doc, rows, gen))["data"]]
    assert not any("steal" in n for n in names)
    for row, steal in zip(gen, [0.0, 1.5, None, 4.0, 0.0, 0.5], strict=True):
        row["steal_pct"] = steal
    data = run_data(doc, rows, gen)
    steal = data.generator["steal_pct"]
    assert steal[:2] == [0.0, 1.5] and steal[3:] == [4.0, 0.0, 0.5] and steal[2] != steal[2]
    names = [t["name"] for t in generator_load(data)["data"]]
    assert "host steal % (hypervisor)" in names
