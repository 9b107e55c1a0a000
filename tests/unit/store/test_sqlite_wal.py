"""Switching a SQLite catalog to WAL while another connection holds the file."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from perflab.store.dsn import enter_wal


def _hold_write_lock(path: Path, locked: threading.Event, hold_s: float) -> None:
    """Another writer: takes the write lock, keeps it ``hold_s``, then commits."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO t VALUES (1)")
    locked.set()
    time.sleep(hold_s)
    conn.execute("COMMIT")
    conn.close()


def _locked_db(path: Path, hold_s: float) -> threading.Thread:
    """A new database whose write lock another thread holds for ``hold_s``."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (x)")
    locked = threading.Event()
    other = threading.Thread(target=_hold_write_lock, args=(path, locked, hold_s))
    other.start()
    assert locked.wait(5)
    return other


def test_enter_wal_retries_a_lock_that_answers_at_once(tmp_path: Path) -> None:
    """busy_timeout 0 stands for SQLite's no-wait answer (two shared holders both asking
    for the exclusive lock): the switch is retried until the other writer is done."""
    path = tmp_path / "c.db"
    other = _locked_db(path, 0.3)
    conn = sqlite3.connect(path, isolation_level=None, timeout=0)
    cursor = conn.cursor()
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        cursor.execute("PRAGMA journal_mode = WAL")
    started = time.monotonic()
    enter_wal(cursor, timeout_s=10)
    assert time.monotonic() - started < 5
    assert cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    other.join()
    conn.close()


def test_enter_wal_gives_up_at_its_timeout(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    other = _locked_db(path, 1.0)
    conn = sqlite3.connect(path, isolation_level=None, timeout=0)
    started = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        enter_wal(conn.cursor(), timeout_s=0.2)
    assert time.monotonic() - started < 0.9
    other.join()
    conn.close()
