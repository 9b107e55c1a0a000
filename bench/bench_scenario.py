"""Scenario files against their peers: perflab, Locust and k6 each running the same user.

Part 1 (throughput): one user type with one GET task, closed model, 50 users, one process
pinned to core 0, against nginx pinned to core 1 — perflab's scenario file, Locust's
FastHttpUser and k6's default function (`http.get`), interleaved over rounds like
bench_load.py, with perflab's URL mode beside them to show what the scripting layer costs.
Targets: perflab-scenario >= 4x Locust and >= 2x k6 in requests/s.

Part 2 (memory): each tool parks N users in a one-hour think time after one request (their
keep-alive connections stay open); when nginx sees all N connections, the tool tree's memory
is read. Memory per idle user = (M(N) - M(small)) / (N - small), so the fixed cost cancels.
perflab and Locust with 10,000 users, k6 with 1,000 (its VUs are whole JavaScript runtimes;
10,000 of them would not fit comfortably here). Target: perflab <= 20 KB per idle user.

Usage: ``python bench/bench_scenario.py [--quick] [--repeat 3] [--json out.json]``;
see ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import psutil
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script: find loadbench/

from bench_load import parse_duration
from loadbench.measure import measure
from loadbench.model import CONNECTIONS, Sample
from loadbench.nginx import Nginx
from loadbench.record import environment, write_json
from loadbench.scenario import IdleSample, measure_idle, per_user_kb, scenario_tool
from loadbench.summary import ratios, summarize
from loadbench.tables import closed_table, fmt, ok_mark, ratio_table
from loadbench.tools import make_tools

MINE = "perflab-scenario"
TARGETS = {"locust": 4.0, "k6": 2.0}
IDLE_SIZES = {"perflab": (100, 10_000), "locust": (100, 10_000), "k6": (100, 1_000)}
IDLE_TARGET_KB = 20.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=parse_duration, help="per throughput run (default 10s)")
    p.add_argument("--quick", action="store_true", help="3 s runs (unless --duration is given)")
    p.add_argument("--repeat", type=int, default=1, help="interleaved rounds; medians shown")
    p.add_argument("--wait-idle", type=float, default=0.0, metavar="S",
                   help="before each run, wait up to S s for the machine to be quiet")  # fmt: skip
    p.add_argument("--skip", default="", help="comma-separated parts to skip: throughput,memory")
    p.add_argument("--json", type=Path, metavar="PATH", help="also write all figures here")
    args = p.parse_args(argv)
    args.secs = args.duration or (3 if args.quick else 10)
    args.skip_set = {s.strip() for s in args.skip.split(",") if s.strip()}
    return args


def throughput(nginx: Nginx, tmp: Path, args: argparse.Namespace) -> dict[str, list[Sample]]:
    err = Console(stderr=True)
    tools = [
        scenario_tool(nginx.url, args.secs),
        *make_tools(nginx.url, args.secs, {"k6", "locust", "perflab"}, []),
    ]
    runs: dict[str, list[Sample]] = {}
    for rnd in range(args.repeat):
        for tool in tools:
            err.print(f"[dim]round {rnd + 1}/{args.repeat}: {tool.name} ...[/]")
            s = measure(tool, nginx, args.secs, tmp, args.wait_idle)
            runs.setdefault(tool.name, []).append(s)
            for w in s.warnings:
                err.print(f"[yellow]warning: {tool.name}: {w}[/]")
    return runs


def memory(nginx: Nginx, tmp: Path) -> tuple[list[IdleSample], dict[str, dict[str, Any]]]:
    err = Console(stderr=True)
    samples: list[IdleSample] = []
    per_user: dict[str, dict[str, Any]] = {}
    for tool, (small, large) in IDLE_SIZES.items():
        pair = []
        for n in (small, large):
            err.print(f"[dim]idle users: {tool} with {n:,} ...[/]")
            s = measure_idle(tool, nginx, n, tmp / f"idle-{tool}-{n}", timeout_s=120)
            if s.status != "ok":
                err.print(f"[yellow]{tool} with {n:,} idle users {s.status}: {s.reason}[/]")
            samples.append(s)
            pair.append(s)
        per_user[tool] = {"users": [small, large], **per_user_kb(pair[0], pair[1])}
    return samples, per_user


def memory_table(samples: list[IdleSample], per_user: dict[str, dict[str, Any]]) -> Table:
    t = Table(title="Idle virtual users: memory of the tool's whole process tree")
    for col in ("tool", "users", "RSS MB", "USS MB", "ready s", "RSS KB/user", "USS KB/user"):
        t.add_column(col, justify="left" if col == "tool" else "right")
    for s in samples:
        pu = per_user.get(s.tool, {})
        large = s.users == max(pu.get("users", [0]))
        rss_kb = pu.get("rss_kb") if large else None
        met = s.tool != "perflab" or (rss_kb is not None and rss_kb <= IDLE_TARGET_KB)
        t.add_row(
            s.tool,
            f"{s.users:,}",
            fmt(s.rss_mb, ",.1f") if s.status == "ok" else s.status,
            fmt(s.uss_mb, ",.1f"),
            fmt(s.ready_s, ".1f"),
            ok_mark(rss_kb, met, ",.1f", "") if large else "",
            fmt(pu.get("uss_kb") if large else None, ",.1f"),
        )
    return t


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if psutil.cpu_count() < 2 or not shutil.which("taskset"):
        print("error: needs 2 cores and taskset (util-linux)", file=sys.stderr)
        return 2
    doc: dict[str, Any] = {
        "schema": "perflab.bench-scenario/1",
        "duration_s": args.secs,
        "users": CONNECTIONS,
        "targets": TARGETS,
        "idle_target_kb": IDLE_TARGET_KB,
        "environment": environment(),
    }
    con = Console(width=max(Console().width, 132))
    with (
        tempfile.TemporaryDirectory(prefix="perflab-bench-") as tmp_name,
        Nginx(Path(tmp_name)) as nginx,
    ):
        tmp = Path(tmp_name)
        if "throughput" not in args.skip_set:
            runs = throughput(nginx, tmp, args)
            summary, rat = summarize(runs), ratios(runs, MINE, TARGETS)
            con.print(closed_table(summary, args.secs))
            con.print(ratio_table(rat, MINE))
            doc.update(summary=summary, ratios=rat,
                       runs={k: [asdict(s) for s in v] for k, v in runs.items()})  # fmt: skip
        if "memory" not in args.skip_set:
            samples, per_user = memory(nginx, tmp)
            con.print(memory_table(samples, per_user))
            doc.update(idle=[asdict(s) for s in samples], idle_per_user_kb=per_user)
    if args.json:
        write_json(args.json, doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
