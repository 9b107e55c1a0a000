"""Memory monitoring and the leak verdict on real processes under real load.

The leaky server keeps ``--leak-bytes`` per request; the designed slope is the run's actual
completed request rate times that, so a run that fell short of its nominal rate is judged
on what it did. The control is the same server keeping nothing.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from tests.servers.launch import start_server

from perflab import load
from perflab.errors import TargetError, UsageError
from perflab.model import HttpRequest, LoadModel, LoadProfile, RunSpec, Stage
from perflab.profile.allocations import (
    format_growth_table,
    start_traced,
    take_snapshot,
    top_growth,
)
from perflab.profile.leak import LeakVerdict, leak_verdict
from perflab.profile.monitor import ProcessMonitor
from perflab.profile.series import MEMORY_SCHEMA, MemorySample, load_memory_series

RATE = 200.0
DURATION_S = 12.0
LEAK_BYTES = 20_000
WARMUP_S = 2.0  # after the load starts: worker start-up and first connections


def _monitored_run(leak_bytes: int, path: Path) -> tuple[LeakVerdict, dict[str, Any], float]:
    """Drive the leaky server at RATE for DURATION_S while sampling it 4 times a second."""
    with start_server("leaky", "--leak-bytes", str(leak_bytes)) as server:
        spec = RunSpec(
            requests=(HttpRequest(f"{server.url}/", name="leak"),),
            load=LoadProfile(LoadModel.OPEN, (Stage(DURATION_S, RATE),), RATE, connections=4),
            workers=1,
        )
        with ProcessMonitor(server.proc.pid, interval_s=0.25, path=path) as monitor:
            load_started = monitor.elapsed_s
            doc = load.run(spec)
            load_ended = monitor.elapsed_s
        assert not monitor.exited
    series = load_memory_series(path)
    assert series.complete and series.samples == tuple(monitor.rows)
    during = [r for r in series.samples if r.t <= load_ended]
    verdict = leak_verdict(
        [r.t for r in during], [r.rss_bytes for r in during], warmup_s=load_started + WARMUP_S
    )
    designed = doc["totals"]["rps"] * leak_bytes * 3600
    return verdict, doc, designed


@pytest.mark.slow
def test_the_leaky_server_is_found_with_its_designed_slope(tmp_path: Path) -> None:
    verdict, doc, designed = _monitored_run(LEAK_BYTES, tmp_path / "memory.jsonl")
    assert doc["totals"]["errors"] == 0
    assert doc["totals"]["rps"] > 0.8 * RATE, "the generator fell far short: machine too busy"
    assert verdict.growing, verdict.text
    ratio = verdict.slope_per_hour / designed  # 1.004-1.005 measured: malloc headers
    assert ratio == pytest.approx(1.0, abs=0.2), verdict.text
    assert verdict.n >= 30


@pytest.mark.slow
def test_the_control_server_is_not_called_a_leak(tmp_path: Path) -> None:
    verdict, doc, designed = _monitored_run(0, tmp_path / "memory.jsonl")
    assert designed == 0 and doc["totals"]["requests"] > 0.8 * RATE * DURATION_S
    assert not verdict.growing, verdict.text
    assert verdict.text.startswith("no growth")


GROWER = """\
import sys, time
kept = []
def churn():
    return [str(i) for i in range(200)]
print("READY", flush=True)
while True:
    kept.append(bytearray(5_000))  # the growing line
    churn()
    time.sleep(0.002)
