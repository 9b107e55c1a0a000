"""The catalog's schema: the tables as queried, and the ordered migration steps building them.

A step is frozen once released: a catalog written by an older perflab is brought up to date by
applying the steps it lacks, in order, in one transaction, so a crash mid-upgrade leaves the
old schema intact (SQLite and PostgreSQL both have transactional DDL). ``schema_version``
keeps one row per applied step. Change the schema only by appending a step.

The SQL is the common subset of SQLite and PostgreSQL: ``TEXT``, ``BIGINT`` and
``DOUBLE PRECISION`` (PostgreSQL's ``REAL`` is single precision). Timestamps are ISO-8601 UTC
text (``2026-11-28T16:24:52Z``), which sorts chronologically as text on both.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import BigInteger, Column, Connection, Double, MetaData, Table, Text, inspect, text

from perflab.errors import UsageError

# The tables as the code queries them; the steps below build them (a test checks they agree).
_meta = MetaData()
runs = Table(
    "runs",
    _meta,
    Column("id", Text, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("started_at", Text),
    Column("ended_at", Text),
    Column("path", Text, nullable=False),
    Column("target", Text),
    Column("model", Text),
    Column("rate", Double),
    Column("vus", BigInteger),
    Column("duration_s", Double),
    Column("requests", BigInteger),
    Column("errors", BigInteger),
    Column("error_rate", Double),
    Column("rps", Double),
    Column("p50_ms", Double),
    Column("p90_ms", Double),
    Column("p99_ms", Double),
    Column("p999_ms", Double),
    Column("git_commit", Text),
    Column("summary", Text, nullable=False),
    Column("indexed_at", Text),
)
run_tags = Table(
    "run_tags",
    _meta,
    Column("run_id", Text, primary_key=True),
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

benchmarks = Table(
    "benchmarks",
    _meta,
    Column("run_id", Text, primary_key=True),
    Column("name", Text, primary_key=True),
    Column("params", Text, primary_key=True),
    Column("run_name", Text, nullable=False),
    Column("machine", Text, nullable=False),
    Column("git_commit", Text),
    Column("started_at", Text),
    Column("path", Text, nullable=False),
    Column("median", Double),
    Column("mean", Double),
    Column("stdev", Double),
    Column("ci_low", Double),
    Column("ci_high", Double),
    Column("n", BigInteger),
    Column("unit", Text, nullable=False),
)

# Any constant works; it only has to be the same for every perflab touching one database.
PG_LOCK_KEY = 0x7065_7266_6C61_62  # "perflab"


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "runs and their tags",
        (
            """CREATE TABLE runs (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                status TEXT NOT NULL,
                started_at TEXT,
                ended_at TEXT,
                path TEXT NOT NULL,
                target TEXT,
                model TEXT,
                rate DOUBLE PRECISION,
                vus BIGINT,
                duration_s DOUBLE PRECISION,
                requests BIGINT,
                errors BIGINT,
                error_rate DOUBLE PRECISION,
                rps DOUBLE PRECISION,
                p50_ms DOUBLE PRECISION,
                p90_ms DOUBLE PRECISION,
                p99_ms DOUBLE PRECISION,
                p999_ms DOUBLE PRECISION,
                git_commit TEXT,
                summary TEXT NOT NULL
            )""",
            "CREATE INDEX ix_runs_name_started ON runs (name, started_at)",
            "CREATE INDEX ix_runs_started ON runs (started_at)",
            """CREATE TABLE run_tags (
                run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
                key TEXT NOT NULL,
                value TEXT NOT NULL,
                PRIMARY KEY (run_id, key)
            )""",
            "CREATE INDEX ix_run_tags_key_value ON run_tags (key, value)",
        ),
    ),
    Migration(
        2,
        "runs.kind ('load'; 'bench' results come later) and runs.indexed_at",
        (
            "ALTER TABLE runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'load'",
            "ALTER TABLE runs ADD COLUMN indexed_at TEXT",
            "CREATE INDEX ix_runs_kind_started ON runs (kind, started_at)",
        ),
    ),
    Migration(
        3,
        "benchmarks: one row per (bench run, benchmark, params); series by name+params+machine",
        (
            """CREATE TABLE benchmarks (
                run_id TEXT NOT NULL,
                name TEXT NOT NULL,
                params TEXT NOT NULL,
                run_name TEXT NOT NULL,
                machine TEXT NOT NULL,
                git_commit TEXT,
                started_at TEXT,
                path TEXT NOT NULL,
                median DOUBLE PRECISION,
                mean DOUBLE PRECISION,
                stdev DOUBLE PRECISION,
                ci_low DOUBLE PRECISION,
                ci_high DOUBLE PRECISION,
                n BIGINT,
                unit TEXT NOT NULL,
                PRIMARY KEY (run_id, name, params)
            )""",
            "CREATE INDEX ix_benchmarks_series ON benchmarks (name, params, machine, started_at)",
            "CREATE INDEX ix_benchmarks_commit ON benchmarks (git_commit)",
            "CREATE INDEX ix_benchmarks_run_name ON benchmarks (run_name, started_at)",
        ),
    ),
)
LATEST = MIGRATIONS[-1].version

_VERSION_TABLE = """CREATE TABLE IF NOT EXISTS schema_version (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at TEXT NOT NULL
)"""


def current_version(conn: Connection) -> int:
    """The newest applied step, 0 for an empty database."""
    if not inspect(conn).has_table("schema_version"):
        return 0
    found = conn.execute(text("SELECT MAX(version) FROM schema_version")).scalar()
    return int(found or 0)


def check_not_newer(version: int, where: str) -> None:
    """A catalog from a newer perflab may have changed in ways this one cannot know."""
    if version > LATEST:
        raise UsageError(
            f"the catalog {where} has schema version {version}; this perflab knows up to {LATEST}",
            hint="upgrade perflab, or point PERFLAB_DB at another catalog",
        )


def migrate(conn: Connection, where: str) -> int:
    """Apply the missing steps; ``conn`` is in a transaction that holds the writer lock.

    The caller takes the lock first (SQLite ``BEGIN IMMEDIATE``, PostgreSQL
    ``pg_advisory_xact_lock``) and the version is read again under it, so two processes opening
    a new catalog at once apply each step exactly once. Returns the version reached.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
    conn.exec_driver_sql(_VERSION_TABLE)
    version = current_version(conn)
    check_not_newer(version, where)
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for step in MIGRATIONS:
        if step.version <= version:
            continue
        for statement in step.statements:
            conn.exec_driver_sql(statement)
        conn.execute(
            text(
                "INSERT INTO schema_version (version, description, applied_at) VALUES (:v, :d, :t)"
            ),
            {"v": step.version, "d": step.description, "t": now},
        )
        version = step.version
    return version
