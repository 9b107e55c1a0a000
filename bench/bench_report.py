"""How long ``perflab report`` takes for a 1-hour run with 10 request names (36,000 rows).

Run: ``python bench/bench_report.py [--seconds 3600] [--names 10] [--rps 100] [--repeat 3]``.

Prints the render time (rows in memory -> HTML string) as the best and median of
``--repeat`` runs, in wall and CPU seconds, the HTML size, and the time the CLI adds to read
the run's files back (the run is written to a temporary run directory with the store's own
writer and compacted to Parquet, as a real run is). The budget from issue 4 is 5 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # for tests.synthetic_run, shared with the unit tests
    sys.path.insert(0, str(ROOT))

from tests.synthetic_run import synthetic_run  # noqa: E402

from perflab.report.html import render_run  # noqa: E402
from perflab.report.html.render import plotly_js  # noqa: E402
from perflab.store import RunWriter, read_generator, read_intervals  # noqa: E402

BUDGET_S = 5.0


def _write_run(
    folder: Path, doc: dict[str, Any], rows: list[dict[str, Any]], generator: list[dict[str, Any]]
) -> Path:
    writer = RunWriter(folder)
    writer.begin(doc)
    by_second: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        by_second.setdefault(row["second"], []).append(row)
    for g in generator:
        writer.interval(g["second"], by_second.get(g["second"], []), g)
    writer.end(doc)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3600)
    parser.add_argument("--names", type=int, default=10)
    parser.add_argument("--rps", type=int, default=100, help="requests per second per name")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-store", action="store_true", help="skip the read-back timing")
    args = parser.parse_args()

    started = time.perf_counter()
    doc, rows, generator = synthetic_run(args.seconds, args.names, args.rps)
    print(
        f"synthetic run: {len(rows):,} interval rows, {len(generator):,} generator rows "
        f"({args.seconds} s x {args.names} names x {args.rps}/s each), "
        f"made in {time.perf_counter() - started:.1f} s"
    )
    plotly_js()  # read once per process, like any report after the first
    walls, cpus, size = [], [], 0
    for _ in range(args.repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        html = render_run(doc, rows, generator)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
        size = len(html.encode())
    verdict = "within" if min(walls) < BUDGET_S else "OVER"
    print(
        f"render:  best {min(walls):.2f} s, median {statistics.median(walls):.2f} s wall; "
        f"best {min(cpus):.2f} s CPU ({verdict} the {BUDGET_S:.0f} s budget)"
    )
    print(f"html:    {size / 1e6:.2f} MB ({len(plotly_js()) / 1e6:.2f} MB of it plotly.js)")
    if args.no_store:
        return
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = _write_run(Path(tmp) / "run", doc, rows, generator)
        wall = time.perf_counter()
        stored_rows, stored_generator = read_intervals(run_dir), read_generator(run_dir)
        read_s = time.perf_counter() - wall
        render_run(doc, stored_rows, stored_generator)
        total = time.perf_counter() - wall
    print(f"via the run directory (Parquet): read {read_s:.2f} s, read + render {total:.2f} s")


if __name__ == "__main__":
    main()
