"""``perflab capacity fit``: the Universal Scalability Law from (concurrency, throughput) data."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import typer
from rich.table import Table

from perflab.cli.live import human_console
from perflab.detect.series import load_csv
from perflab.errors import UsageError
from perflab.store.atomic import write_bytes_atomic

if TYPE_CHECKING:  # scipy loads only when a fit runs: every perflab command starts faster
    from perflab.capacity.usl import UslFit

EXAMPLES = """
  perflab capacity fit steps.csv               (columns concurrency,throughput)
  perflab capacity fit steps.csv --predict 64,128 --json
  perflab capacity fit steps.csv --html usl.html    (offline: points, curve, peak)
  perflab capacity fit data.csv --concurrency-column vus --throughput-column rps

Exit codes: 0 fitted, 2 bad input (too few points, non-positive concurrency, flat
throughput, no convergence), each saying what data would help.
"""

N_NAMES = ("concurrency", "n", "vus", "users", "threads", "processors", "load")
X_NAMES = ("throughput", "x", "rps", "tps", "qps")


def _header(path: Path) -> list[str]:
    try:
        with path.open(encoding="utf-8-sig", errors="replace") as fh:
            return [h.strip() for h in fh.readline().split(",")]
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None


def _column(
    header: list[str], path: Path, given: str | None, names: tuple[str, ...], what: str
) -> str:
    if given is not None:
        return given
    lowered = {h.lower(): h for h in header}
    for name in names:
        if name in lowered:
            return lowered[name]
    raise UsageError(
        f"{path}: no {what} column (looked for {', '.join(names)}; header: {', '.join(header)})",
        hint=f"name it with --{what}-column",
    )


def _levels(text: str | None) -> list[float]:
    if not text:
        return []
    try:
        out = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageError(f"bad --predict {text!r}: expected numbers like 64,128") from None
    if any(v <= 0 or not math.isfinite(v) for v in out):
        raise UsageError(f"bad --predict {text!r}: concurrency must be positive")
    return out


def _fmt(v: float | None, spec: str = ".4g") -> str:
    return "-" if v is None or not math.isfinite(v) else format(v, spec)


def _predictions(result: UslFit, levels: list[float]) -> list[dict[str, Any]]:
    if not levels:
        return []
    mean, low, high = result.predict(levels)
    latency = result.latency(np.asarray(levels))
    return [
        {
            "concurrency": level,
            "throughput": float(mean[i]),
            "low": None if low is None else float(low[i]),
            "high": None if high is None else float(high[i]),
            "latency": float(latency[i]),
        }
        for i, level in enumerate(levels)
    ]


def _print_human(data: Path, result: UslFit, predictions: list[dict[str, Any]]) -> None:
    console = human_console(stderr=False)
    table = Table(title=f"USL fit of {data} ({result.n} points)", title_justify="left")
    for col in ("parameter", "value", "95% CI"):
        table.add_column(col, justify="left" if col == "parameter" else "right")
    coefficients = {"sigma": result.sigma, "kappa": result.kappa, "lambda": result.lambda_}
    for key, value in coefficients.items():
        ci = result.ci.get(key)
        table.add_row(key, _fmt(value), "-" if ci is None else f"[{_fmt(ci[0])}, {_fmt(ci[1])}]")
    table.add_row("peak concurrency N*", _fmt(result.peak_concurrency, ".4g"), "")
    table.add_row("peak throughput", _fmt(result.peak_throughput), "")
    table.add_row("limit lambda/sigma", _fmt(result.limit_throughput), "")
    table.add_row("R²", f"{result.r2:.4f}", "")
    table.add_row("residual std. error", _fmt(result.rse), "")
    console.print(table)
    for row in predictions:
        band = "" if row["low"] is None else f" [{_fmt(row['low'])}, {_fmt(row['high'])}]"
        console.print(
            f"N = {row['concurrency']:g}: throughput {_fmt(row['throughput'])}{band}, "
            f"latency N/X {_fmt(row['latency'])}"
        )
    for note in result.notes:
        console.print(f"[yellow]note:[/] {note}")


def fit(
    data: Annotated[Path, typer.Argument(help="CSV with a header: concurrency and throughput.")],
    concurrency_column: Annotated[
        str | None, typer.Option(help="Concurrency column (default: concurrency, n, vus, ...).")
    ] = None,
    throughput_column: Annotated[
        str | None, typer.Option(help="Throughput column (default: throughput, x, rps, ...).")
    ] = None,
    predict: Annotated[
        str | None, typer.Option(help="Predict throughput at these concurrencies: 64,128.")
    ] = None,
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write a self-contained HTML page.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the fit as JSON.")] = False,
) -> int:
    """Fit X(N) = lambda*N / (1 + sigma*(N-1) + kappa*N*(N-1)): contention, coherency, peak."""
    header = _header(data)
    n_col = _column(header, data, concurrency_column, N_NAMES, "concurrency")
    x_col = _column(header, data, throughput_column, X_NAMES, "throughput")
    levels = _levels(predict)
    from perflab.capacity.usl import fit_usl

    result = fit_usl(load_csv(data, n_col).values, load_csv(data, x_col).values)
    predictions = _predictions(result, levels)
    if html is not None:
        from perflab.capacity.usl_report import render_usl_html

        try:
            write_bytes_atomic(html, render_usl_html(result, data.name).encode())
        except OSError as exc:
            raise UsageError(f"cannot write {html}: {exc.strerror or exc}") from None
    if as_json:
        doc = result.to_json()
        if predictions:
            doc["predictions"] = predictions
        sys.stdout.write(json.dumps(doc, indent=2, allow_nan=False) + "\n")
        return 0
    _print_human(data, result, predictions)
    if html is not None:
        print(f"wrote {html}", file=sys.stderr)
    return 0
