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
import re
import shutil
import sys
import tempfile
from pathlib import Path

import psutil
from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script: find loadbench/

from loadbench.measure import measure
from loadbench.model import CONNECTIONS, DEFAULT_RATES, TOOLS, Sample
from loadbench.nginx import Nginx
from loadbench.record import document, write_json
from loadbench.summary import ratios, summarize
from loadbench.tables import render
from loadbench.tools import make_tools


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
        "--open-connections",
        type=int,
        default=CONNECTIONS,
        metavar="N",
        help=f"the open model's connection cap (default {CONNECTIONS}, as wrk2 -c{CONNECTIONS}; "
        "0: perflab's default, grow as needed up to --max-inflight)",
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
    if args.open_connections < 0:
        p.error("--open-connections must be 0 or more")
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
        tools = make_tools(
            nginx.url, args.secs, args.only_set, args.rate_list, args.open_connections
        )
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
    render(summary, rat, args.secs, warnings, args.open_connections)
    if args.json:
        write_json(args.json, document(args.secs, summary, rat, runs, args.open_connections))
    return 0


if __name__ == "__main__":
    sys.exit(main())
