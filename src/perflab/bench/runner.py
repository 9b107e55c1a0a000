"""Run the benchmarks of a file: a calibration process, then N fresh worker processes each.

The engine takes a typed :class:`BenchSpec` (never CLI options) and hands every finished
benchmark to a ``sink`` at once, so the caller can save after each one and an interrupted
run keeps what finished. A benchmark that raises, or a worker that dies, becomes a *failed*
result naming the benchmark and the place; the remaining benchmarks still run.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from perflab.bench.registry import BenchCase, discover, load_file, params_key
from perflab.errors import UsageError
from perflab.stats.benchstats import EmptySamples, noise_warning, summarize
from perflab.steal import STEAL_WARN_PCT, CpuTicks, StealMeter, steal_pct, worker_cores

__all__ = ["BenchSpec", "Sink", "list_cases", "result_entry", "run_file"]

Sink = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class BenchSpec:
    """How to measure. Defaults give 30 values from 10 processes: enough for the gate's
    calibrated power (see :mod:`perflab.stats.gate`) at ~0.5 s per process."""

    processes: int = 10
    values: int = 3
    warmups: int = 1
    min_time: float = 0.1
    disable_gc: bool = False
    precision: float = 0.02
    confidence: float = 0.95
    seed: int = 0
    timeout: float = 600.0
    python: str = sys.executable

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc.pop("python")
        return doc


def list_cases(path: Path, select: Sequence[str] = ()) -> list[BenchCase]:
    """The file's cases, optionally only those whose label contains one of ``select``."""
    cases = [case for bench in discover(load_file(path)) for case in bench.cases()]
    if not cases:
        raise UsageError(f"{path} has no @perflab.benchmark functions")
    if select:
        cases = [c for c in cases if any(s in c.label for s in select)]
        if not cases:
            raise UsageError(f"no benchmark in {path} matches {', '.join(select)}")
    return cases


def _worker(spec: BenchSpec, path: Path, case: BenchCase, *flags: str) -> dict[str, Any]:
    """One worker process's JSON document; an ``"error"`` key when it failed."""
    argv = [spec.python, "-m", "perflab.bench.worker", str(path), case.bench.name]
    argv += [params_key(case.params), "--min-time", str(spec.min_time), *flags]
    argv += ["--no-gc"] if spec.disable_gc else []
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=spec.timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return {"error": f"worker timed out after {spec.timeout:g} s"}
    if done.returncode == -signal.SIGINT:  # Ctrl-C reached the worker first: not its failure
        raise KeyboardInterrupt
    lines = done.stdout.strip().splitlines()
    try:
        doc = json.loads(lines[-1]) if lines else None
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        tail = " | ".join(done.stderr.strip().splitlines()[-3:]) or "no output"
        return {"error": f"worker exited with code {done.returncode}: {tail}"}
    return doc


def result_entry(
    name: str,
    params: dict[str, Any],
    kind: str,
    processes: list[dict[str, Any]],
    spec: BenchSpec,
    *,
    steal: CpuTicks | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A benchmark's record in bench.json: raw values per process plus their statistics,
    and the hypervisor's steal while it ran (``steal``; see :mod:`perflab.steal`)."""
    entry: dict[str, Any] = {
        "name": name,
        "params": params,
        "kind": kind,
        "status": "ok",
        "error": None,
        "unit": "s",
        "processes": processes,
        **extra,
    }
    entry["warnings"] = list(entry.get("warnings") or [])
    entry["steal_pct"] = pct = steal_pct(steal)
    if pct is not None and pct >= STEAL_WARN_PCT:
        entry["warnings"].append(
            f"the hypervisor took {pct:.1f}% of the CPU while this ran (steal): its values "
            "include pauses the host imposed; rerun when the host is quiet"
        )
    try:
        summary = summarize(
            [p.get("values") or [] for p in processes],
            confidence=spec.confidence,
            seed=spec.seed,
        )
    except EmptySamples:
        entry.update(status="failed", stats=None, outliers=0)
        entry["error"] = entry.get("error") or "no usable values (empty, NaN or non-positive)"
        return entry
    entry["stats"] = summary.to_json()
    entry["outliers"] = summary.outliers
    if summary.dropped:
        entry["warnings"].append(f"{summary.dropped} NaN/infinite/non-positive values dropped")
    warning = noise_warning(summary, spec.precision)
    if warning:
        entry["warnings"].append(warning)
    return entry


def _measure_case(path: Path, case: BenchCase, spec: BenchSpec) -> dict[str, Any]:
    calibration = _worker(spec, path, case, "--loops", "0", "--values", "1", "--warmups", "0")
    base = {"name": case.bench.name, "params": case.params, "kind": "python"}
    if "error" in calibration:
        return {**base, "status": "failed", "error": calibration["error"], "processes": []}
    loops = int(calibration["loops"])
    processes: list[dict[str, Any]] = []
    meter = StealMeter(worker_cores())
    for _ in range(spec.processes):
        doc = _worker(
            spec,
            path,
            case,
            *("--loops", str(loops), "--values", str(spec.values)),
            *("--warmups", str(spec.warmups)),
        )
        if "error" in doc:
            return {**base, "status": "failed", "error": doc["error"], "processes": processes}
        processes.append(doc)
    return result_entry(
        case.bench.name,
        case.params,
        "python",
        processes,
        spec,
        steal=meter.sample(),
        loops=loops,
        in_process=False,
    )


def run_file(
    path: Path,
    spec: BenchSpec,
    sink: Sink,
    *,
    select: Sequence[str] = (),
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Measure every case of ``path``; each result goes to ``sink`` as soon as it is done."""
    results = []
    for case in list_cases(path, select):
        if progress is not None:
            progress(case.label)
        entry = _measure_case(path.resolve(), case, spec)
        entry.setdefault("stats", None)
        entry.setdefault("outliers", 0)
        entry.setdefault("warnings", [])
        entry.setdefault("unit", "s")
        results.append(entry)
        sink(entry)
    return results
