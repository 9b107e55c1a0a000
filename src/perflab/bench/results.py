"""The result file ``bench.json`` (schema ``perflab.bench/1``): write incrementally, load, find.

The document is replaced atomically after every finished benchmark, so Ctrl-C or a crash
keeps every benchmark measured so far. Layout::

    {"schema": "perflab.bench/1", "id", "name", "status", "started_at", "ended_at",
     "environment": {...perflab.environment.capture()..., "machine"}, "config": {...},
     "benchmarks": [{"name", "params", "kind": "python"|"command", "status": "ok"|"failed",
                     "error", "unit": "s", "loops", "processes": [{"values", "warmups",
                     "loops", "gc"}], "stats": {median, mean, stdev, mad, cv, ...,
                     ci_low, ci_high}, "outliers", "warnings"}]}

Values are seconds per call (per inner-loop iteration); a command's process is one run.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

from perflab.bench.registry import params_key
from perflab.errors import PerflabError, UsageError
from perflab.store.atomic import write_json_atomic
from perflab.store.rundir import DEFAULT_ROOT, new_run_dir

__all__ = [
    "BENCH_SCHEMA",
    "BenchWriter",
    "find_bench",
    "load_bench",
    "machine_key",
    "new_bench_doc",
    "series",
    "this_machine",
]

BENCH_SCHEMA = "perflab.bench/1"
FILE = "bench.json"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def machine_key(env: dict[str, Any]) -> str:
    """Results are comparable only on the same host, CPU and Python build."""
    python = f"{env.get('implementation', '')} {env.get('python', '')}".strip()
    return f"{env.get('hostname', '?')}|{env.get('cpu_model', '?')}|{python}"


def this_machine() -> str:
    """This machine's key, as the runner records it in every result it stores."""
    from perflab.environment import capture

    return machine_key(capture())


def new_bench_doc(name: str, config: dict[str, Any], environment: dict[str, Any]) -> dict[str, Any]:
    env = {**environment, "machine": machine_key(environment)}
    return {
        "schema": BENCH_SCHEMA,
        "id": uuid.uuid4().hex,
        "name": name,
        "status": "running",
        "started_at": _now(),
        "ended_at": None,
        "environment": env,
        "config": config,
        "benchmarks": [],
    }


def new_bench_dir(name: str, root: Path = DEFAULT_ROOT) -> Path:
    """``root/bench-<UTC stamp>-<name>``, beside the run directories and named like them."""
    return new_run_dir(name, root, prefix="bench-", kind="benchmark")


class BenchWriter:
    """The sink a run writes through: every :meth:`add` rewrites bench.json atomically."""

    def __init__(self, directory: Path, doc: dict[str, Any]) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / FILE
        self.doc = doc
        write_json_atomic(self.path, doc)

    def add(self, entry: dict[str, Any]) -> None:
        self.doc["benchmarks"].append(entry)
        write_json_atomic(self.path, self.doc)

    def finish(self, status: str) -> None:
        self.doc["status"] = status
        self.doc["ended_at"] = _now()
        write_json_atomic(self.path, self.doc)


def load_bench(path: Path) -> dict[str, Any]:
    """A bench document from a directory or its bench.json, checked for a known schema."""
    file = path / FILE if path.is_dir() else path
    try:
        doc = json.loads(file.read_text())
    except FileNotFoundError:
        raise UsageError(f"no benchmark results at {path}: {FILE} not found") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{file} is not readable JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("schema") != BENCH_SCHEMA:
        found = doc.get("schema") if isinstance(doc, dict) else None
        raise UsageError(f"{file}: unknown schema {found!r}, expected {BENCH_SCHEMA!r}")
    if not isinstance(doc.get("benchmarks"), list):
        raise UsageError(f"{file}: 'benchmarks' is missing or not a list")
    doc["path"] = str(file.parent)
    return doc


def series(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """The document's benchmarks keyed by (name, canonical params JSON)."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in doc["benchmarks"]:
        if isinstance(entry, dict) and "name" in entry:
            found[(str(entry["name"]), params_key(entry.get("params") or {}))] = entry
    return found


def find_bench(ref: str, root: Path = DEFAULT_ROOT) -> dict[str, Any]:
    """Results by path (file or directory), catalog run id (or prefix) or run name."""
    path = Path(ref)
    if ref and path.exists():
        return load_bench(path)
    from perflab.store.catalog import Catalog  # here: SQLAlchemy only for look-ups

    try:
        with Catalog.open(create=False) as catalog:
            found = catalog.lookup_bench_run(ref)
    except PerflabError:
        found = None
    if found is not None and Path(found).exists():
        return load_bench(Path(found))
    candidates = []
    for file in sorted(root.glob(f"bench-*/{FILE}")):
        try:
            doc = json.loads(file.read_text())
        except (OSError, ValueError):
            continue
        if str(doc.get("id", "")).startswith(ref) or doc.get("name") == ref:
            candidates.append((str(doc.get("started_at") or ""), str(file)))
    if not candidates:
        raise UsageError(
            f"no benchmark results {ref!r}: not a path, and no id or name in the catalog "
            f"or under {root}/"
        )
    return load_bench(Path(max(candidates)[1]))
