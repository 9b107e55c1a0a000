"""Hypervisor steal: /proc/stat parsing, the per-sample meter, and how a run reports it."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from perflab.load.generator import GeneratorHealth
from perflab.report.summary import verdict
from perflab.report.terminal import generator_text
from perflab.steal import CpuTicks, StealMeter, parse_proc_stat, read_ticks

STAT = """\
cpu  300 0 100 1000 0 0 0 60 0 0
cpu0 100 0 50 800 0 0 0 50 0 0
cpu1 200 0 50 200 0 0 0 10 0 0
intr 12345 0 0
ctxt 999
"""


def test_parse_sums_the_watched_cores_and_skips_the_aggregate_line() -> None:
    assert parse_proc_stat(STAT) == CpuTicks(steal=60, total=1460)
    assert parse_proc_stat(STAT, {0}) == CpuTicks(steal=50, total=1000)
    assert parse_proc_stat(STAT, {1}) == CpuTicks(steal=10, total=460)


def test_parse_says_not_measured_rather_than_zero() -> None:
    assert parse_proc_stat(STAT, {7}) is None  # a core the file does not list
    assert parse_proc_stat("cpu0 1 2 3 4\n") is None  # an old kernel: no steal column
    assert parse_proc_stat("") is None


def test_read_ticks_on_this_machine_is_consistent() -> None:
    ticks = read_ticks()
    if ticks is not None:  # Linux
        assert 0 <= ticks.steal <= ticks.total


class Scripted:
    def __init__(self, samples: list[CpuTicks | None]) -> None:
        self.samples = samples
        self.cores: list[Collection[int] | None] = []

    def __call__(self, cores: Collection[int] | None) -> CpuTicks | None:
        self.cores.append(cores)
        return self.samples.pop(0)


def test_meter_reports_the_ticks_between_samples() -> None:
    reader = Scripted([CpuTicks(10, 1000), CpuTicks(30, 1200), CpuTicks(30, 1200)])
    meter = StealMeter({0, 1}, reader)
    assert meter.available
    assert meter.sample() == CpuTicks(20, 200)
    assert meter.sample() is None  # no tick passed: nothing to say yet
    assert reader.cores == [{0, 1}] * 3


def test_meter_without_proc_stat_measures_nothing() -> None:
    meter = StealMeter(None, Scripted([None]))
    assert not meter.available
    assert meter.sample() is None


def _gen() -> dict[str, Any]:
    return {
        "sched_lag": None,  # no lag recorded this second
        "loop_lag": None,
        "wall_s": 1.0,
        "cpu_s": 0.3,
        "spin_s": 0.0,
        "socket_errors": {},
        "unfinished": 0,
        "connections": 1,
        "inflight": 0,
    }


def test_health_reports_steal_per_second_and_over_the_run() -> None:
    health = GeneratorHealth(1)
    row0 = health.add_second(0, {0: _gen()}, CpuTicks(2, 200))
    row1 = health.add_second(1, {0: _gen()}, CpuTicks(40, 200))
    row2 = health.add_second(2, {0: _gen()}, None)
    assert (row0["steal_pct"], row1["steal_pct"], row2["steal_pct"]) == (1.0, 20.0, None)
    summary = health.summary()
    assert summary["steal_pct"] == 10.5
    assert summary["steal_pct_max"] == 20.0
    [note] = summary["host_noise"]
    assert "10.5% of the generator's CPU" in note and "20% in second 1" in note
    doc = {"status": "passed", "generator": summary}
    assert note in verdict(doc).reasons
    assert "NOISY HOST" in generator_text(doc).plain
    assert "host steal 10.5%" in generator_text(doc).plain


def test_little_steal_is_reported_but_not_called_noise() -> None:
    health = GeneratorHealth(1)
    health.add_second(0, {0: _gen()}, CpuTicks(1, 400))
    health.add_second(1, {0: _gen()}, CpuTicks(0, 400))
    summary = health.summary()
    assert summary["steal_pct"] == 0.12 and summary["host_noise"] == []
    assert "NOISY HOST" not in generator_text({"generator": summary}).plain


def test_unmeasured_steal_claims_nothing() -> None:
    health = GeneratorHealth(1)
    health.add_second(0, {0: _gen()})
    summary = health.summary()
    assert summary["steal_pct"] is None and summary["steal_pct_max"] is None
    assert "steal" not in generator_text({"generator": summary}).plain
