"""A run directory: ``run.json`` plus per-second ``intervals`` and ``generator`` tables.

:class:`RunWriter` is the sink the CLI hands the load engine: run.json is replaced atomically
after every second, intervals are journaled every second, and everything is compacted to
Parquet at the end, so Ctrl-C or a crash keeps all completed seconds.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from perflab.errors import PerflabError, TargetError, UsageError
from perflab.store.atomic import write_json_atomic
from perflab.store.journal import Journal, compact, read_rows

RUN_SCHEMA = "perflab.run/1"
DEFAULT_ROOT = Path("perflab-runs")
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def new_run_dir(
    name: str, root: Path = DEFAULT_ROOT, *, prefix: str = "", kind: str = "run"
) -> Path:
    """``root/<prefix><UTC stamp>-<name>``, made unique with a ``-N`` suffix (two runs can
    start in the same second); ``kind`` names what it is for in the error."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    base = f"{prefix}{stamp}-{_SAFE.sub('-', name).strip('-') or kind}"
    root.mkdir(parents=True, exist_ok=True)
    for n in range(1000):
        path = root / (base if n == 0 else f"{base}-{n}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise UsageError(f"cannot create a {kind} directory under {root}")


class RunWriter:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self._intervals = Journal(path / "intervals.journal")
        self._generator = Journal(path / "generator.journal")
        self.last_doc: dict[str, Any] | None = None

    def begin(self, doc: dict[str, Any]) -> None:
        self.update(doc)

    def interval(self, second: int, rows: list[dict[str, Any]], generator: dict[str, Any]) -> None:
        self._intervals.append(rows)
        self._generator.append([generator])

    def update(self, doc: dict[str, Any]) -> None:
        """Every second of a run: compact, so the coordinator's share of the generator's
        core stays small (it shares it with the workers); ``end`` writes it indented."""
        self.last_doc = doc
        write_json_atomic(self.path / "run.json", doc, indent=None)

    def end(self, doc: dict[str, Any]) -> None:
        self._intervals.close()
        self._generator.close()
        compact(self.path / "intervals.journal", self.path / "intervals.parquet")
        compact(self.path / "generator.journal", self.path / "generator.parquet")
        self.last_doc = doc
        write_json_atomic(self.path / "run.json", doc)


def load_run(path: Path) -> dict[str, Any]:
    """A run document from a run directory or its run.json, checked for a known schema."""
    file = path / "run.json" if path.is_dir() else path
    try:
        doc = json.loads(file.read_text())
    except FileNotFoundError:
        raise UsageError(f"no run at {path}: run.json not found") from None
    except ValueError as exc:
        raise UsageError(f"{file} is not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("schema") != RUN_SCHEMA:
        found = doc.get("schema") if isinstance(doc, dict) else None
        raise UsageError(f"{file}: unknown schema {found!r}, expected {RUN_SCHEMA!r}")
    doc["path"] = str(file.parent)
    return doc


def read_intervals(run_dir: Path) -> list[dict[str, Any]]:
    return read_rows(run_dir / "intervals.parquet", run_dir / "intervals.journal")


def read_generator(run_dir: Path) -> list[dict[str, Any]]:
    return read_rows(run_dir / "generator.parquet", run_dir / "generator.journal")


def find_run(ref: str, root: Path = DEFAULT_ROOT) -> Path:
    """A run by path, id prefix (like git), or name (the newest run of that name).

    The catalog answers first: it also knows runs written elsewhere with ``--out``. The scan
    of ``root`` covers runs it lacks, a run whose directory moved, and having no catalog.
    """
    path = Path(ref)
    if path.exists():
        return path if path.is_dir() else path.parent
    found = _from_catalog(ref)
    return found if found is not None else _scan(ref, root)


def _from_catalog(ref: str) -> Path | None:
    """The run's directory per the catalog; None when it has no such run or cannot be used.

    An ambiguous prefix is still an error: the scan would find the same runs or fewer.
    """
    from perflab.store.catalog import Catalog  # here: SQLAlchemy only for look-ups

    try:
        catalog = Catalog.open(create=False)  # a look-up leaves no perflab.db behind
    except PerflabError:
        return None
    try:
        row = catalog.lookup(ref)
    except TargetError:
        return None
    finally:
        catalog.close()
    return row.path if row is not None and (row.path / "run.json").exists() else None


def _scan(ref: str, root: Path) -> Path:
    candidates = []
    for run_json in sorted(root.glob("*/run.json")):
        try:
            doc = json.loads(run_json.read_text())
        except ValueError:
            continue
        if str(doc.get("id", "")).startswith(ref) or doc.get("name") == ref:
            candidates.append((doc.get("started_at") or "", doc.get("id"), run_json.parent))
    ids = {c[1] for c in candidates if str(c[1]).startswith(ref)}
    if len(ids) > 1:
        raise UsageError(f"run {ref!r} is ambiguous: it matches {len(ids)} ids; give more digits")
    if not candidates:
        raise UsageError(f"no run {ref!r}: not a path, and no id or name under {root}/")
    return max(candidates, key=lambda c: c[0])[2]
