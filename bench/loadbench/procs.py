"""Running generators as pinned child processes and accounting their CPU."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import psutil

from loadbench.model import Child, Steady

# bench/loadbench/procs.py -> the repository root, whose .venv holds k6, locust and perflab.
REPO_ROOT = Path(__file__).resolve().parents[2]


def find_binary(name: str) -> str | None:
    """Prefer the running venv's copy (k6, locust, perflab live there), then PATH and sbin."""
    for cand in (Path(sys.executable).parent / name, REPO_ROOT / ".venv" / "bin" / name):
        if cand.is_file() and os.access(cand, os.X_OK):
            return str(cand)
    found = shutil.which(name)
    if found:
        return found
    sbin = Path("/usr/sbin") / name
    return str(sbin) if sbin.is_file() else None


def run_pinned(
    argv: list[str],
    core: int,
    timeout_s: float,
    cwd: Path,
    served: Callable[[], int],
    at_exit: Callable[[], tuple[float, ...]],
) -> Child:
    """Run argv pinned to one core and return its output and rusage.

    ``os.wait4`` returns the rusage of the child together with every descendant it reaped,
    so a generator's worker processes are counted as long as the generator waits for them.
    Output goes to files, not pipes, so a chatty tool never blocks on a full pipe. served
    counts the target's requests, for the LoadSampler. at_exit is called the moment the child
    is reaped, before stragglers are waited for.
    """
    out_path, err_path = cwd / "child.out", cwd / "child.err"
    env = {**os.environ, "K6_NO_USAGE_REPORT": "true", "NO_COLOR": "1"}
    with out_path.open("wb") as out, err_path.open("wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            ["taskset", "-c", str(core), *argv],
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
        sampler = LoadSampler(proc.pid, served)
        status, ru, timed_out = reap(proc.pid, t0 + timeout_s, sampler.tick)
        wall = time.perf_counter() - t0
        exit_snapshot = at_exit()
        straggler_cpu, orphans = collect_stragglers(proc.pid)
    proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped; keep Popen quiet
    return Child(
        returncode=proc.returncode,
        stdout=out_path.read_text(errors="replace"),
        stderr=err_path.read_text(errors="replace"),
        wall_s=wall,
        user_s=ru.ru_utime,
        sys_s=ru.ru_stime,
        timed_out=timed_out,
        orphans=orphans,
        straggler_cpu_s=straggler_cpu,
        exit_snapshot=exit_snapshot,
        steady=sampler.steady(),
    )


def reap(pid: int, deadline: float, tick: Callable[[float], None]) -> tuple[int, Any, bool]:
    """Wait for pid (polling, so a deadline can be enforced) and return (status, rusage,
    timed_out). On a timeout or Ctrl-C the child's whole process group is killed, since it
    runs in its own session and would not get the terminal's SIGINT."""
    timed_out = False
    try:
        while True:
            got, status, ru = os.wait4(pid, os.WNOHANG)
            if got:
                return status, ru, timed_out
            now = time.perf_counter()
            tick(now)
            if now > deadline and not timed_out:
                timed_out = True
                kill_group(pid)
            time.sleep(0.02)
    except BaseException:
        kill_group(pid)
        os.wait4(pid, 0)
        raise


def tree_cpu_s(pid: int) -> float | None:
    """CPU so far of a live process, its live descendants and the ones it has reaped."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return None
    total = 0.0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
    return total


class LoadSampler:
    """Samples the generator tree's CPU and nginx's served-request count every 0.25 s.

    rusage covers the whole run, start-up included (Locust's imports alone cost ~0.85 s of
    CPU here, perflab's worker spawn more); the samples show where load actually flowed, so
    CPU per request can also be taken over that stretch only, for every tool alike.
    """

    PERIOD_S = 0.25

    def __init__(self, pid: int, served: Callable[[], int]) -> None:
        self.pid, self.served = pid, served
        self.points: list[tuple[float, float, int]] = []  # (time, tree CPU s, served)
        self.next_at = 0.0

    def tick(self, now: float) -> None:
        if now < self.next_at:
            return
        self.next_at = now + self.PERIOD_S
        cpu = tree_cpu_s(self.pid)
        if cpu is not None:
            self.points.append((now, cpu, self.served()))

    def steady(self) -> Steady | None:
        """Over the intervals where nginx served >= half its peak rate, less one interval at
        each end (partly idle); None when under 2 intervals remain."""
        pts = self.points
        # Each interval's count includes the one status request that ended it.
        rates = [(b[2] - a[2] - 1) / (b[0] - a[0]) for a, b in pairwise(pts)]
        if not rates or max(rates) <= 0:
            return None
        busy = [i for i, r in enumerate(rates) if r >= 0.5 * max(rates)]
        first, last = busy[0] + 1, busy[-1] - 1
        if last - first + 1 < 2:
            return None
        (t_a, c_a, n_a), (t_b, c_b, n_b) = pts[first], pts[last + 1]
        served = n_b - n_a - (last + 1 - first)
        if served <= 0:
            return None
        return Steady(t_b - t_a, 100 * (c_b - c_a) / (t_b - t_a), served / (t_b - t_a),
                      (c_b - c_a) * 1e6 / served)  # fmt: skip


def group_members(pgid: int) -> list[psutil.Process]:
    """Live processes of a process group, its leader excluded."""
    members = []
    for p in psutil.process_iter():
        with contextlib.suppress(psutil.Error, OSError):
            if p.pid != pgid and os.getpgid(p.pid) == pgid:
                members.append(p)
    return members


def kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def collect_stragglers(pgid: int, grace_s: float = 2.0) -> tuple[float, int]:
    """CPU of group members still alive after the leader was reaped, and how many had to be
    killed after grace_s.

    Their CPU never reaches our rusage (they are re-parented, not reaped by the tool), so it
    is read here and added. Python's multiprocessing resource tracker is the usual one: it
    exits by itself moments after its parent; a process still there after the grace is a
    leak worth a warning.
    """
    members = group_members(pgid)
    cpu = 0.0
    for p in members:
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            cpu += t.user + t.system + t.children_user + t.children_system
    _, alive = psutil.wait_procs(members, timeout=grace_s) if members else ([], [])
    kill_group(pgid)
    return cpu, len(alive)


def busy_per_core(interval_s: float = 1.0) -> list[float]:
    """Per-core busy % over interval_s; taken while nothing of ours runs, so it is noise."""
    return [float(p) for p in psutil.cpu_percent(interval=interval_s, percpu=True)]


def machine_busy_s() -> float:
    """Busy CPU-seconds of the whole machine so far (all cores; idle, iowait and the
    hypervisor's steal excluded: steal is reported on its own, see :func:`steal_s`)."""
    t = psutil.cpu_times()
    total = sum(t) - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0)
    return float(total - t.idle - getattr(t, "iowait", 0.0) - getattr(t, "steal", 0.0))


def steal_s(core: int) -> float:
    """CPU-seconds the hypervisor has taken from ``core`` so far (0 where not reported).

    While the host runs something else on our vCPU, the tool on it simply stops: a 10 ms
    pause costs 1 % of that second's requests, and sets the p99 of an open-model second.
    """
    times = psutil.cpu_times(percpu=True)
    return float(getattr(times[core], "steal", 0.0)) if core < len(times) else 0.0


def own_cpu_s() -> float:
    """CPU of this script itself, so it is not blamed on other tenants."""
    t = psutil.Process().cpu_times()
    return float(t.user + t.system)
