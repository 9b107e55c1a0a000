"""Which change-point method should ``perflab detect`` use? Measured on generated histories.

Run: ``python bench/bench_detect.py [--per-kind 20] [--seed N] [--methods pelt,edivisive]``
(about 1-2 minutes on 2 cores). ``--grid`` instead scores the default pipeline over a grid
of its knobs (penalty factor, alpha, trend window), to show the defaults are not a lucky pick.

Every method is scored as ``perflab detect`` runs it (candidates, then the per-point test
and pruning) and raw (its own stopping rule only: the penalty, or E-divisive's t-test as in
Otava), next to the ``zero`` baseline (no change points). Scores: precision, recall and F1
with a margin of 5 points as in TCPDBench (index 0 counts, several annotators), averaged over
series; delay = mean |found - true| of matched points; false alarms per pure-noise series.
A 10,000-point series with 6 shifts is timed per method (best of 3).

Peer: Apache Otava 0.8 (``compute_change_points`` with its defaults, from its own venv made by
``bench/setup.sh``; see ``detectbench/otava_peer.py``) is scored on the same series and timed
on the same 10,000 points; the timing table prints each method's speed as a ratio to Otava.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))

from detectbench.otava_peer import OtavaMissing, OtavaPeer
from detectbench.scoring import delays, f_measure
from detectbench.series import KINDS, Case, cases
from perflab.stats.changepoint import (
    DetectOptions,
    candidates,
    find_change_points,
    prepare,
)

Finder = Callable[[np.ndarray], list[int]]
RUPTURES_PELT_MAX_N = 120  # ruptures' PELT: ~3 s for 400 points, ~9 s for 1,000


def _pipeline(options: DetectOptions) -> Finder:
    return lambda x: [c.index for c in find_change_points(x, options)]


def _raw(options: DetectOptions) -> Finder:
    return lambda x: candidates(prepare(x, options.scale), options)


def finders(names: list[str]) -> dict[str, Finder]:
    out: dict[str, Finder] = {"zero": lambda x: []}
    for name in names:
        out[name] = _pipeline(DetectOptions(method=name))
        if name != "ruptures-pelt":  # its candidates are pelt's (a unit test checks)
            out[f"{name} raw"] = _raw(DetectOptions(method=name))
    return out


def _skip(name: str, case: Case) -> bool:
    return name.startswith("ruptures-pelt") and len(case.values) > RUPTURES_PELT_MAX_N


def evaluate(
    all_cases: list[Case], methods: dict[str, Finder]
) -> dict[str, list[dict[str, float]]]:
    results: dict[str, list[dict[str, float]]] = defaultdict(list)
    for name, find in methods.items():
        for case in all_cases:
            if _skip(name, case):
                continue
            started = time.perf_counter()
            found = find(case.values)
            took = time.perf_counter() - started
            score = f_measure(case.annotations, found)
            lags = delays(case.annotations[0], found)
            results[name].append(
                {
                    "kind": case.kind,  # type: ignore[dict-item]
                    "n": len(case.values),
                    "f1": score.f1,
                    "precision": score.precision,
                    "recall": score.recall,
                    "delay": float(np.mean(lags)) if lags else float("nan"),
                    "false": float(len(found)) if case.kind == "noise" else float("nan"),
                    "time": took,
                }
            )
    return results


def _mean(rows: list[dict[str, float]], key: str) -> float:
    values = [r[key] for r in rows if not np.isnan(r[key])]
    return statistics.fmean(values) if values else float("nan")


def summary_table(results: dict[str, list[dict[str, float]]]) -> Table:
    table = Table(title="All series: mean per series (margin 5)", title_justify="left")
    for col in (
        "method",
        "series",
        "F1",
        "precision",
        "recall",
        "delay",
        "false/noise",
        "mean ms",
        "max ms",
    ):
        table.add_column(col, justify="left" if col == "method" else "right")
    for name, rows in results.items():
        table.add_row(
            name,
            str(len(rows)),
            f"{_mean(rows, 'f1'):.3f}",
            f"{_mean(rows, 'precision'):.3f}",
            f"{_mean(rows, 'recall'):.3f}",
            f"{_mean(rows, 'delay'):.2f}",
            f"{_mean(rows, 'false'):.2f}",
            f"{_mean(rows, 'time') * 1000:.1f}",
            f"{max(r['time'] for r in rows) * 1000:.0f}",
        )
    return table


def kinds_table(results: dict[str, list[dict[str, float]]]) -> Table:
    table = Table(title="F1 by kind of series", title_justify="left")
    table.add_column("method")
    for kind in KINDS:
        table.add_column(kind, justify="right")
    for name, rows in results.items():
        cells = []
        for kind in KINDS:
            mine = [r for r in rows if r["kind"] == kind]  # type: ignore[comparison-overlap]
            cells.append(f"{_mean(mine, 'f1'):.2f}" if mine else "-")
        table.add_row(name, *cells)
    return table


def timing_table(names: list[str], seed: int, otava: OtavaPeer | None) -> Table:
    rng = np.random.default_rng(seed)
    n = 10_000
    level = np.zeros(n)
    for at in (1500, 3000, 4200, 6000, 7700, 9000):
        level[at:] += np.log1p(rng.uniform(0.03, 0.1)) * rng.choice([-1, 1])
    x = 20.0 * np.exp(level + rng.normal(0, 0.03, n))
    table = Table(title="10,000 points, 6 shifts: best of 3", title_justify="left")
    for col in ("method", "seconds", "found", "speed vs Otava"):
        table.add_column(col, justify="left" if col == "method" else "right")
    peer_s = None
    if otava is not None:
        peer_times = []
        for _ in range(3):
            peer_found = otava.find(x)
            peer_times.append(otava.last_seconds)
        peer_s = min(peer_times)
        table.add_row("otava (peer)", f"{peer_s:.3f}", str(len(peer_found)), "1.00x")
    for name in names:
        if name == "ruptures-pelt":
            table.add_row(name, "skipped (~9 s per 1,000 points)", "-", "-")
            continue
        times, found = [], []
        for _ in range(3):
            started = time.perf_counter()
            found = find_change_points(x, DetectOptions(method=name))
            times.append(time.perf_counter() - started)
        ratio = f"{peer_s / min(times):.2f}x" if peer_s else "-"
        table.add_row(name, f"{min(times):.3f}", str(len(found)), ratio)
    return table


def grid(all_cases: list[Case], console: Console, names: list[str]) -> None:
    table = Table(title="the pipeline over its knobs (mean F1)", title_justify="left")
    for col in (
        "method",
        "penalty",
        "alpha",
        "trend window",
        "F1",
        "precision",
        "recall",
        "false/noise",
    ):
        table.add_column(col, justify="right")
    for name, pen, alpha, window in itertools.product(
        names, (2.0, 3.0, 5.0), (0.01, 0.001), (60, 200, 500)
    ):
        if name == "edivisive" and pen != 3.0:
            continue  # no penalty in E-divisive
        options = DetectOptions(method=name, penalty=pen, alpha=alpha, trend_window=window)
        rows = evaluate(all_cases, {"x": _pipeline(options)})["x"]
        table.add_row(
            name,
            f"{pen:g}",
            f"{alpha:g}",
            str(window),
            f"{_mean(rows, 'f1'):.3f}",
            f"{_mean(rows, 'precision'):.3f}",
            f"{_mean(rows, 'recall'):.3f}",
            f"{_mean(rows, 'false'):.2f}",
        )
    console.print(table)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-kind", type=int, default=20)
    parser.add_argument("--seed", type=int, default=20240501)
    parser.add_argument("--methods", default="pelt,edivisive,binseg,ruptures-pelt")
    parser.add_argument("--grid", action="store_true", help="score the default's knobs")
    args = parser.parse_args()
    console = Console(width=160)
    all_cases = list(cases(args.per_kind, args.seed))
    console.print(f"{len(all_cases)} series, {len(KINDS)} kinds, seed {args.seed}")
    names = [m for m in args.methods.split(",") if m]
    if args.grid:
        grid(all_cases, console, names)
        return 0
    with contextlib.ExitStack() as stack:
        otava: OtavaPeer | None = None
        try:
            otava = stack.enter_context(OtavaPeer())
        except OtavaMissing as exc:
            console.print(f"otava: skipped ({exc})")
        methods = finders(names)
        if otava is not None:
            methods["otava (peer)"] = otava.find
        started = time.perf_counter()
        results = evaluate(all_cases, methods)
        console.print(summary_table(results))
        console.print(kinds_table(results))
        console.print(f"ruptures-pelt rows: only series of n <= {RUPTURES_PELT_MAX_N} points.")
        console.print(timing_table(names, args.seed, otava))
        console.print(f"bench took {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
