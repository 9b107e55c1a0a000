"""Where the catalog lives (``PERFLAB_DB``) and how to connect to it safely.

A DSN may carry a password: only :func:`redact_dsn`'s form (``postgresql://user:***@host/db``)
is ever printed, and driver messages are scrubbed of the password before they are shown.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError

from perflab.errors import PerflabError, TargetError, UsageError
from perflab.model.redact import is_secret_name

ENV_VAR = "PERFLAB_DB"
DEFAULT_PATH = Path("perflab.db")
BUSY_TIMEOUT_S = 30.0  # how long a SQLite writer queues behind another before giving up
CONNECT_TIMEOUT_S = 10  # an unroutable PostgreSQL host fails in this time, not TCP's minutes
_POSTGRES = ("postgresql", "postgres", "postgresql+psycopg")
MASK = "***"


def redact_dsn(url: str) -> str:
    """``url`` with its password (and secret-looking query values) replaced by ``***``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    cut = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    netloc, tail = rest[:cut], rest[cut:]
    userinfo, at, host = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.split(':', 1)[0]}:{MASK}@{host}"
    path, qmark, query = tail.partition("?")
    if qmark:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, MASK if is_secret_name(k) else v) for k, v in pairs], safe="*")
    return f"{scheme}://{netloc}{path}{qmark}{query}"


@dataclass(frozen=True)
class CatalogLocation:
    """A resolved catalog address. ``url`` holds the password: never print it."""

    url: URL = field(repr=False)
    display: str
    sqlite_path: Path | None
    secrets: tuple[str, ...] = field(default=(), repr=False)

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text

    def error(self, exc: BaseException, *, unreachable: bool) -> PerflabError:
        """One line a user can act on, for a database error from this catalog."""
        orig = getattr(exc, "orig", None) or exc
        reason = self.scrub(" ".join(str(orig).split()) or type(orig).__name__)[:300]
        if self.sqlite_path is None:
            if unreachable:
                return TargetError(
                    f"cannot reach the catalog {self.display}: {reason}",
                    hint=f"is PostgreSQL up there, and are the user and password in {ENV_VAR} "
                    "right?",
                )
            return UsageError(f"cannot use the catalog {self.display}: {reason}")
        if "locked" in reason or "busy" in reason:
            return TargetError(
                f"the catalog {self.display} stayed locked for {BUSY_TIMEOUT_S:.0f} s: {reason}",
                hint="another process holds it",
            )
        return UsageError(
            f"cannot use the catalog {self.display}: {reason}",
            hint=f"is it a perflab catalog? set {ENV_VAR} to use another file",
        )


def locate(url: str | None = None) -> CatalogLocation:
    """Resolve ``url``, else ``$PERFLAB_DB``, else ``./perflab.db``; checks the form only."""
    raw = (url if url is not None else os.environ.get(ENV_VAR, "")).strip()
    if not raw:
        return _sqlite(DEFAULT_PATH)
    if "://" not in raw:
        return _sqlite(Path(raw).expanduser())
    scheme, _, rest = raw.partition("://")
    if scheme.lower() == "sqlite":
        try:
            database = make_url(raw).database
        except ArgumentError:
            database = None
        if not database or database == ":memory:":
            raise UsageError(
                f"bad catalog URL {raw!r}: a SQLite catalog is a file",
                hint="use sqlite:///path/to/perflab.db or just the path",
            )
        return _sqlite(Path(database).expanduser())
    if scheme.lower() not in _POSTGRES:
        raise UsageError(
            f"unknown catalog scheme {scheme!r} in {redact_dsn(raw)}",
            hint="use a SQLite file path or postgresql://user@host/db",
        )
    shown = redact_dsn(raw)
    try:
        parsed = make_url(f"postgresql+psycopg://{rest}")
    except (ArgumentError, ValueError):
        raise UsageError(f"bad catalog URL {shown}") from None
    password = parsed.password
    secrets: tuple[str, ...] = ()
    if password:  # the decoded and the %-encoded forms, longest first
        secrets = tuple(sorted({password, quote(password, safe="")}, key=len, reverse=True))
    return CatalogLocation(url=parsed, display=shown, sqlite_path=None, secrets=secrets)


def _sqlite(path: Path) -> CatalogLocation:
    return CatalogLocation(
        url=URL.create("sqlite", database=str(path)), display=str(path), sqlite_path=path
    )


def connect(location: CatalogLocation) -> Engine:
    """An engine for ``location``; no connection is made yet."""
    if location.sqlite_path is None:
        try:
            return create_engine(
                location.url,
                connect_args={"connect_timeout": CONNECT_TIMEOUT_S, "application_name": "perflab"},
                hide_parameters=True,
            )
        except ModuleNotFoundError as exc:
            raise UsageError(
                f"a PostgreSQL catalog needs the psycopg driver ({exc.name} is not installed)",
                hint="pip install 'perflab[postgres]'",
            ) from exc
    if location.sqlite_path.is_dir():
        raise UsageError(f"the catalog {location.display} is a directory, not a SQLite file")
    engine = create_engine(
        location.url, connect_args={"timeout": BUSY_TIMEOUT_S}, hide_parameters=True
    )
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    # pysqlite would BEGIN lazily before the first write, after our reads: we BEGIN ourselves.
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        # WAL: readers never block the writer, and a crash mid-write leaves the file whole.
        enter_wal(cursor)
        # NORMAL in WAL can lose the last commits on power loss but never corrupts; the
        # catalog can be rebuilt from the run directories.
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def enter_wal(cursor: Any, timeout_s: float = BUSY_TIMEOUT_S) -> None:
    """Switch to WAL, retrying while another connection holds the file.

    Processes that open a new catalog at the same moment all ask for WAL, which needs the
    exclusive lock; when two hold a shared lock and both ask, SQLite answers one of them
    "database is locked" at once instead of waiting (waiting would deadlock), so the busy
    timeout does not help (the 4-process catalog test failed so once in this session's CI)."""
    deadline = time.monotonic() + timeout_s
    delay = 0.002
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def _sqlite_begin(conn: Connection) -> None:
    # A deferred transaction that reads and then writes can fail at once with SQLITE_BUSY
    # (a read-to-write upgrade does not wait); IMMEDIATE takes the write lock up front, and
    # waits for it up to the busy timeout.
    write = conn.get_execution_options().get("perflab_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
