"""``perflab detect``: where did a metric's level shift, by how much, and how surely?"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from perflab.cli.live import human_console
from perflab.errors import UsageError

if TYPE_CHECKING:
    from perflab.detect.api import Detection
    from perflab.detect.series import Series

EXAMPLES = """
Examples:

  perflab detect p99.csv                           (the CSV's one numeric column)

  perflab detect bench.csv --column median_ms --json

  perflab detect --history nightly --metric p99

  perflab detect --history nightly --metric rps --fail-on regression --recent 5

  perflab detect --bench total --params n=100      (a benchmark's medians, this machine)

  perflab detect series.json --method pelt --alpha 0.01

Input: a CSV with a header row (a commit/time column is carried into the output) or a JSON
list of numbers. Methods: edivisive (default), pelt, binseg, ruptures-pelt.

Exit codes: 0 done, 1 --fail-on regression and a regression in the last --recent points,
2 bad input.
"""

_SPARK = " ▁▂▃▄▅▆▇█"
_STYLE = {"regression": "bold red", "improvement": "bold green"}


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"


def _table(result: Detection) -> Table:
    title = (
        f"{result.metric} in {result.source}: {result.n} points, {len(result.change_points)} "
        f"change point(s) ({result.options.method}, alpha {result.options.alpha:g})"
    )
    table = Table(title=title, title_justify="left")
    for header in ("index", "commit / time", "before", "after", "change", "p-value", "what"):
        justify = "left" if header in ("commit / time", "what") else "right"
        table.add_column(header, justify=justify)  # type: ignore[arg-type]
    for c in result.change_points:
        table.add_row(
            str(c.index),
            Text(c.label or "-"),
            _fmt(c.before),
            _fmt(c.after),
            "-" if c.change_pct is None else f"{c.change_pct:+.1f}%",
            f"{c.p_value:.2g}",
            Text(c.direction, style=_STYLE[c.direction]),
        )
    return table


def sparkline(values: list[float], marks: list[int], width: int = 72) -> str:
    """The series in ``width`` block characters (bucket medians), change points as ``|``."""
    n = len(values)
    width = min(width, n)
    lo, hi = min(values), max(values)
    cells = []
    for b in range(width):
        bucket = sorted(values[b * n // width : max(b * n // width + 1, (b + 1) * n // width)])
        mid = bucket[len(bucket) // 2]
        level = 0 if hi == lo else round((mid - lo) / (hi - lo) * (len(_SPARK) - 2)) + 1
        cells.append(_SPARK[level])
    for at in sorted({m * width // n for m in marks}, reverse=True):
        cells.insert(at, "|")
    return "".join(cells)


def _load(
    series: Path | None,
    history: str | None,
    bench: str | None,
    column: str | None,
    metric: str | None,
    params: list[str],
) -> Series:
    from perflab.detect.series import load_bench_history, load_file, load_history

    if params and bench is None:
        raise UsageError("--params applies to --bench")
    if series is not None:
        if metric is not None:
            raise UsageError("--metric applies to --history; for a file use --column")
        return load_file(series, column)
    if column is not None:
        raise UsageError("--column applies to a CSV file, not to --history or --bench")
    if bench is not None:
        from perflab.bench.results import this_machine
        from perflab.store.benchseries import params_json

        if metric is not None:
            raise UsageError("--metric applies to --history; --bench reads the medians")
        return load_bench_history(bench, params_json(params), this_machine())
    return load_history(str(history), metric or "p99")


def detect(
    series: Annotated[
        Path | None, typer.Argument(help="A .csv (header row) or .json (list of numbers).")
    ] = None,
    history: Annotated[
        str | None, typer.Option("--history", help="Runs of this name from the catalog.")
    ] = None,
    bench: Annotated[
        str | None,
        typer.Option("--bench", help="A benchmark's stored medians (this machine's results)."),
    ] = None,
    params: Annotated[
        list[str] | None,
        typer.Option("--params", help="With --bench: its parameters, e.g. n=100; repeatable."),
    ] = None,
    column: Annotated[
        str | None, typer.Option("--column", help="The CSV column to use, when several.")
    ] = None,
    metric: Annotated[
        str | None,
        typer.Option("--metric", help="With --history: p99 (default), p50, p90, rps, error_rate."),
    ] = None,
    method: Annotated[
        str, typer.Option("--method", help="edivisive, pelt, binseg or ruptures-pelt.")
    ] = "edivisive",
    alpha: Annotated[
        float, typer.Option("--alpha", help="Largest p-value of a reported change point.")
    ] = 0.001,
    penalty: Annotated[
        float,
        typer.Option("--penalty", help="pelt/binseg: cost of a change, in sigma^2 * log n."),
    ] = 5.0,
    min_size: Annotated[
        int, typer.Option("--min-size", min=2, help="Fewest points of a level.")
    ] = 5,
    trend_window: Annotated[
        int,
        typer.Option(
            "--trend-window",
            min=0,
            help="Points each side tested for a step beyond a drift (0: no drift test).",
        ),
    ] = 200,
    min_change: Annotated[
        float, typer.Option("--min-change", min=0.0, help="Ignore shifts under this %.")
    ] = 0.0,
    scale: Annotated[
        str, typer.Option("--scale", help="auto (log when all values > 0), log or linear.")
    ] = "auto",
    higher_is_better: Annotated[
        bool | None,
        typer.Option(
            "--higher-is-better/--lower-is-better",
            help="Which way is a regression; default lower is better, except rps.",
            show_default=False,
        ),
    ] = None,
    fail_on: Annotated[
        str, typer.Option("--fail-on", help="'regression': exit 1 on a recent regression.")
    ] = "none",
    recent: Annotated[
        int, typer.Option("--recent", min=1, help="With --fail-on: the last N points count.")
    ] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON document only.")] = False,
) -> int:
    """Find the points where a metric's level shifts (regressions and improvements), each
    with its index, before/after medians, change in % and a p-value."""
    from perflab.detect.api import detect_series
    from perflab.stats.changepoint import METHODS, DetectOptions

    if sum(x is not None for x in (series, history, bench)) != 1:
        raise UsageError("give a SERIES file, --history NAME or --bench NAME (one of them)")
    if method not in METHODS:
        raise UsageError(f"unknown --method {method!r}: one of {', '.join(METHODS)}")
    if fail_on not in ("none", "regression"):
        raise UsageError(f"bad --fail-on {fail_on!r}: none or regression")
    if not 0 < alpha < 1:
        raise UsageError(f"bad --alpha {alpha:g}: must lie in (0, 1)")
    if scale not in ("auto", "log", "linear"):
        raise UsageError(f"bad --scale {scale!r}: auto, log or linear")
    data = _load(series, history, bench, column, metric, params or [])
    options = DetectOptions(
        method=method,
        alpha=alpha,
        penalty=penalty,
        min_size=min_size,
        trend_window=trend_window,
        min_change=min_change / 100.0,
        scale=scale,
    )
    result = detect_series(data, options, higher_is_better=higher_is_better)
    failed = fail_on == "regression" and bool(result.regressions(recent))
    if as_json:
        sys.stdout.write(json.dumps(result.to_json(), indent=2) + "\n")
    else:
        console = human_console(stderr=False)
        console.print(_table(result))
        marks = [c.index for c in result.change_points]
        console.print(Text(sparkline(data.values, marks), style="cyan"))
        if failed:
            console.print(Text(f"regression in the last {recent} points", style="bold red"))
    return 1 if failed else 0
