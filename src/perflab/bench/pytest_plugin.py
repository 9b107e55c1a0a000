"""pytest plugin: the ``perflab_benchmark`` fixture turns existing tests into benchmarks.

Registered through the ``pytest11`` entry point, so it loads in every pytest session and
must stay inert: without ``--perflab-bench`` the fixture calls the function once (the test
still tests) and nothing is measured, written or printed. With it, each call is calibrated
and timed *in the test process* (no worker processes: the result records
``in_process: true``, and the gate then treats values, not processes, as its units), and at
the end of the session the results go to a ``bench.json`` and the catalog.

Named ``perflab_benchmark``, not ``benchmark``, so it coexists with pytest-benchmark.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

_RESULTS = pytest.StashKey[list[dict[str, Any]]]()
_MESSAGE = pytest.StashKey[str]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("perflab", "perflab benchmarks")
    group.addoption(
        "--perflab-bench",
        action="store_true",
        default=False,
        help="measure tests that use the perflab_benchmark fixture and save the results",
    )
    group.addoption("--perflab-bench-out", default=None, help="directory for bench.json")
    group.addoption("--perflab-min-time", type=float, default=0.05, help="seconds per value (0.05)")
    group.addoption("--perflab-values", type=int, default=10, help="values per benchmark (10)")


def _params(node: Any) -> dict[str, Any]:
    callspec = getattr(node, "callspec", None)
    params = dict(callspec.params) if callspec is not None else {}
    return {k: json.loads(json.dumps(v, default=repr)) for k, v in params.items()}


@pytest.fixture
def perflab_benchmark(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """``perflab_benchmark(fn, *args, **kwargs)`` -> ``fn``'s result; timed with --perflab-bench."""
    config = request.config
    enabled = bool(config.getoption("--perflab-bench"))

    def run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not enabled:
            return fn(*args, **kwargs)
        from perflab.bench.runner import BenchSpec, result_entry
        from perflab.bench.timing import calibrate, measure
        from perflab.steal import StealMeter, worker_cores

        def call() -> Any:
            return fn(*args, **kwargs)

        min_time = float(config.getoption("--perflab-min-time"))
        values = int(config.getoption("--perflab-values"))
        spec = BenchSpec(processes=1, values=values, min_time=min_time)
        loops = calibrate(call, min_time)
        meter = StealMeter(worker_cores())
        measured = measure(call, loops=loops, values=values, warmups=1)
        name = request.node.originalname if hasattr(request.node, "originalname") else None
        entry = result_entry(
            f"{request.node.path.name}::{name or request.node.name}",
            _params(request.node),
            "pytest",
            [measured.to_json()],
            spec,
            steal=meter.sample(),
            loops=loops,
            in_process=True,
        )
        config.stash.setdefault(_RESULTS, []).append(entry)
        return fn(*args, **kwargs)

    return run


@pytest.hookimpl(tryfirst=True)  # before the terminal summary, which reports the file
def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    results = config.stash.get(_RESULTS, None)
    if not results or not config.getoption("--perflab-bench"):
        return
    from perflab.bench.results import BenchWriter, new_bench_dir, new_bench_doc
    from perflab.environment import capture
    from perflab.errors import PerflabError
    from perflab.store.catalog import Catalog

    out = config.getoption("--perflab-bench-out")
    directory = (
        Path(out) if out else new_bench_dir("pytest", Path(config.rootpath) / "perflab-runs")
    )
    doc = new_bench_doc("pytest", {"mode": "pytest", "in_process": True}, capture())
    writer = BenchWriter(directory, doc)
    for entry in results:
        writer.add(entry)
    writer.finish("passed" if all(e["status"] == "ok" for e in results) else "failed")
    message = f"perflab: {len(results)} benchmarks saved in {writer.path}"
    try:
        with Catalog.open() as catalog:
            catalog.index_benchmarks(doc, directory)
    except PerflabError as exc:
        message += f" (not catalogued: {exc.one_line()})"
    config.stash[_MESSAGE] = message


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    message = config.stash.get(_MESSAGE, None)
    if message:
        terminalreporter.write_line(message)
