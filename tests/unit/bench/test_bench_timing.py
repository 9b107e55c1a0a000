"""Calibration and measurement on a fake clock: no sleeping, exact expectations."""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import pytest

import perflab
from perflab.bench.registry import discover, load_file, params_key
from perflab.bench.timing import calibrate, measure, time_loops
from perflab.errors import UsageError


class FakeClock:
    """Each call of the benchmark advances time by ``cost`` seconds."""

    def __init__(self, cost: float) -> None:
        self.now = 0.0
        self.cost = cost
        self.calls = 0

    def __call__(self) -> float:
        return self.now

    def work(self) -> None:
        self.calls += 1
        self.now += self.cost


def test_calibration_reaches_the_minimum_time_in_few_steps() -> None:
    clock = FakeClock(1e-6)
    loops = calibrate(clock.work, 0.1, timer=clock)
    assert 0.1 - 1e-9 <= loops * 1e-6 < 0.25
    assert clock.calls < 3 * loops  # steps grow by the shortfall, not by doubling only


def test_measure_discards_warmups_and_reports_seconds_per_call() -> None:
    clock = FakeClock(2e-3)
    result = measure(clock.work, loops=50, values=4, warmups=2, timer=clock)
    assert result.values == pytest.approx([2e-3] * 4) and len(result.warmups) == 2
    assert clock.calls == 50 * 6
    assert result.gc["enabled"] is gc.isenabled() and result.gc["collections"] >= 0
    assert time_loops(clock.work, 3, clock) == pytest.approx(6e-3)


def test_no_gc_disables_collection_only_while_timing() -> None:
    seen: list[bool] = []
    measure(lambda: seen.append(gc.isenabled()), loops=2, values=2, warmups=1, disable_gc=True)
    assert seen[:2] == [True, True] and seen[2:] == [False] * 4
    assert gc.isenabled()


BENCH_FILE = """
import perflab

def make(n):
    return list(range(n))

@perflab.benchmark(params={"n": [1, 3]}, setup=make)
def total(data, n):
    return sum(data) + n

@perflab.benchmark
def plain():
    return 1
"""


def test_decorator_params_and_setup(tmp_path: Path) -> None:
    path = tmp_path / "b.py"
    path.write_text(BENCH_FILE)
    benches = discover(load_file(path))
    assert [b.name for b in benches] == ["total", "plain"]
    cases = list(benches[0].cases())
    assert [c.label for c in cases] == ["total[n=1]", "total[n=3]"]
    assert cases[1].prepare()() == 3 + 3  # setup(n=3) -> [0, 1, 2], then total(data, n=3)
    assert params_key({"b": 1, "a": [2]}) == '{"a": [2], "b": 1}'
    assert perflab.benchmark is perflab.bench.registry.benchmark


def test_bad_files_and_params_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no benchmark file"):
        load_file(tmp_path / "missing.py")
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('boom')\n")
    with pytest.raises(UsageError, match=r"broken.py: importing it raised RuntimeError: boom"):
        load_file(broken)
    with pytest.raises(UsageError, match="must be a list"):
        perflab.benchmark(params={"n": 5})(lambda n: n)  # type: ignore[dict-item]


def test_a_benchmark_file_imports_its_neighbours(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))  # load_file's insertion is undone after
    monkeypatch.setattr(sys, "modules", dict(sys.modules))
    (tmp_path / "bench_helper_mod.py").write_text("VALUE = 41\n")
    path = tmp_path / "uses.py"
    path.write_text(
        "import perflab\nfrom bench_helper_mod import VALUE\n\n"
        "@perflab.benchmark\ndef f():\n    return VALUE + 1\n"
    )
    (bench,) = discover(load_file(path))
    assert next(bench.cases()).prepare()() == 42
