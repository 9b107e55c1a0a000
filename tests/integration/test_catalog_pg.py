"""The catalog against a real PostgreSQL cluster (tests/pg.py) and, side by side, SQLite:
concurrent writers in several processes, migrations, password DSNs, and the CLI end to end."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from tests.pg import create_database, password_database

from perflab.cli.main import main
from perflab.errors import TargetError
from perflab.store import Catalog, load_run
from perflab.store.dsn import locate
from perflab.store.migrations import LATEST

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "run-v1"
PERFLAB = str(Path(sys.executable).parent / "perflab")
WORKERS, PER_WORKER = 4, 50


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty catalog location on each backend."""
    if request.param == "sqlite":
        return str(tmp_path / "perflab.db")
    pg_url: str = request.getfixturevalue("pg_url")
    return create_database(pg_url, f"t_{os.getpid()}_{abs(hash(request.node.name)) % 10**8}")


def _hammer(url: str, worker: int, barrier: Any) -> None:
    """One of several processes: open a new catalog at the same moment, then index
    PER_WORKER runs one transaction each, re-indexing a shared run every tenth time."""
    doc = json.loads((GOLDEN / "run.json").read_text())
    barrier.wait(timeout=60)
    with Catalog.open(url) as catalog:  # all open at once: the migrations race too
        for n in range(PER_WORKER):
            doc.update(id=f"{worker:04d}{n:028d}", name=f"worker-{worker}")
            doc["config"]["tags"] = {"worker": str(worker), "n": str(n)}
            catalog.index_run(doc, Path(f"/runs/{worker}/{n}"))
            if n % 10 == 0:
                doc.update(id="5" * 32, name="shared", status=f"w{worker}-{n}")
                catalog.index_run(doc, Path("/runs/shared"))
                doc["status"] = "passed"


