"""Shell-command benchmarks, hyperfine style: ``perflab bench --cmd "..." [--cmd ...]``.

Each run is ``/bin/sh -c CMD`` timed with ``perf_counter_ns`` around the child process, so
every run is a fresh process and one *unit* for the gate. The cost of spawning the shell is
measured by timing ``sh -c :`` the same way and its median is subtracted from every run
(hyperfine's "shell spawning" correction). ``--prepare`` runs (untimed) before every run,
``--cleanup`` once after a command's runs. A non-zero exit marks that command failed with
its code and the tail of its stderr (unless failures are ignored); the others still run.
"""

from __future__ import annotations

import math
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from perflab.bench.runner import BenchSpec, Sink, result_entry
from perflab.steal import StealMeter, worker_cores

__all__ = ["CommandSpec", "run_commands", "shell_overhead"]

SHELL = "/bin/sh"
MIN_RUNS, MAX_RUNS = 5, 1000


@dataclass(frozen=True)
class CommandSpec:
    """``runs`` None: as many as fit ``min_time`` seconds (at least 5, hyperfine uses 10)."""

    warmup: int = 1
    runs: int | None = None
    min_time: float = 1.0
    prepare: str | None = None
    cleanup: str | None = None
    ignore_failure: bool = False
    timeout: float = 600.0


class CommandFailed(Exception):
    def __init__(self, what: str, code: int, stderr: str) -> None:
        tail = " | ".join(stderr.strip().splitlines()[-3:])
        super().__init__(f"{what} exited with code {code}" + (f": {tail}" if tail else ""))


def _timed(command: str, timeout: float) -> tuple[float, int, str]:
    start = time.perf_counter_ns()
    done = subprocess.run(
        [SHELL, "-c", command],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=timeout,
        check=False,
    )
    elapsed = (time.perf_counter_ns() - start) / 1e9
    return elapsed, done.returncode, done.stderr.decode(errors="replace")


def shell_overhead(runs: int = 10) -> float:
    """Median seconds to spawn ``sh -c :``: subtracted from every command's run."""
    _timed(":", 10.0)
    return statistics.median(_timed(":", 10.0)[0] for _ in range(max(runs, 3)))


def _run_one(command: str, spec: CommandSpec, overhead: float) -> tuple[list[float], list[int]]:
    """Warmups, then the timed runs; raises CommandFailed on a failure that counts."""
    if spec.prepare:
        _check(spec.prepare, "prepare command", spec)
    for _ in range(spec.warmup):
        _, code, err = _timed(command, spec.timeout)
        if code and not spec.ignore_failure:
            raise CommandFailed("the command (warmup)", code, err)
    runs = spec.runs
    values: list[float] = []
    codes: list[int] = []
    while runs is None or len(values) < runs:
        if spec.prepare and values:
            _check(spec.prepare, "prepare command", spec)
        elapsed, code, err = _timed(command, spec.timeout)
        if code and not spec.ignore_failure:
            raise CommandFailed("the command", code, err)
        codes.append(code)
        values.append(max(elapsed - overhead, 1e-9))
        if runs is None:
            runs = min(MAX_RUNS, max(MIN_RUNS, math.ceil(spec.min_time / max(elapsed, 1e-6))))
    return values, codes


def _check(command: str, what: str, spec: CommandSpec) -> None:
    _, code, err = _timed(command, spec.timeout)
    if code:
        raise CommandFailed(what, code, err)


def run_commands(
    commands: Sequence[str],
    spec: CommandSpec,
    stats_spec: BenchSpec,
    sink: Sink,
    *,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, object]]:
    """Benchmark each command in turn; every result goes to ``sink`` once it is done."""
    overhead = shell_overhead()
    results: list[dict[str, object]] = []
    for command in commands:
        if progress is not None:
            progress(command)
        extra = {"shell_overhead": overhead, "loops": 1, "in_process": False}
        meter = StealMeter(worker_cores())
        try:
            values, codes = _run_one(command, spec, overhead)
        except (CommandFailed, subprocess.TimeoutExpired) as exc:
            entry: dict[str, object] = {
                "name": command,
                "params": {},
                "kind": "command",
                "status": "failed",
                "error": str(exc),
                "unit": "s",
                "processes": [],
                "stats": None,
                "outliers": 0,
                "warnings": [],
                **extra,
            }
        else:
            processes: list[dict[str, object]] = [
                {"values": [v], "exit_code": c} for v, c in zip(values, codes, strict=True)
            ]
            warnings = []
            if min(values) < 0.005:
                warnings.append("runs shorter than 5 ms: shell-spawn noise may dominate")
            entry = result_entry(
                command,
                {},
                "command",
                processes,
                stats_spec,
                steal=meter.sample(),
                warnings=warnings,
                **extra,
            )
        finally:
            if spec.cleanup:
                subprocess.run([SHELL, "-c", spec.cleanup], check=False, timeout=spec.timeout)
        results.append(entry)
        sink(entry)
    return results
