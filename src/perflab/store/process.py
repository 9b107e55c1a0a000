"""What was watched of the target process during a run, as stored in the run directory.

``memory.jsonl`` is appended every sample while the run goes (so a crashed run keeps its
series); ``process.json`` is written once at the end with the leak verdict and the profile's
summary. Readers take the summary when it exists and fall back to the raw series.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from perflab.errors import UsageError
from perflab.store.atomic import write_json_atomic

PROCESS_FILE = "process.json"
MEMORY_FILE = "memory.jsonl"
PROCESS_SCHEMA = "perflab.process/1"

__all__ = [
    "MEMORY_FILE",
    "PROCESS_FILE",
    "read_json_lines",
    "read_memory_rows",
    "read_process",
    "write_process",
]


def read_json_lines(path: Path) -> list[Any]:
    """The documents of a JSON-lines file written a line at a time (``memory.jsonl``): a torn
    last line (a crash mid-write) is dropped; a bad line before it is an error.

    Raises:
        FileNotFoundError: no such file.
        UsageError: unreadable, or a line in the middle is not JSON.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if lines and not lines[-1].endswith("\n"):
        lines.pop()
    docs = []
    for number, line in enumerate(lines, 1):
        try:
            docs.append(json.loads(line))
        except ValueError:
            raise UsageError(f"{path}:{number}: not a JSON line") from None
    return docs


def read_memory_rows(path: Path) -> list[dict[str, Any]]:
    """The samples of a ``memory.jsonl`` (its header and end lines left out)."""
    try:
        docs = read_json_lines(path)
    except FileNotFoundError:
        return []
    return [d for d in docs if isinstance(d, dict) and "t" in d and "rss_bytes" in d]


def read_process(run_dir: Path) -> dict[str, Any] | None:
    """``{"memory": {"rows", "verdict", "exited"}, "profile": {...}}`` or None if not watched."""
    summary = run_dir / PROCESS_FILE
    doc: dict[str, Any] = {}
    if summary.exists():
        try:
            loaded = json.loads(summary.read_text())
        except (OSError, json.JSONDecodeError):
            loaded = None
        if isinstance(loaded, dict):
            doc = loaded
    rows = read_memory_rows(run_dir / MEMORY_FILE)
    if rows:
        memory = dict(doc.get("memory") or {})
        memory["rows"] = rows
        doc["memory"] = memory
    return doc or None


def write_process(run_dir: Path, doc: dict[str, Any]) -> None:
    """The end-of-run summary (the memory rows stay in ``memory.jsonl``)."""
    body = {"schema": PROCESS_SCHEMA, **{k: v for k, v in doc.items() if k != "schema"}}
    if isinstance(body.get("memory"), dict):
        body["memory"] = {k: v for k, v in body["memory"].items() if k != "rows"}
    write_json_atomic(run_dir / PROCESS_FILE, body)
