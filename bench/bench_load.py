"""Side-by-side benchmark of HTTP load generators: wrk, k6, Locust and perflab.

One process starts one nginx (1 worker, pinned to core 1) and runs each generator in turn,
pinned to core 0, with 50 keep-alive connections for the same duration. For every tool it
measures requests/s and client CPU time per request, and prints perflab's ratios to each peer
next to its targets. A second part drives perflab's open model at fixed rates and checks
that it reaches them with low scheduling lag.

Why these measurements:
- RPS alone is not a fair comparison above ~150k/s, where nginx on its single core is the
  bottleneck (wrk stops there); client CPU per request shows how much headroom a generator has.
- CPU is taken from the kernel's rusage of each reaped child process tree (``os.wait4``),
  the same way for every tool, so a tool's own report of its CPU never enters the comparison.
- The machine is shared: per-core CPU is sampled before each run and the CPU not accounted to
  the generator or nginx during the run is reported, so a noisy figure can be recognised.

Usage: ``python bench/bench_load.py [--quick] [--only wrk,k6] [--json out.json]``;
see ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import psutil
from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script: find loadbench/

from loadbench.model import (
    BUSY_PCT_WARN,
    CONNECTIONS,
    DEFAULT_RATES,
    GEN_CORE,
    SCHEMA,
    SERVER_CORE,
    STARTUP_GRACE_S,
    TARGETS,
    TOOLS,
    Sample,
    Skip,
    Tool,
)
from loadbench.nginx import Nginx
from loadbench.procs import (
    busy_per_core,
    find_binary,
    machine_busy_s,
    own_cpu_s,
    run_pinned,
)
from loadbench.summary import add_warnings, ratios, summarize
from loadbench.tables import render
from loadbench.tools import make_tools


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
        return nginx.cpu_s(), machine_busy_s(), own_cpu_s()

    ng0, m0, own0 = snapshot()
    child = run_pinned(argv, GEN_CORE, secs + STARTUP_GRACE_S, w, nginx.served, snapshot)
    ng1, m1, own1 = child.exit_snapshot
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
    sample.cpu_us_per_req = cpu * 1e6 / parsed.requests if parsed.requests else None
    sample.gen_cpu_pct = 100 * cpu / child.wall_s
    sample.nginx_cpu_pct = 100 * (ng1 - ng0) / child.wall_s
    if child.steady is not None:
        sample.steady = asdict(child.steady)
        sample.steady_us_per_req = child.steady.us_per_req
        sample.steady_cpu_pct = child.steady.cpu_pct
        sample.served_rps = child.steady.served_rps
    sample.other_cpu_pct = max(0.0, 100 * ((m1 - m0) - gen_ng) / child.wall_s)
    if child.orphans:
        sample.warnings.append(
            f"left {child.orphans} process(es) running >2 s after it exited (killed); "
            "their CPU up to its exit is counted"
        )
    add_warnings(sample)
    return sample


def write_json(path: Path, doc: dict[str, Any]) -> None:
    """Atomic: a crash never leaves a half-written file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    os.replace(tmp, path)


def tool_version(argv: list[str]) -> str | None:
    """First line a tool prints about its version, or None when it is missing or broken."""
    path = find_binary(argv[0])
    if path is None:
        return None
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        r = subprocess.run([path, *argv[1:]], capture_output=True, text=True, timeout=30)
        lines = (r.stdout + r.stderr).strip().splitlines()
        # wrk -v exits 1; a crash prints a traceback: keep a first line only if it has a version.
        return lines[0][:120] if lines and re.search(r"\d+\.\d+", lines[0]) else None
    return None


def environment() -> dict[str, Any]:
    """What a reader needs to compare this file with another machine's or another day's."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": cpu,
        "cpu_count": psutil.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "tools": {
            "nginx": tool_version(["nginx", "-v"]),
            "wrk": tool_version(["wrk", "-v"]),
            "k6": tool_version(["k6", "version"]),
            "locust": tool_version(["locust", "--version"]),
            "perflab": tool_version(["perflab", "--version"]),
        },
    }


# ---- CLI ------------------------------------------------------------------------------------


def parse_duration(text: str) -> int:
    """Whole seconds from '10', '10s' or '1m': every tool takes whole seconds."""
    m = re.fullmatch(r"(\d+)(s|m)?", text.strip())
    if not m or int(m.group(1)) == 0:
        raise argparse.ArgumentTypeError(f"bad duration {text!r} (use e.g. 10s or 1m)")
    return int(m.group(1)) * (60 if m.group(2) == "m" else 1)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=parse_duration, help="per run (default 10s)")
    p.add_argument("--quick", action="store_true", help="3 s runs (unless --duration is given)")
    p.add_argument(
        "--only", default=",".join(TOOLS), help=f"comma-separated subset of {','.join(TOOLS)}"
    )
    p.add_argument(
        "--rates", default=",".join(map(str, DEFAULT_RATES)), help="open-model target rates, req/s"
    )
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="rounds over all tools, interleaved; tables show medians",
    )
    p.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="S",
        help="before each run, wait up to S s for the machine to be quiet",
    )
    p.add_argument("--json", type=Path, metavar="PATH", help="also write all figures here")
    args = p.parse_args(argv)
    args.only_set = {t.strip() for t in args.only.split(",") if t.strip()}
    unknown = args.only_set - set(TOOLS)
    if unknown:
        p.error(f"unknown tool(s) {', '.join(sorted(unknown))}; choose from {', '.join(TOOLS)}")
    args.secs = args.duration or (3 if args.quick else 10)
    args.rate_list = [int(r) for r in args.rates.split(",") if r.strip()]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if psutil.cpu_count() < 2 or not shutil.which("taskset"):
        print("error: needs 2 cores and taskset (util-linux)", file=sys.stderr)
        return 2
    runs: dict[str, list[Sample]] = {}
    err = Console(stderr=True)
    with tempfile.TemporaryDirectory(prefix="perflab-bench-") as tmp, Nginx(Path(tmp)) as nginx:
        tools = make_tools(nginx.url, args.secs, args.only_set, args.rate_list)
        for rnd in range(args.repeat):
            for tool in tools:
                err.print(f"[dim]round {rnd + 1}/{args.repeat}: {tool.name} ...[/]")
                s = measure(tool, nginx, args.secs, Path(tmp), args.wait_idle)
                runs.setdefault(tool.name, []).append(s)
                for w in s.warnings:
                    err.print(f"[yellow]warning: {tool.name}: {w}[/]")
    summary = summarize(runs)
    rat = ratios(runs)
    warnings = [f"{name}: {w}" for name, ss in runs.items() for s in ss for w in s.warnings]
    render(summary, rat, args.secs, warnings)
    if args.json:
        write_json(
            args.json,
            {
                "schema": SCHEMA,
                "duration_s": args.secs,
                "connections": CONNECTIONS,
                "cores": {"generator": GEN_CORE, "nginx": SERVER_CORE},
                "targets": TARGETS,
                "environment": environment(),
                "summary": summary,
                "ratios": rat,
                "runs": {k: [asdict(s) for s in v] for k, v in runs.items()},
            },
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
