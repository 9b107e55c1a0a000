"""One measured run of one tool: quiet check, pinned run, and the figures every tool gets."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

from loadbench.model import (
    BUSY_PCT_WARN,
    GEN_CORE,
    SERVER_CORE,
    STARTUP_GRACE_S,
    Sample,
    Skip,
    Tool,
)
from loadbench.nginx import Nginx
from loadbench.procs import busy_per_core, machine_busy_s, own_cpu_s, run_pinned, steal_s
from loadbench.summary import add_warnings


def wait_quiet(max_wait_s: float) -> list[float]:
    """Sample per-core CPU (1 s); if busy, keep sampling up to max_wait_s for a quiet moment."""
    deadline = time.monotonic() + max_wait_s
    busy = busy_per_core()
    while max(busy) > BUSY_PCT_WARN and time.monotonic() < deadline:
        busy = busy_per_core()
    return busy


def measure(tool: Tool, nginx: Nginx, secs: int, workdir: Path, wait_s: float) -> Sample:
    """Run one tool once and derive the uniform figures; never raises for a tool's failure."""
    w = workdir / tool.name.replace("/", "_")
    w.mkdir(exist_ok=True)
    try:
        argv = tool.argv(w)
    except Skip as exc:
        return Sample(tool.name, "skipped", str(exc), target_rps=tool.target_rps)
    busy = wait_quiet(wait_s)

    def snapshot() -> tuple[float, ...]:
        return nginx.cpu_s(), machine_busy_s(), own_cpu_s(), steal_s(GEN_CORE), steal_s(SERVER_CORE)

    ng0, m0, own0, gs0, ss0 = snapshot()
    child = run_pinned(argv, GEN_CORE, secs + STARTUP_GRACE_S, w, nginx.served, snapshot)
    ng1, m1, own1, gs1, ss1 = child.exit_snapshot
    sample = Sample(tool.name, "ok", target_rps=tool.target_rps, busy_before_pct=busy)
    if child.timed_out or child.returncode != 0:
        tail = (child.stderr.strip() or child.stdout.strip()).splitlines()[-1:] or ["no output"]
        why = "timed out" if child.timed_out else f"exit {child.returncode}"
        sample.status, sample.reason = "failed", f"{why}: {tail[0][:160]}"
        return sample
    try:
        parsed = tool.parse(child, w)
    except (OSError, ValueError, KeyError, StopIteration) as exc:
        sample.status, sample.reason = "failed", f"cannot read its result: {exc!r}"[:200]
        return sample
    cpu = child.user_s + child.sys_s + child.straggler_cpu_s
    gen_ng = cpu + (ng1 - ng0) + (own1 - own0)
    sample.rps, sample.requests, sample.errors = parsed.rps, parsed.requests, parsed.errors
    sample.p50_ms, sample.p99_ms, sample.extra = parsed.p50_ms, parsed.p99_ms, parsed.extra
    sample.wall_s, sample.cpu_user_s, sample.cpu_sys_s = child.wall_s, child.user_s, child.sys_s
    sample.cpu_unreaped_s = child.straggler_cpu_s
    sample.cpu_us_per_req = sample.per_request(cpu)
    sample.gen_cpu_pct = 100 * cpu / child.wall_s
    sample.nginx_cpu_pct = 100 * (ng1 - ng0) / child.wall_s
    if child.steady is not None:
        sample.steady = asdict(child.steady)
        sample.steady_us_per_req = child.steady.us_per_req
        sample.steady_cpu_pct = child.steady.cpu_pct
        sample.served_rps = child.steady.served_rps
    sample.other_cpu_pct = max(0.0, 100 * ((m1 - m0) - gen_ng) / child.wall_s)
    sample.steal_pct = [100 * (gs1 - gs0) / child.wall_s, 100 * (ss1 - ss0) / child.wall_s]
    if child.orphans:
        sample.warnings.append(
            f"left {child.orphans} process(es) running >2 s after it exited (killed); "
            "their CPU up to its exit is counted"
        )
    add_warnings(sample)
    return sample