"""


def test_a_traced_target_ranks_its_growing_line_first(tmp_path: Path) -> None:
    script = tmp_path / "grower.py"
    script.write_text(GROWER)
    line = GROWER.splitlines().index("    kept.append(bytearray(5_000))  # the growing line") + 1
    proc = start_traced([str(script)], tmp_path / "snaps", stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"READY\n"
        first = take_snapshot(proc, timeout=30)
        time.sleep(0.6)
        second = take_snapshot(proc, timeout=30)
    finally:
        with proc:  # closes stdout and reaps it
            proc.kill()
    assert (first.name, second.name) == ("snap-1.pickle", "snap-2.pickle")
    rows = top_growth(first, second, n=5)
    top = rows[0]
    assert (Path(top.file), top.line) == (script, line)
    assert top.size_diff_bytes > 50 * 5_000 and top.count_diff > 50
    assert top.size_diff_bytes > 10 * sum(r.size_diff_bytes for r in rows[1:])
    assert top.traceback[-1] == f"{script}:{line}"
    assert not any("tracemalloc" in r.file for r in rows)
    assert f"{script}:{line}" in format_growth_table(rows, width=200)
    by_path = top_growth(first, second, n=1, key="traceback")
    assert (by_path[0].file, by_path[0].line) == (str(script), line)


def test_a_traced_target_that_exits_first_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "quick.py").write_text("print('bye from', __name__)\n")
    proc = start_traced(["-m", "quick"], tmp_path / "snaps", cwd=tmp_path, stdout=subprocess.PIPE)
    with proc:
        out, _ = proc.communicate(timeout=30)
    assert out == b"bye from __main__\n"  # -m MODULE runs as __main__
    with pytest.raises(TargetError, match=r"exited with code 0 before"):
        take_snapshot(proc, timeout=10)
    with pytest.raises(UsageError, match="no such Python script"):
        start_traced([str(tmp_path / "missing.py")], tmp_path / "snaps")


def test_an_unknown_pid_is_a_target_error(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with pytest.raises(TargetError, match=rf"^no process with PID {gone.pid}$"):
        ProcessMonitor(gone.pid, path=tmp_path / "m.jsonl").start()
    with pytest.raises(UsageError):
        ProcessMonitor(-1)


def test_a_process_exiting_mid_run_keeps_its_series(tmp_path: Path) -> None:
    """Not reaped on purpose: the monitor must see a zombie as gone, not as 0 bytes."""
    code = "import time; x = bytearray(30_000_000); time.sleep(1.2)"
    proc = subprocess.Popen([sys.executable, "-c", code])
    path = tmp_path / "memory.jsonl"
    try:
        monitor = ProcessMonitor(proc.pid, interval_s=0.1, path=path).start()
        deadline = time.monotonic() + 20
        while monitor.running and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not monitor.running, "the monitor did not notice the exit"
        monitor.stop()  # no exception after the target is gone
    finally:
        proc.wait(timeout=10)
    assert monitor.exited and "exited" in (monitor.exit_reason or "")
    rows = monitor.rows
    assert len(rows) >= 5 and all(r.rss_bytes > 0 for r in rows)
    assert max(r.rss_bytes for r in rows) > 30_000_000
    series = load_memory_series(path)
    assert series.exited and series.complete and series.samples == tuple(rows)
    assert series.summary()["rss_peak_bytes"] == max(r.rss_bytes for r in rows)
    assert series.verdict().status == "not enough data"  # ~12 samples in 1.2 s


def test_a_failing_sink_is_dropped_and_sampling_goes_on() -> None:
    def sink(sample: MemorySample) -> None:
        raise RuntimeError("consumer broke")

    with ProcessMonitor(os.getpid(), interval_s=0.02, sink=sink) as monitor:
        time.sleep(0.3)
    assert isinstance(monitor.sink_error, RuntimeError)
    assert len(monitor.rows) >= 5


def test_children_are_summed_when_asked() -> None:
    child = "import time; x = bytearray(b'1') * 40_000_000; print('up', flush=True); time.sleep(30)"
    parent = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}])"
    proc = subprocess.Popen([sys.executable, "-c", parent])
    try:
        with ProcessMonitor(proc.pid, interval_s=0.05, include_children=True) as monitor:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                rows = monitor.rows
                if rows and rows[-1].processes == 2 and rows[-1].rss_bytes > 40_000_000:
                    break
                time.sleep(0.05)
        alone = ProcessMonitor(proc.pid, interval_s=0.05).start()
        alone.stop()
    finally:
        for p in psutil.Process(proc.pid).children(recursive=True):
            p.kill()
        proc.kill()
        proc.wait(timeout=10)
    last = monitor.rows[-1]
    assert last.processes == 2 and last.rss_bytes > 40_000_000
    assert alone.rows[0].processes == 1 and alone.rows[0].rss_bytes < 40_000_000
    assert last.num_threads >= 2


def test_an_interrupted_journal_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "memory.jsonl"
    header = {"schema": MEMORY_SCHEMA, "kind": "header", "pid": 7, "interval_s": 1.0}
    sample = {"kind": "sample", "t": 0.0, "wall": 1.0, "rss_bytes": 10, "vms_bytes": 20}
    sample |= {"num_fds": None, "num_threads": 1, "connections": None, "cpu_percent": 0.0}
    lines = [json.dumps(header), json.dumps(sample), json.dumps(sample | {"t": 1.0})]
    path.write_text("\n".join(lines) + "\n" + '{"kind": "sample", "t": 2')  # torn
    series = load_memory_series(path)
    assert not series.complete and not series.exited
    assert [s.t for s in series.samples] == [0.0, 1.0]
    assert series.summary()["num_fds_max"] is None
    path.write_text(json.dumps(header | {"schema": "perflab.memory/9"}) + "\n")
    with pytest.raises(UsageError, match=r"schema 'perflab\.memory/9'") as info:
        load_memory_series(path)
    assert info.value.hint == "upgrade perflab to read it"


def test_sampling_leaves_an_event_loop_alone() -> None:
    """The sink runs in the monitor thread; call_soon_threadsafe brings samples to the loop."""

    async def main() -> tuple[list[MemorySample], float, set[int]]:
        loop = asyncio.get_running_loop()
        got: list[MemorySample] = []
        threads: set[int] = set()

        def on_loop(sample: MemorySample) -> None:
            threads.add(threading.get_ident())
            got.append(sample)

        worst = 0.0
        with ProcessMonitor(
            os.getpid(), interval_s=0.05, sink=lambda s: loop.call_soon_threadsafe(on_loop, s)
        ):
            for _ in range(50):
                before = loop.time()
                await asyncio.sleep(0.01)
                worst = max(worst, loop.time() - before - 0.01)
        return got, worst, threads

    got, worst_lag, threads = asyncio.run(main())
    assert len(got) >= 5 and threads == {threading.get_ident()}
    assert all(s.num_threads >= 2 for s in got)  # the monitor thread itself is counted
    assert worst_lag < 0.1
