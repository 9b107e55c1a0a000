"""Schema migrations: a catalog written by an older perflab keeps working after an upgrade."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

import perflab.store.catalog as catalog_module
from perflab.errors import UsageError
from perflab.store import Catalog, migrations
from perflab.store.migrations import LATEST, MIGRATIONS, Migration

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "run-v1"
GOLDEN_DOC = json.loads((GOLDEN / "run.json").read_text())

# The schema exactly as perflab's first catalog wrote it, typed out by hand (not taken from
# MIGRATIONS), with one run and its tag, the way an old ./perflab.db holds them.
V1_CATALOG = """
CREATE TABLE schema_version (
    version BIGINT PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL);
INSERT INTO schema_version VALUES (1, 'runs and their tags', '2026-11-01T00:00:00Z');
CREATE TABLE runs (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL, started_at TEXT,
    ended_at TEXT, path TEXT NOT NULL, target TEXT, model TEXT, rate DOUBLE PRECISION,
    vus BIGINT, duration_s DOUBLE PRECISION, requests BIGINT, errors BIGINT,
    error_rate DOUBLE PRECISION, rps DOUBLE PRECISION, p50_ms DOUBLE PRECISION,
    p90_ms DOUBLE PRECISION, p99_ms DOUBLE PRECISION, p999_ms DOUBLE PRECISION,
    git_commit TEXT, summary TEXT NOT NULL);
CREATE INDEX ix_runs_name_started ON runs (name, started_at);
CREATE INDEX ix_runs_started ON runs (started_at);
CREATE TABLE run_tags (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE, key TEXT NOT NULL,
    value TEXT NOT NULL, PRIMARY KEY (run_id, key));
CREATE INDEX ix_run_tags_key_value ON run_tags (key, value);
INSERT INTO runs (id, name, status, started_at, ended_at, path, target, model, rate,
    requests, errors, error_rate, rps, p99_ms, summary)
VALUES ('0ld0' || printf('%028d', 0), 'legacy', 'passed', '2026-11-01T10:00:00Z',
    '2026-11-01T10:01:00Z', '/runs/legacy', 'http://127.0.0.1:8080/', 'open', 100.0,
    6000, 6, 0.001, 100.0, 12.5, '{"schema": "perflab.run/1"}');
INSERT INTO run_tags VALUES ('0ld0' || printf('%028d', 0), 'env', 'ci');
"""


def write_v1_catalog(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.executescript(V1_CATALOG)
    conn.close()


def test_a_v1_catalog_is_upgraded_and_keeps_its_runs(tmp_path: Path) -> None:
    db = tmp_path / "perflab.db"
    write_v1_catalog(db)
    with Catalog.open(str(db)) as catalog:
        assert catalog.schema_version() == LATEST
        (legacy,) = catalog.list_runs()
        assert (legacy.id[:4], legacy.name, legacy.kind) == ("0ld0", "legacy", "load")
        assert (legacy.requests, legacy.p99_ms, legacy.tags) == (6000, 12.5, {"env": "ci"})
        assert catalog.resolve("0ld") == Path("/runs/legacy")
        catalog.index_run(GOLDEN_DOC, GOLDEN)  # and new runs go in next to it
        assert [r.name for r in catalog.list_runs()] == ["demo", "legacy"]
        assert [r.id for r in catalog.list_runs(tags={"env": "ci"})] == [legacy.id]
    with sqlite3.connect(db) as conn:
        steps = conn.execute("SELECT version FROM schema_version ORDER BY version").fetchall()
        assert steps == [(v,) for v in range(1, LATEST + 1)]
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()


def test_migrations_build_exactly_the_tables_the_code_queries(tmp_path: Path) -> None:
    db = tmp_path / "fresh.db"
    Catalog.open(str(db)).close()
    engine = create_engine(f"sqlite:///{db}")
    try:
        found = inspect(engine)
        for table in (migrations.runs, migrations.run_tags):
            columns = {c["name"] for c in found.get_columns(table.name)}
            assert columns == {c.name for c in table.columns}, table.name
    finally:
        engine.dispose()
    assert [m.version for m in MIGRATIONS] == list(range(1, LATEST + 1))  # append-only


def test_a_catalog_from_a_newer_perflab_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "perflab.db"
    Catalog.open(str(db)).close()
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO schema_version VALUES (99, 'future', '2030-01-01T00:00:00Z')")
    conn.close()
    with pytest.raises(UsageError, match=rf"schema version 99.*knows up to {LATEST}"):
        Catalog.open(str(db))


def test_a_failing_step_leaves_the_old_schema_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "perflab.db"
    write_v1_catalog(db)
    step = LATEST + 1
    broken = Migration(step, "half done", ("ALTER TABLE runs ADD COLUMN extra TEXT", "NOT SQL"))
    monkeypatch.setattr(migrations, "MIGRATIONS", (*MIGRATIONS, broken))
    monkeypatch.setattr(migrations, "LATEST", step)
    monkeypatch.setattr(catalog_module, "LATEST", step)
    with pytest.raises(UsageError, match="cannot use the catalog"):
        Catalog.open(str(db))
    with sqlite3.connect(db) as conn:  # steps 2 and on were one transaction: all rolled back
        assert conn.execute("SELECT MAX(version) FROM schema_version").fetchone() == (1,)
        columns = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
    conn.close()
    assert "extra" not in columns and "kind" not in columns
