"""The run catalog: one SQL table row per run, for ``history``, ``show``, ``compare`` and the UI.

The run directory stays the source of truth; the catalog is an index over run documents
(everything it holds can be rebuilt from ``run.json`` files), which is why an indexing failure
never fails a run. SQLite (``./perflab.db``) serves one machine; PostgreSQL serves a team
(``PERFLAB_DB=postgresql://user@host/db``).

Concurrency: two CI jobs may index at once. Every write is one short transaction; SQLite runs
in WAL mode (readers never block the writer) with a busy timeout, and write transactions start
with ``BEGIN IMMEDIATE`` so they queue for the lock instead of failing on a read-to-write
upgrade; a run is upserted by id, so indexing it again is idempotent.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, delete, exists, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError

from perflab.errors import PerflabError, UsageError
from perflab.store.dsn import CatalogLocation, connect, locate
from perflab.store.migrations import (
    LATEST,
    benchmarks,
    check_not_newer,
    current_version,
    migrate,
    run_tags,
    runs,
)
from perflab.store.rundir import DEFAULT_ROOT, load_run
from perflab.store.runrow import RunRow, profile_columns, run_columns, run_tags_of

_CHUNK = 500  # ids per IN (...): well under SQLite's bound-parameter limit
_BENCH_STATS = ("median", "mean", "stdev", "ci_low", "ci_high", "n")
_ROW_COLUMNS = [runs.c[f.name] for f in fields(RunRow) if f.name != "tags"]


class Catalog:
    """An open catalog. Use :meth:`open`; close it (or use ``with``) to release connections."""

    def __init__(self, engine: Engine, location: CatalogLocation) -> None:
        self._engine = engine
        self._writer = engine.execution_options(perflab_write=True)
        self._location = location
        self.url = location.display
        """Where the catalog lives, password replaced by ``***``: safe to print."""

    @classmethod
    def open(cls, url: str | None = None, *, create: bool = True) -> Catalog:
        """Open (and create or upgrade) the catalog at ``url``.

        ``url``: a SQLite path or ``sqlite:///`` URL, or ``postgresql://user:pw@host/db``;
        None means ``$PERFLAB_DB``, else ``./perflab.db``. ``create=False`` raises UsageError
        instead of creating a missing SQLite file, for look-ups that should leave no trace.
        Raises TargetError when PostgreSQL cannot be reached, UsageError for a bad URL or a
        file that is not a catalog.
        """
        location = locate(url)
        if not create and location.sqlite_path and not location.sqlite_path.exists():
            raise UsageError(f"no catalog at {location.display}")
        catalog = cls(connect(location), location)
        try:
            catalog._prepare()
        except BaseException:
            catalog.close()
            raise
        return catalog

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Catalog({self.url!r})"

    def schema_version(self) -> int:
        with self._translate(), self._engine.connect() as conn:
            return current_version(conn)

    def index_run(self, doc: Mapping[str, Any], path: Path) -> str:
        """Insert or update the run ``doc`` stored in directory ``path``; returns its id.

        Idempotent (an upsert by id): a run indexed again, say by ``history`` after its own
        indexing failed, keeps one row whose fields and tags are those of the last call.
        """
        values = run_columns(doc, path)
        values["indexed_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        tags = [{"run_id": values["id"], "key": k, "value": v} for k, v in run_tags_of(doc)]
        with self._translate(), self._writer.begin() as conn:
            conn.execute(self._upsert(values))
            conn.execute(delete(run_tags).where(run_tags.c.run_id == values["id"]))
            if tags:
                conn.execute(insert(run_tags), tags)
        return str(values["id"])

    def index_profile(self, doc: Mapping[str, Any], path: Path) -> str:
        """Insert or update a profile (``profile.json``'s document in directory ``path``) as a
        row of kind 'profile'; returns its id. Idempotent like :meth:`index_run`."""
        values = profile_columns(doc, path)
        values["indexed_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with self._translate(), self._writer.begin() as conn:
            conn.execute(self._upsert(values))
        return str(values["id"])

    def index_directory(self, root: Path = DEFAULT_ROOT) -> int:
        """Index the runs under ``root`` (``root/*/run.json``) that the catalog lacks.

        Cheap on a warm catalog: directories whose path is catalogued are not opened, and a
        run found elsewhere under the same id keeps its row. Unreadable or foreign run.json
        files are skipped. Returns how many runs were added.
        """
        run_dirs = [f.parent.resolve() for f in sorted(root.glob("*/run.json"))]
        if not run_dirs:
            return 0
        prefix = f"{root.resolve()}/"
        with self._translate(), self._engine.connect() as conn:
            known = set(
                conn.execute(
                    select(runs.c.path).where(runs.c.path.startswith(prefix, autoescape=True))
                ).scalars()
            )
        docs: dict[str, tuple[dict[str, Any], Path]] = {}
        for run_dir in run_dirs:
            if str(run_dir) in known:
                continue
            try:
                doc = load_run(run_dir)
            except UsageError:
                continue
            docs.setdefault(str(doc.get("id")), (doc, run_dir))
        with self._translate(), self._engine.connect() as conn:
            have = self._existing_ids(conn, list(docs))
        for run_id, (doc, run_dir) in docs.items():
            if run_id not in have:
                self.index_run(doc, run_dir)
        return len(docs.keys() - have)

    def list_runs(
        self,
        name: str | None = None,
        tags: Mapping[str, str] | None = None,
        limit: int | None = 50,
        *,
        kind: str = "load",
    ) -> list[RunRow]:
        """Runs newest first, filtered by name and by every ``tags`` pair (all must match)."""
        query = select(*_ROW_COLUMNS).where(runs.c.kind == kind)
        if name is not None:
            query = query.where(runs.c.name == name)
        for key, value in (tags or {}).items():
            tagged = exists().where(
                run_tags.c.run_id == runs.c.id, run_tags.c.key == key, run_tags.c.value == value
            )
            query = query.where(tagged)
        query = query.order_by(runs.c.started_at.desc().nulls_last(), runs.c.id.desc())
        if limit is not None:
            query = query.limit(limit)
        with self._translate(), self._engine.connect() as conn:
            return self._rows(conn, query)

    def get(self, run_id: str) -> RunRow | None:
        """The run with exactly this id."""
        with self._translate(), self._engine.connect() as conn:
            found = self._rows(conn, select(*_ROW_COLUMNS).where(runs.c.id == run_id))
        return found[0] if found else None

    def summary(self, run_id: str) -> dict[str, Any] | None:
        """The run document as indexed (useful when its directory is on another machine)."""
        with self._translate(), self._engine.connect() as conn:
            text = conn.execute(select(runs.c.summary).where(runs.c.id == run_id)).scalar()
        return None if text is None else dict(json.loads(text))

    def lookup(self, ref: str) -> RunRow | None:
        """The run ``ref`` names: an exact id, else a name (its newest run), else an id prefix.

        Names come before prefixes as refs come before abbreviated hashes in git: a name is
        deliberate, a prefix a shorthand. Raises UsageError when a prefix matches several ids
        (saying how many); returns None when nothing matches.
        """
        if not ref:
            raise UsageError("empty run reference: give an id prefix, a name or a path")
        found = self.get(ref)
        if found is None:
            named = self.list_runs(name=ref, limit=1)
            found = named[0] if named else None
        if found is not None:
            return found
        matches = runs.c.id.startswith(ref, autoescape=True)
        with self._translate(), self._engine.connect() as conn:
            count = conn.execute(select(func.count()).where(matches)).scalar_one()
            if count > 1:
                raise UsageError(
                    f"run {ref!r} is ambiguous: {count} run ids start with it; give more digits"
                )
            rows = self._rows(conn, select(*_ROW_COLUMNS).where(matches)) if count else []
        return rows[0] if rows else None

    def resolve(self, ref: str) -> Path:
        """The directory of run ``ref``: a path (returned as is), an id prefix or a name."""
        path = Path(ref)
        if ref and path.exists():
            return path if path.is_dir() else path.parent
        found = self.lookup(ref)
        if found is None:
            raise UsageError(
                f"no run {ref!r}: not a path, and no id, id prefix or name in the catalog "
                f"{self.url}"
            )
        return found.path

    # -- benchmark results (perflab bench) ---------------------------------------------

    def index_benchmarks(self, doc: Mapping[str, Any], path: Path) -> int:
        """Index the successful benchmarks of a ``perflab.bench/1`` document stored in directory
        ``path``; returns how many.

        One row per (run, benchmark, params), replaced as a whole: indexing the same results
        again (the file is rewritten after every benchmark) is idempotent.
        """
        env = doc.get("environment") or {}
        rows = [
            {
                "run_id": str(doc["id"]),
                "name": str(entry["name"]),
                "params": json.dumps(entry.get("params") or {}, sort_keys=True, default=repr),
                "run_name": str(doc.get("name") or ""),
                "machine": str(env.get("machine") or ""),
                "git_commit": env.get("git_commit"),
                "started_at": doc.get("started_at"),
                "path": str(path.resolve()),
                "unit": str(entry.get("unit") or "s"),
                **{k: entry["stats"].get(k) for k in _BENCH_STATS},
            }
            for entry in doc.get("benchmarks") or []
            if entry.get("status") == "ok" and entry.get("stats")
        ]
        with self._translate(), self._writer.begin() as conn:
            conn.execute(delete(benchmarks).where(benchmarks.c.run_id == str(doc["id"])))
            if rows:
                conn.execute(insert(benchmarks), rows)
        return len(rows)

    def benchmark_history(
        self,
        name: str,
        params: str | None = None,
        machine: str | None = None,
        *,
        commit: str | None = None,
        limit: int | None = 50,
    ) -> list[dict[str, Any]]:
        """A benchmark's stored results newest first (``params``: canonical JSON)."""
        query = select(benchmarks).where(benchmarks.c.name == name)
        for column, value in (("params", params), ("machine", machine), ("git_commit", commit)):
            if value is not None:
                query = query.where(benchmarks.c[column] == value)
        query = query.order_by(benchmarks.c.started_at.desc().nulls_last())
        if limit is not None:
            query = query.limit(limit)
        with self._translate(), self._engine.connect() as conn:
            return [dict(m) for m in conn.execute(query).mappings()]

    def benchmark_keys(self, name: str | None = None) -> list[tuple[str, str, str]]:
        """The distinct series stored, as sorted ``(name, params, machine)``; only ``name``'s
        when given. Cheap: it reads the series index, not the rows' statistics."""
        query = select(benchmarks.c.name, benchmarks.c.params, benchmarks.c.machine).distinct()
        if name is not None:
            query = query.where(benchmarks.c.name == name)
        with self._translate(), self._engine.connect() as conn:
            return sorted((str(n), str(p), str(m)) for n, p, m in conn.execute(query))

    def latest_benchmark(
        self, name: str, params: str, machine: str, *, commit: str, exclude_run: str = ""
    ) -> str | None:
        """The results directory of the newest run of this series at ``commit``, if any,
        other than run ``exclude_run`` (the run being compared)."""
        found = self.benchmark_history(name, params, machine, commit=commit, limit=2)
        paths = [str(row["path"]) for row in found if row["run_id"] != exclude_run]
        return paths[0] if paths else None

    def lookup_bench_run(self, ref: str) -> str | None:
        """The directory of bench results ``ref`` names: exact id, run name (its newest), or
        id prefix (UsageError when the prefix is ambiguous)."""
        if not ref:
            return None
        order = benchmarks.c.started_at.desc().nulls_last()
        query = select(benchmarks.c.run_id, benchmarks.c.path).order_by(order)
        prefix = benchmarks.c.run_id.startswith(ref, autoescape=True)
        with self._translate(), self._engine.connect() as conn:
            for where in (benchmarks.c.run_id == ref, benchmarks.c.run_name == ref, prefix):
                found = conn.execute(query.where(where)).all()
                if where is prefix and len({row.run_id for row in found}) > 1:
                    raise UsageError(f"bench results {ref!r} are ambiguous; give more digits")
                if found:
                    return str(found[0].path)
        return None

    # -- internals ----------------------------------------------------------------------

    def _prepare(self) -> None:
        """Bring the schema up to date; a quick unlocked read first, as it nearly always is."""
        with self._translate(), self._engine.connect() as conn:
            version = current_version(conn)
        check_not_newer(version, self.url)
        if version < LATEST:
            with self._translate(), self._writer.begin() as conn:
                migrate(conn, self.url)

    def _upsert(self, values: dict[str, Any]) -> Any:
        update = [c for c in values if c != "id"]
        if self._engine.dialect.name == "postgresql":
            pg = postgresql.insert(runs).values(values)
            return pg.on_conflict_do_update(
                index_elements=[runs.c.id], set_={c: pg.excluded[c] for c in update}
            )
        lite = sqlite.insert(runs).values(values)
        return lite.on_conflict_do_update(
            index_elements=[runs.c.id], set_={c: lite.excluded[c] for c in update}
        )

    def _existing_ids(self, conn: Connection, ids: Sequence[str]) -> set[str]:
        have: set[str] = set()
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            have.update(conn.execute(select(runs.c.id).where(runs.c.id.in_(chunk))).scalars())
        return have

    def _rows(self, conn: Connection, query: Any) -> list[RunRow]:
        found = [dict(m) for m in conn.execute(query).mappings()]
        tags: dict[str, dict[str, str]] = {}
        ids = [r["id"] for r in found]
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            pairs = select(run_tags.c.run_id, run_tags.c.key, run_tags.c.value).where(
                run_tags.c.run_id.in_(chunk)
            )
            for run_id, key, value in conn.execute(pairs):
                tags.setdefault(run_id, {})[key] = value
        return [
            RunRow(**{**r, "path": Path(r["path"]), "tags": tags.get(r["id"], {})}) for r in found
        ]

    @contextmanager
    def _translate(self) -> Iterator[None]:
        """Database errors become perflab's: TargetError (exit 3) or UsageError (exit 2)."""
        try:
            yield
        except PerflabError:
            raise
        except (SQLAlchemyError, sqlite3.Error, OSError) as exc:
            raise self._location.error(exc, unreachable=_is_unreachable(exc)) from exc


def _is_unreachable(exc: BaseException) -> bool:
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated
