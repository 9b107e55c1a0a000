"""What profiling costs the profiled program: perflab's sampler against its peers.

Run: ``python bench/bench_profile.py [--repeat 6] [--work 1.0] [--rate 100] [--json PATH]``
(about 1.5 minutes on 2 cores with the defaults).

The workload is a fixed amount of CPU-bound Python (recursive calls, string parsing, dict
and list work: many small calls, so a tracing profiler pays what it pays on real code),
calibrated to take ``--work`` seconds unprofiled. It runs as *one* long-lived process that
does one segment of work per request and times it, the way ``perflab profile --pid``
meets a live server: every segment is measured in the same process, because on this kind
of VM two processes can run the same code at speeds 10-30 % apart, which would swamp a 5 %
effect. Each round runs, in rotated order, every configuration right after an unprofiled
segment of its own:

- ``perflab``: ``perflab.profile.profile_pid`` at its defaults (py-spy, 100 Hz, pausing
  the target for each sample so stacks are consistent), attached before the segment starts;
- ``py-spy --nonblocking``: py-spy at the same rate without pausing (cheaper, may tear);
- ``cProfile``: the standard library's tracing profiler, enabled for the segment;
- ``pyinstrument``: its defaults (1 ms interval), when it is importable (the bench extra).

Two figures per configuration, each the median over rounds of a profiled segment against
its paired unprofiled one:

- ``wall``: profiled / unprofiled wall time - 1. On a shared VM this is noisy: the same
  segment in the same process varies by 10-40 % from one second to the next (host steal,
  neighbours), more than the effect of a sampler, so read it with its range;
- ``paused``: the share of the segment the target spent neither running nor waiting for a
  CPU (wall - run - run-queue wait, from ``/proc/thread-self/schedstat``), less that share
  unprofiled (the VM's steal time shows there too, and cancels): the time py-spy held it
  stopped to read a consistent stack, measured directly, so CPU-speed noise does not enter
  it. An in-process profiler pauses nothing and costs CPU instead, which only ``wall``
  shows.

perflab's default pauses the target for every sample; its target is <= 5 % of the target's
time (``paused``: its whole cost but for cache effects, which ``wall`` bounds).
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

TARGET_OVERHEAD = 0.05
ATTACH_S = 0.5  # a sampler is started this long before its segment
ROWS = [",".join(str(i * j % 97) for j in range(12)) for i in range(200)]


def _fib(n: int) -> int:
    return n if n < 2 else _fib(n - 1) + _fib(n - 2)


def _parse(rows: list[str]) -> int:
    return sum(int(field) for row in rows for field in row.split(","))


def _tally(n: int) -> int:
    counts: dict[int, int] = {}
    for i in range(n):
        key = i * 7 % 101
        counts[key] = counts.get(key, 0) + 1
    return max(sorted(counts.values()))


def _work(rounds: int) -> int:
    total = 0
    for _ in range(rounds):
        total += _fib(15) + _parse(ROWS) + _tally(3000)
    return total


def _schedstat() -> tuple[float, float]:
    """Seconds this thread has run on a CPU and waited runnable for one (0s without it)."""
    try:
        run, wait = Path("/proc/thread-self/schedstat").read_text().split()[:2]
    except (OSError, ValueError):
        return 0.0, 0.0
    return int(run) / 1e9, int(wait) / 1e9


def _in_process_profiler(mode: str) -> AbstractContextManager[object]:
    if mode == "cprofile":
        import cProfile

        return cProfile.Profile()
    if mode == "pyinstrument":
        from pyinstrument import Profiler

        return Profiler()  # type: ignore[no-any-return]
    return nullcontext()


def _serve() -> int:
    """The workload process: ``MODE ROUNDS`` on stdin -> ``WALL PAUSED`` seconds on stdout."""
    print(f"READY {os.getpid()}", flush=True)
    for line in sys.stdin:
        mode, rounds = line.split()
        with _in_process_profiler(mode):
            (run0, wait0), start = _schedstat(), time.perf_counter()
            _work(int(rounds))
            wall, (run1, wait1) = time.perf_counter() - start, _schedstat()
        paused = max(wall - (run1 - run0) - (wait1 - wait0), 0.0)
        print(f"{wall:.6f} {paused:.6f}", flush=True)
    return 0


class Workload:
    """The long-lived workload process and its segments."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin, self.stdout = self.proc.stdin, self.proc.stdout
        self.pid = int(self.stdout.readline().split()[1])

    def segment(self, rounds: int, mode: str = "plain") -> tuple[float, float]:
        self.stdin.write(f"{mode} {rounds}\n")
        self.stdin.flush()
        wall, paused = (float(x) for x in self.stdout.readline().split())
        return wall, paused

    def close(self) -> None:
        self.stdin.close()
        self.proc.wait(timeout=10)


Sampler = Callable[[int, int, Path], AbstractContextManager[object]]


@contextmanager
def _perflab(pid: int, seconds: int, tmp: Path) -> Iterator[None]:
    """profile_pid in a thread for ``seconds``; the segment runs inside that window."""
    from perflab.profile import profile_pid

    found: list[Any] = []
    thread = threading.Thread(target=lambda: found.append(profile_pid(pid, seconds, out_dir=tmp)))
    thread.start()
    time.sleep(ATTACH_S)
    yield
    thread.join()
    if not found or found[0].samples == 0:
        raise RuntimeError("perflab took no samples")