@pytest.mark.slow
def test_concurrent_writers_lose_nothing(catalog_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(WORKERS)
    procs = [ctx.Process(target=_hammer, args=(catalog_url, w, barrier)) for w in range(WORKERS)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * WORKERS
    with Catalog.open(catalog_url) as catalog:
        rows = catalog.list_runs(limit=None)
        assert len(rows) == WORKERS * PER_WORKER + 1
        for worker in range(WORKERS):
            mine = catalog.list_runs(name=f"worker-{worker}", limit=None)
            assert len(mine) == PER_WORKER
            assert all(r.tags == {"worker": str(worker), "n": str(int(r.id[4:]))} for r in mine)
        shared = catalog.get("5" * 32)
        assert shared is not None and shared.tags["n"] in {"0", "10", "20", "30", "40"}
    engine = create_engine(locate(catalog_url).url)
    with engine.connect() as conn:
        steps = conn.execute(text("SELECT version FROM schema_version ORDER BY version"))
        assert [v for (v,) in steps] == list(range(1, LATEST + 1))  # each applied once, race or not
        count = conn.execute(text("SELECT COUNT(*) FROM run_tags")).scalar()
        assert count == 2 * (WORKERS * PER_WORKER + 1)
        if engine.dialect.name == "sqlite":
            assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    engine.dispose()


def test_v1_catalog_on_postgres_is_upgraded(pg_url: str) -> None:
    url = create_database(pg_url, "v1_catalog")
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    from tests.unit.store.test_catalog_migrations import V1_CATALOG

    with engine.begin() as conn:
        for statement in V1_CATALOG.split(";"):
            if statement.strip():
                conn.exec_driver_sql(statement.replace("printf('%028d', 0)", "repeat('0', 28)"))
    engine.dispose()
    with Catalog.open(url) as catalog:
        assert catalog.schema_version() == LATEST
        (legacy,) = catalog.list_runs(tags={"env": "ci"})
        assert (legacy.name, legacy.kind, legacy.requests) == ("legacy", "load", 6000)
        catalog.index_run(load_run(GOLDEN), GOLDEN)
        assert catalog.resolve("2d64") == GOLDEN.resolve()
        assert catalog.resolve("legacy") == Path("/runs/legacy")


def test_password_dsn_works_and_is_never_shown(pg_url: str) -> None:
    password = "pw-Zq81-secret"
    url = password_database(pg_url, password)
    with Catalog.open(url) as catalog:
        catalog.index_run(load_run(GOLDEN), GOLDEN)
        assert len(catalog.list_runs()) == 1
        assert password not in catalog.url and password not in repr(catalog)
        assert catalog.url.startswith("postgresql://perflab_pw:***@127.0.0.1:")
    wrong = url.replace(password, "wrong-Pa55word")
    with pytest.raises(TargetError) as info:
        Catalog.open(wrong)
    message = info.value.one_line()
    assert "password authentication failed" in message
    assert "wrong-Pa55word" not in message and "perflab_pw:***@" in message


def _perflab(*args: str, cwd: Path, db: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PERFLAB_DB": db}
    return subprocess.run(
        [PERFLAB, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
def test_run_then_history_and_show(catalog_url: str, hello_url: str, tmp_path: Path) -> None:
    run = _perflab(
        "run",
        f"{hello_url}/",
        "--vus",
        "2",
        "--duration",
        "1s",
        "--quiet",
        "--name",
        "e2e",
        "--tag",
        "suite=catalog",
        cwd=tmp_path,
        db=catalog_url,
    )
    assert run.returncode == 0, run.stderr
    assert "warning" not in run.stderr
    history = _perflab("history", "--json", cwd=tmp_path, db=catalog_url)
    assert history.returncode == 0, history.stderr
    (listed,) = json.loads(history.stdout)
    assert listed["name"] == "e2e" and listed["status"] == "passed"
    assert listed["tags"] == {"suite": "catalog"} and listed["vus"] == 2
    assert listed["requests"] > 0 and Path(listed["path"]).parent == tmp_path / "perflab-runs"
    show = _perflab("show", listed["id"][:7], "--json", cwd=tmp_path, db=catalog_url)
    assert show.returncode == 0, show.stderr
    assert json.loads(show.stdout)["id"] == listed["id"]
    table = _perflab("history", "--tag", "suite=catalog", cwd=tmp_path, db=catalog_url)
    assert listed["id"][:8] in table.stdout and "closed 2 VUs" in table.stdout


def test_catalog_down_costs_a_warning_not_the_run(
    hello_url: str,
    refused_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    port = refused_url.rsplit(":", 1)[1]
    monkeypatch.setenv("PERFLAB_DB", f"postgresql://ci:Hidden-Pw-77@127.0.0.1:{port}/perf")
    code = main(["run", f"{hello_url}/", "--iterations", "20", "--vus", "2", "--quiet"])
    err = capsys.readouterr().err
    assert code == 0
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "not indexed" in warnings[0], err
    assert "ci:***@127.0.0.1" in warnings[0] and "Hidden-Pw-77" not in err
    (run_dir,) = (tmp_path / "perflab-runs").iterdir()
    assert load_run(run_dir)["totals"]["requests"] == 20
    monkeypatch.delenv("PERFLAB_DB")  # the catalog catches up with the run on disk
    assert main(["history", "--json"]) == 0
    assert [r["path"] for r in json.loads(capsys.readouterr().out)] == [str(run_dir.resolve())]


@pytest.mark.slow
def test_an_interrupted_run_is_indexed(hello_url: str, tmp_path: Path) -> None:
    db = tmp_path / "perflab.db"
    proc = subprocess.Popen(
        [PERFLAB, "run", f"{hello_url}/", "--rate", "50/s", "--duration", "60s", "--quiet"],
        cwd=tmp_path,
        env={**os.environ, "PERFLAB_DB": str(db)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until two seconds are stored
        journals = list(tmp_path.glob("perflab-runs/*/intervals.journal"))
        if journals and journals[0].read_bytes().count(b"\n") >= 2:
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    with Catalog.open(str(db), create=False) as catalog:
        (row,) = catalog.list_runs()
    assert row.status == "interrupted" and row.requests is not None and row.requests >= 100
