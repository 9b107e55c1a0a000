"""A metric's history to look for change points in: from CSV, JSON or the run catalog.

Every problem with the input is a :class:`~perflab.errors.UsageError` naming the place
(file, line, column; or the run in the catalog), so ``perflab detect`` prints one line.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perflab.errors import UsageError

METRICS = {
    "p99": "p99_ms",
    "p50": "p50_ms",
    "p90": "p90_ms",
    "rps": "rps",
    "error_rate": "error_rate",
}
_LABEL_HEADERS = (
    "commit",
    "sha",
    "git_commit",
    "revision",
    "version",
    "time",
    "timestamp",
    "date",
    "started_at",
    "run",
    "id",
    "label",
    "build",
)


@dataclass(frozen=True)
class Series:
    """Values in order, with a label per point (commit, time or run id) where known."""

    values: list[float]
    labels: list[str] | None
    source: str
    metric: str
    label_name: str | None = None


def _number(cell: str) -> float | None:
    """The cell as a finite float; None when blank; ValueError when not a number."""
    text = cell.strip()
    if text == "" or text.lower() in ("na", "nan", "null", "none", "-"):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def load_csv(path: Path, column: str | None = None) -> Series:
    """A CSV file with a header row: ``column``, else its only numeric column.

    A column that looks like a commit or time (by its header) is carried as the labels.
    """
    rows = _read_csv(path)
    header, body = rows[0], rows[1:]
    if not body:
        raise UsageError(f"{path}: no data rows under the header (the series is empty)")
    names = [h.strip() for h in header]
    index = _pick_column(path, names, body, column)
    values: list[float] = []
    for line_no, row in enumerate(body, start=2):
        cell = row[index] if index < len(row) else ""
        try:
            value = _number(cell)
        except ValueError:
            raise UsageError(
                f"{path}, line {line_no}, column {names[index]!r}: {cell.strip()!r} is not a number"
            ) from None
        if value is None:
            raise UsageError(
                f"{path}, line {line_no}, column {names[index]!r}: missing or NaN value",
                hint="remove the row or fill in the value",
            )
        values.append(value)
    label_at = _label_column(names, index)
    labels = None
    if label_at is not None:
        labels = [row[label_at].strip() if label_at < len(row) else "" for row in body]
    return Series(
        values,
        labels,
        str(path),
        names[index],
        None if label_at is None else names[label_at],
    )


def _read_csv(path: Path) -> list[list[str]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = [row for row in csv.reader(handle) if any(cell.strip() for cell in row)]
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (csv.Error, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not a readable CSV file ({exc})") from exc
    if not rows:
        raise UsageError(f"{path}: the file is empty (expected a header row and values)")
    return rows


def _numeric(cell: str) -> bool:
    try:
        _number(cell)
    except ValueError:
        return False
    return True


def _pick_column(path: Path, names: list[str], body: list[list[str]], column: str | None) -> int:
    if column is not None:
        if column not in names:
            raise UsageError(
                f"{path}: no column {column!r}; the header has {', '.join(map(repr, names))}"
            )
        return names.index(column)
    if len(names) == 1:
        return 0
    first = body[0]
    numeric = [
        i
        for i, name in enumerate(names)
        if name.lower() not in _LABEL_HEADERS and i < len(first) and _numeric(first[i])
    ]
    if len(numeric) == 1:
        return numeric[0]
    raise UsageError(
        f"{path}: {len(numeric) or 'no'} numeric columns "
        f"({', '.join(repr(names[i]) for i in numeric) or 'none found in line 2'})",
        hint="pick one with --column NAME",
    )


def _label_column(names: list[str], value_at: int) -> int | None:
    for wanted in _LABEL_HEADERS:
        for i, name in enumerate(names):
            if i != value_at and name.lower() == wanted:
                return i
    return None


def load_json(path: Path) -> Series:
    """A JSON list of numbers."""
    try:
        doc: Any = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(doc, list):
        raise UsageError(f"{path}: expected a JSON list of numbers, got a {type(doc).__name__}")
    if not doc:
        raise UsageError(f"{path}: the list is empty (the series is empty)")
    values: list[float] = []
    for i, item in enumerate(doc):
        ok = isinstance(item, int | float) and not isinstance(item, bool)
        if not ok or not math.isfinite(float(item)):
            raise UsageError(f"{path}, item [{i}]: {json.dumps(item)} is not a finite number")
        values.append(float(item))
    return Series(values, None, str(path), "value")


def load_file(path: Path, column: str | None = None) -> Series:
    """CSV or JSON by the file's suffix (``.json``, else CSV)."""
    if not path.exists():
        raise UsageError(f"no such file: {path}")
    if path.suffix.lower() == ".json":
        if column is not None:
            raise UsageError(f"--column applies to CSV files, and {path} is JSON")
        return load_json(path)
    return load_csv(path, column)


def load_history(name: str, metric: str = "p99", *, catalog_url: str | None = None) -> Series:
    """The ``metric`` of every run named ``name`` in the catalog, oldest first.

    Labels are the runs' git commits (from their environment record) or else their ids.
    """
    if metric not in METRICS:
        raise UsageError(f"unknown metric {metric!r}: one of {', '.join(METRICS)}")
    from perflab.store.catalog import Catalog  # SQLAlchemy only when the catalog is read

    with Catalog.open(catalog_url, create=False) as catalog:
        rows = catalog.list_runs(name=name, limit=None)
        where = catalog.url
    if not rows:
        raise UsageError(
            f"no runs named {name!r} in the catalog {where}",
            hint="see `perflab history` for the names",
        )
    rows.reverse()  # list_runs is newest first
    values: list[float] = []
    labels: list[str] = []
    for row in rows:
        value = getattr(row, METRICS[metric])
        if value is None or not math.isfinite(float(value)):
            raise UsageError(
                f"run {row.id[:8]} ({row.started_at or 'no start time'}) of {name!r} in "
                f"{where} has no {metric} figure",
            )
        values.append(float(value))
        labels.append(row.git_commit[:12] if row.git_commit else row.id[:8])
    return Series(values, labels, f"{where} runs named {name!r}", metric, "commit")


def load_bench_history(
    name: str,
    params: str | None = None,
    machine: str | None = None,
    *,
    catalog_url: str | None = None,
) -> Series:
    """The medians of benchmark ``name``'s stored results, oldest first (``params``: the
    canonical JSON of one parameter set; ``machine``: a machine key, None for any).

    Labels are the results' git commits (12 digits), else their run ids. A benchmark stored
    with several parameter sets needs ``params``: medians of different inputs are not one
    series.
    """
    from perflab.store.benchseries import benchmark_series
    from perflab.store.catalog import Catalog

    with Catalog.open(catalog_url, create=False) as catalog:
        rows = benchmark_series(catalog, name, params, machine)
        where = catalog.url
    sets = sorted({str(row["params"]) for row in rows})
    if len(sets) > 1:
        raise UsageError(
            f"benchmark {name!r} has {len(sets)} parameter sets in {where}: {'; '.join(sets)}",
            hint="pick one with --params, e.g. --params n=100",
        )
    values: list[float] = []
    for row in rows:
        median = row["median"]
        if median is None or not math.isfinite(float(median)):
            raise UsageError(f"result {str(row['run_id'])[:8]} of {name!r} has no median")
        values.append(float(median))
    labels = [str(r["git_commit"])[:12] if r["git_commit"] else str(r["run_id"])[:8] for r in rows]
    suffix = f" [{sets[0]}]" if sets and sets[0] != "{}" else ""
    return Series(values, labels, f"{where} benchmark {name!r}{suffix}", "median", "commit")