def _py_spy_nonblocking(rate: int) -> Sampler:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")

    @contextmanager
    def sample(pid: int, seconds: int, tmp: Path) -> Iterator[None]:
        cmd = [spy, "record", "--nonblocking", "-r", str(rate), "--format", "raw"]
        cmd += ["-o", str(tmp / "raw.txt"), "-d", str(seconds), "--pid", str(pid)]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(ATTACH_S)
        yield
        proc.send_signal(signal.SIGINT)  # py-spy stops and writes on SIGINT
        proc.wait(timeout=30)

    return sample


@dataclass
class Config:
    name: str
    mode: str = "plain"  # what the workload enables in-process
    sampler: Sampler | None = None  # what runs outside it


@dataclass
class Row:
    """One configuration and the medians, over rounds, of its pairs (see the docstring)."""

    name: str
    wall_s: list[float]
    paused_s: list[float]
    wall_overhead: float
    paused_share: float

    @classmethod
    def of(cls, name: str, runs: list[tuple[float, float]], base: list[tuple[float, float]]) -> Row:
        pairs = list(zip(runs, base, strict=True))
        wall = statistics.median(r[0] / b[0] for r, b in pairs) - 1
        paused = statistics.median(r[1] / r[0] - b[1] / b[0] for r, b in pairs)
        return cls(name, [r[0] for r in runs], [r[1] for r in runs], wall, paused)

    def cells(self) -> list[str]:
        def pct(x: float) -> str:
            return "-" if self.name == "unprofiled" else f"{x:+.1%}"

        low, high = min(self.wall_s), max(self.wall_s)
        return [
            self.name,
            f"{statistics.median(self.wall_s):.3f} ({low:.2f}-{high:.2f})",
            pct(self.wall_overhead),
            pct(self.paused_share),
        ]


def _configs(rate: int) -> tuple[list[Config], dict[str, str]]:
    configs = [
        Config("perflab (py-spy, 100 Hz)" if rate == 100 else f"perflab ({rate} Hz)"),
        Config(f"py-spy --nonblocking ({rate} Hz)", sampler=_py_spy_nonblocking(rate)),
        Config("cProfile", mode="cprofile"),
    ]
    configs[0].sampler = _perflab
    skipped: dict[str, str] = {}
    if importlib.util.find_spec("pyinstrument") is not None:
        configs.append(Config("pyinstrument (1 ms)", mode="pyinstrument"))
    else:
        skipped["pyinstrument"] = "not importable (pip install pyinstrument, the bench extra)"
    return configs, skipped


Pairs = dict[str, tuple[list[tuple[float, float]], list[tuple[float, float]]]]


def _measure(workload: Workload, configs: list[Config], rounds: int, repeat: int) -> Pairs:
    """Per configuration: its segments and the unprofiled segment run just before each."""
    window = math.ceil(ATTACH_S + 2.5 * _expected_s(workload, rounds))
    pairs: Pairs = {c.name: ([], []) for c in configs}
    for r in range(repeat):
        for config in configs[r % len(configs) :] + configs[: r % len(configs)]:
            runs, base = pairs[config.name]
            base.append(workload.segment(rounds))
            if config.sampler is None:
                runs.append(workload.segment(rounds, config.mode))
                continue
            with tempfile.TemporaryDirectory(prefix="perflab-bench-profile-") as folder:
                with config.sampler(workload.pid, window, Path(folder)):
                    runs.append(workload.segment(rounds))
    return pairs


def _expected_s(workload: Workload, rounds: int) -> float:
    return workload.segment(rounds)[0]


def _calibrate(workload: Workload, seconds: float) -> int:
    probe = 50
    workload.segment(probe)  # warm-up
    wall, _paused = workload.segment(probe)
    return max(1, round(probe * seconds / wall))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=6, help="rounds of all configurations")
    parser.add_argument("--work", type=float, default=1.0, help="seconds of work unprofiled")
    parser.add_argument("--rate", type=int, default=100, help="sampling rate, Hz")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return _serve()

    configs, skipped = _configs(args.rate)
    workload = Workload()
    try:
        rounds = _calibrate(workload, args.work)
        load_before = os.getloadavg()[0]
        print(
            f"profiling overhead: segments of {rounds} rounds (~{args.work:g} s), "
            f"{args.repeat} pairs per configuration, Python {sys.version.split()[0]}, "
            f"{os.cpu_count()} cores, load average {load_before:.2f}"
        )
        pairs = _measure(workload, configs, rounds, args.repeat)
    finally:
        workload.close()
    baseline = [b for _runs, base in pairs.values() for b in base]
    rows = [Row.of("unprofiled", baseline, baseline)]
    rows += [Row.of(name, runs, base) for name, (runs, base) in pairs.items()]
    print("| configuration | wall median (range), s | overhead: wall | overhead: paused |")
    print("|---|---:|---:|---:|")
    for row in rows:
        print("| " + " | ".join(row.cells()) + " |")
    for name, reason in skipped.items():
        print(f"| {name} | skipped: {reason} | | |")
    ours = rows[1]
    verdict = "met" if ours.paused_share <= TARGET_OVERHEAD else "NOT met"
    load_after = os.getloadavg()[0]
    print(
        f"perflab pauses its target {ours.paused_share:.1%} of the time "
        f"(wall {ours.wall_overhead:+.1%}): target <= {TARGET_OVERHEAD:.0%} {verdict}"
    )
    if max(load_before, load_after) > (os.cpu_count() or 1) / 2:
        print(f"note: the machine was busy (load {load_before:.2f} -> {load_after:.2f})")
    if args.json is not None:
        from perflab.store.atomic import write_json_atomic

        doc = {"schema": "perflab.bench-profile/1", "rounds": rounds, "repeat": args.repeat}
        doc |= {"rate_hz": args.rate, "load": [load_before, load_after]}
        doc |= {"rows": [asdict(row) for row in rows], "skipped": skipped}
        write_json_atomic(args.json, doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
