"""Test data for virtual users: CSV and JSON-lines files handed out row by row.

Modes (as Gatling's feeders and k6's SharedArray patterns):

- ``sequential``: rows in file order, starting over at the end;
- ``random``: any row, with replacement (seeded per worker, so runs are repeatable);
- ``unique``: each row at most once in the whole run. When the rows run out,
  :class:`FeederExhausted` ends the run cleanly and the run says why.

Workers are separate processes, so each takes an interleaved share of the rows (worker ``i``
of ``n`` gets rows ``i, i+n, ...``): unique rows stay unique across workers without any
coordination on the hot path. Files are read once, when the scenario file is imported;
relative paths are relative to the scenario file.
"""

from __future__ import annotations

import csv
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perflab.errors import UsageError

MODES = ("sequential", "random", "unique")


@dataclass(slots=True)
class FeederContext:
    """Set by the loader before a scenario file is imported."""

    base_dir: Path = Path(".")
    worker: int = 0
    workers: int = 1


CONTEXT = FeederContext()


class FeederExhausted(Exception):
    """A unique feeder has no rows left: the run ends here, on purpose."""

    def __init__(self, feeder: Feeder) -> None:
        super().__init__(
            f"feeder {feeder.path.name} ran out of unique rows after {feeder.used} "
            f"(of {feeder.total} in the file)"
        )
        self.feeder = feeder


class Feeder:
    def __init__(self, path: Path, rows: list[dict[str, Any]], mode: str) -> None:
        self.path = path
        self.mode = mode
        self.total = len(rows)
        ctx = CONTEXT
        self._rows = rows if mode == "random" else rows[ctx.worker :: ctx.workers]
        self._next = 0
        self.used = 0
        self._random = random.Random(f"{path.name}:{ctx.worker}")

    def __len__(self) -> int:
        return self.total

    def next(self) -> dict[str, Any]:
        """The next row (a dict: column -> value); see the module doc for the modes."""
        rows = self._rows
        if self.mode == "random":
            row = rows[self._random.randrange(len(rows))]
        elif self.mode == "unique":
            if self._next >= len(rows):
                raise FeederExhausted(self)
            row = rows[self._next]
            self._next += 1
        else:
            if not rows:  # more workers than rows: this worker's share is empty
                rows = self._rows = self._all_rows_fallback()
            row = rows[self._next % len(rows)]
            self._next += 1
        self.used += 1
        return dict(row)

    def _all_rows_fallback(self) -> list[dict[str, Any]]:
        return _read(self.path)


def csv_feeder(path: str, *, mode: str = "sequential") -> Feeder:
    """Rows of a CSV file with a header line; values are strings."""
    return _make(path, mode, "csv")


def jsonl_feeder(path: str, *, mode: str = "sequential") -> Feeder:
    """Rows of a JSON-lines file: one JSON object per line."""
    return _make(path, mode, "jsonl")


def feeder(path: str, *, mode: str = "sequential") -> Feeder:
    """A CSV (``.csv``) or JSON-lines (``.jsonl``, ``.ndjson``) feeder, by extension."""
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return _make(path, mode, "csv")
    if suffix in (".jsonl", ".ndjson", ".json"):
        return _make(path, mode, "jsonl")
    raise UsageError(f"feeder {path!r}: unknown file type {suffix!r}; use .csv or .jsonl")


def _make(path: str, mode: str, kind: str) -> Feeder:
    if mode not in MODES:
        raise UsageError(f"feeder {path!r}: unknown mode {mode!r}; use one of {', '.join(MODES)}")
    resolved = Path(path)
    if not resolved.is_absolute():
        resolved = CONTEXT.base_dir / resolved
    if not resolved.is_file():
        raise UsageError(f"feeder file {path!r} not found (looked for {resolved})")
    rows = _read(resolved, kind)
    if not rows:
        raise UsageError(f"feeder file {path!r} has no rows")
    return Feeder(resolved, rows, mode)


def _read(path: Path, kind: str | None = None) -> list[dict[str, Any]]:
    kind = kind or ("csv" if path.suffix.lower() == ".csv" else "jsonl")
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            if kind == "csv":
                return [dict(row) for row in csv.DictReader(fh)]
            rows = []
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise UsageError(
                        f"feeder file {path.name}:{number}: not valid JSON ({exc.msg})"
                    ) from None
                if not isinstance(value, dict):
                    raise UsageError(f"feeder file {path.name}:{number}: expected a JSON object")
                rows.append(value)
            return rows
    except UnicodeDecodeError as exc:
        raise UsageError(f"feeder file {path.name} is not UTF-8 text: {exc.reason}") from None
    except csv.Error as exc:
        raise UsageError(f"feeder file {path.name}: {exc}") from None
