"""The pytest plugin: inert unless --perflab-bench, then in-process results in bench.json."""

from __future__ import annotations

import json

import pytest

pytest_plugins = ["pytester"]

TESTS = """
import pytest

@pytest.mark.parametrize("n", [10, 100])
def test_sum(perflab_benchmark, n):
    assert perflab_benchmark(sum, range(n)) == n * (n - 1) // 2

def test_plain():
    assert True
"""


def test_without_the_option_the_fixture_only_calls(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_it=TESTS)
    result = pytester.runpytest("-q")
    result.assert_outcomes(passed=3)
    assert "perflab" not in result.stdout.str()
    assert not list(pytester.path.rglob("bench.json"))


def test_with_the_option_results_are_saved(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_it=TESTS)
    out = pytester.path / "results"
    result = pytester.runpytest(
        "-q",
        "--perflab-bench",
        f"--perflab-bench-out={out}",
        "--perflab-min-time=0.001",
        "--perflab-values=3",
    )
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["perflab: 2 benchmarks saved in *bench.json*"])
    doc = json.loads((out / "bench.json").read_text())
    assert doc["schema"] == "perflab.bench/1" and doc["status"] == "passed"
    entries = doc["benchmarks"]
    assert [(e["name"], e["params"]) for e in entries] == [
        ("test_it.py::test_sum", {"n": 10}),
        ("test_it.py::test_sum", {"n": 100}),
    ]
    assert all(e["in_process"] and len(e["processes"][0]["values"]) == 3 for e in entries)
    assert entries[1]["stats"]["median"] > entries[0]["stats"]["median"] > 0
