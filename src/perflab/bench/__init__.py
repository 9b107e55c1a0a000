"""Benchmarks: Python functions in fresh worker processes, shell commands, a pytest plugin.

The API is lazy (``perflab.lazy``): a worker process importing ``perflab.bench.worker`` must
not pay for SciPy or the store. Statistics live in :mod:`perflab.stats.benchstats` and
:mod:`perflab.stats.gate`; this package measures and writes ``bench.json``.
"""

from perflab.lazy import lazy_exports

__all__ = [
    "BenchSpec",
    "BenchWriter",
    "CommandSpec",
    "benchmark",
    "compare_docs",
    "load_bench",
    "run_commands",
    "run_file",
]

__getattr__ = lazy_exports(
    __name__,
    {
        "BenchSpec": "perflab.bench.runner",
        "run_file": "perflab.bench.runner",
        "CommandSpec": "perflab.bench.commands",
        "run_commands": "perflab.bench.commands",
        "BenchWriter": "perflab.bench.results",
        "load_bench": "perflab.bench.results",
        "benchmark": "perflab.bench.registry",
        "compare_docs": "perflab.bench.compare",
    },
)
