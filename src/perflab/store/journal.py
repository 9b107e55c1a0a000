"""Append-only JSON-lines journals that become Parquet when the run ends.

A Parquet file is only whole once closed, so while a run is going each second is appended to
a journal and flushed; a crash loses at most the line being written, and readers skip a torn
last line. ``compact`` turns the journal into Parquet (zstd) atomically and removes it.
Binary fields (encoded histograms) are base64 in the journal and binary in Parquet.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

_B64 = "b64:"


def _encode(row: dict[str, Any]) -> dict[str, Any]:
    return {
        k: _B64 + base64.b64encode(v).decode() if isinstance(v, bytes) else v
        for k, v in row.items()
    }


def decode_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        k: base64.b64decode(v[len(_B64) :]) if isinstance(v, str) and v.startswith(_B64) else v
        for k, v in row.items()
    }


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: BinaryIO | None = path.open("ab")

    def append(self, rows: list[dict[str, Any]]) -> None:
        if self._fh is None:
            raise ValueError(f"journal {self.path} is closed")
        data = b"".join(json.dumps(_encode(r)).encode() + b"\n" for r in rows)
        self._fh.write(data)
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def read_journal(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("rb") as fh:
        for line in fh:
            if not line.endswith(b"\n"):
                return  # a torn last line from a crash
            yield decode_row(json.loads(line))


_JSON_COLUMNS = b"perflab.json_columns"


def _table(rows: list[dict[str, Any]]) -> pa.Table:
    """Dict-valued fields (error kinds, phases) are stored as JSON text: their keys vary.

    Which columns hold JSON is written into the schema metadata, so readers decode exactly
    those and never mistake a string value for JSON.
    """
    if not rows:
        return pa.table({})
    json_columns = sorted({k for r in rows for k, v in r.items() if isinstance(v, dict)})
    flat = [{k: json.dumps(v) if isinstance(v, dict) else v for k, v in r.items()} for r in rows]
    table = pa.Table.from_pylist(flat)
    return table.replace_schema_metadata({_JSON_COLUMNS: json.dumps(json_columns).encode()})


def compact(journal: Path, parquet: Path) -> int:
    rows = list(read_journal(journal)) if journal.exists() else []
    tmp = parquet.with_name(f".{parquet.name}.tmp")
    pq.write_table(_table(rows), tmp, compression="zstd")
    os.replace(tmp, parquet)
    journal.unlink(missing_ok=True)
    return len(rows)


def read_rows(parquet: Path, journal: Path) -> list[dict[str, Any]]:
    """Rows from the Parquet file, or from the journal of a run that never finished."""
    if parquet.exists():
        table = pq.read_table(parquet)
        listed = (table.schema.metadata or {}).get(_JSON_COLUMNS)
        rows = table.to_pylist()
        if listed is None:  # written before the metadata existed
            return [{k: _maybe_json(v) for k, v in r.items()} for r in rows]
        columns = set(json.loads(listed))
        return [{k: json.loads(v) if k in columns else v for k, v in r.items()} for r in rows]
    if journal.exists():
        return list(read_journal(journal))
    return []


def _maybe_json(value: Any) -> Any:
    """Files without the column list: decode what looks like a JSON object."""
    if isinstance(value, str) and value.startswith("{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
