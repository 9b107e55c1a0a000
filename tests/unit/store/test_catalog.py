"""The run catalog on SQLite: indexing, listing, filters, look-ups, secrets, bad input."""

from __future__ import annotations

import copy
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from perflab.errors import TargetError, UsageError
from perflab.store import Catalog, find_run, load_run
from perflab.store.dsn import locate, redact_dsn

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "run-v1"
GOLDEN_DOC = json.loads((GOLDEN / "run.json").read_text())


def make_doc(
    run_id: str, name: str = "demo", started: str = "2026-11-28T16:24:52Z", **over: Any
) -> dict[str, Any]:
    doc = copy.deepcopy(GOLDEN_DOC)
    doc.update(id=run_id, name=name, started_at=started)
    tags = over.pop("tags", None)
    if tags is not None:
        doc["config"]["tags"] = tags
    doc.update(over)
    return doc


@pytest.fixture
def catalog(tmp_path: Path) -> Any:
    with Catalog.open(str(tmp_path / "perflab.db")) as opened:
        yield opened


def test_index_and_get_keep_the_summary_fields(catalog: Catalog, tmp_path: Path) -> None:
    run_id = catalog.index_run(GOLDEN_DOC, GOLDEN)
    row = catalog.get(run_id)
    assert row is not None
    assert (row.id, row.kind, row.name, row.status) == (GOLDEN_DOC["id"], "load", "demo", "passed")
    assert row.path == GOLDEN.resolve() and row.path.is_absolute()
    assert (row.model, row.rate, row.vus) == ("open", 40.0, None)  # peak of start 20 → 40/s
    assert row.target == "http://127.0.0.1:34319"  # six URLs, one origin
    totals = GOLDEN_DOC["totals"]
    assert (row.requests, row.errors, row.rps) == (60, 0, totals["rps"])
    assert (
        row.p99_ms == totals["latency_ms"]["p99"] and row.p999_ms == totals["latency_ms"]["p99.9"]
    )
    assert row.duration_s == GOLDEN_DOC["duration_s"] and row.git_commit is None
    assert row.tags == {"demo": "shop"}
    assert catalog.summary(run_id) == GOLDEN_DOC
    assert catalog.get("nope") is None and catalog.summary("nope") is None
    assert row.to_json()["path"] == str(GOLDEN.resolve())


def test_closed_model_peak_vus(catalog: Catalog) -> None:
    doc = make_doc("c" * 32)
    doc["config"].update(model="closed", start=5.0, stages=[{"duration_s": 1, "target": 12}])
    catalog.index_run(doc, GOLDEN)
    row = catalog.get("c" * 32)
    assert row is not None and (row.model, row.rate, row.vus) == ("closed", None, 12)


def test_reindexing_is_idempotent_and_takes_the_last_state(catalog: Catalog) -> None:
    doc = make_doc("a" * 32, status="running", tags={"env": "ci", "old": "x"})
    for _ in range(3):
        catalog.index_run(doc, GOLDEN)
    final = make_doc("a" * 32, status="interrupted", tags={"env": "staging"})
    catalog.index_run(final, GOLDEN)
    rows = catalog.list_runs()
    assert len(rows) == 1
    assert rows[0].status == "interrupted" and rows[0].tags == {"env": "staging"}
    assert catalog.list_runs(tags={"old": "x"}) == []


def test_list_newest_first_with_name_and_tag_filters(catalog: Catalog) -> None:
    specs = [
        ("01" * 16, "checkout", "2026-01-01T00:00:01Z", {"env": "ci", "branch": "main"}),
        ("02" * 16, "checkout", "2026-01-01T00:00:03Z", {"env": "staging", "branch": "main"}),
        ("03" * 16, "search", "2026-01-01T00:00:02Z", {"env": "ci", "branch": "dev"}),
        ("04" * 16, "checkout", "2026-01-01T00:00:04Z", {"env": "ci", "branch": "dev"}),
    ]
    for run_id, name, started, tags in specs:
        catalog.index_run(make_doc(run_id, name, started, tags=tags), GOLDEN)
    assert [r.id[:2] for r in catalog.list_runs()] == ["04", "02", "03", "01"]
    assert [r.id[:2] for r in catalog.list_runs(name="checkout")] == ["04", "02", "01"]
    assert [r.id[:2] for r in catalog.list_runs(tags={"env": "ci"})] == ["04", "03", "01"]
    both = catalog.list_runs(name="checkout", tags={"env": "ci", "branch": "main"})
    assert [r.id[:2] for r in both] == ["01"]
    assert [r.id[:2] for r in catalog.list_runs(limit=2)] == ["04", "02"]
    assert catalog.list_runs(name="nothing") == [] and catalog.list_runs(tags={"env": "x"}) == []


def test_resolve_by_id_prefix_name_and_path(catalog: Catalog, tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    catalog.index_run(make_doc("abc1" + "0" * 28, "smoke", "2026-01-01T00:00:00Z"), old)
    catalog.index_run(make_doc("abc2" + "0" * 28, "smoke", "2026-01-02T00:00:00Z"), new)
    catalog.index_run(make_doc("f00d" + "0" * 28, "other"), tmp_path / "f")
    assert catalog.resolve("abc1") == old.resolve()
    assert catalog.resolve("f") == (tmp_path / "f").resolve()
    assert catalog.resolve("smoke") == new.resolve()  # the newest run of that name
    assert catalog.resolve(str(GOLDEN)) == GOLDEN  # an existing path is itself
    assert catalog.resolve(str(GOLDEN / "run.json")) == GOLDEN
    with pytest.raises(UsageError, match=r"ambiguous: 2 run ids start with it"):
        catalog.resolve("abc")
    with pytest.raises(UsageError, match="no run 'zzz'"):
        catalog.resolve("zzz")
    with pytest.raises(UsageError, match="no run '_'"):  # LIKE wildcards are escaped
        catalog.resolve("_")
    with pytest.raises(UsageError, match="empty"):
        catalog.resolve("")


def test_a_name_wins_over_an_id_prefix(catalog: Catalog, tmp_path: Path) -> None:
    catalog.index_run(make_doc("beef" + "0" * 28, "x"), tmp_path / "by-id")
    catalog.index_run(make_doc("0" * 32, "beef"), tmp_path / "by-name")
    assert catalog.resolve("beef") == (tmp_path / "by-name").resolve()


def test_secrets_are_never_stored(catalog: Catalog, tmp_path: Path) -> None:
    secret = "hunter2-S3CRET-token"
    doc = make_doc("5" * 32)  # as if a writer had forgotten to redact
    doc["config"]["requests"] = [
        {
            "name": "GET /",
            "method": "GET",
            "url": f"http://bob:{secret}@127.0.0.1:9/x?api_key={secret}",
            "headers": {"Authorization": f"Bearer {secret}", "Cookie": f"sid={secret}"},
            "body_bytes": 0,
        }
    ]
    catalog.index_run(doc, tmp_path)
    with sqlite3.connect(tmp_path / "perflab.db") as conn:
        dump = "\n".join(conn.iterdump())
    assert secret not in dump
    assert "[redacted]" in dump


def test_index_directory_adds_only_missing_runs(catalog: Catalog, tmp_path: Path) -> None:
    root = tmp_path / "perflab-runs"
    shutil.copytree(GOLDEN, root / "a")
    (root / "b").mkdir()
    (root / "b" / "run.json").write_text(json.dumps(make_doc("b" * 32, "second")))
    (root / "broken").mkdir()
    (root / "broken" / "run.json").write_text("{torn")
    (root / "foreign").mkdir()
    (root / "foreign" / "run.json").write_text('{"schema": "other/1"}')
    assert catalog.index_directory(root) == 2
    assert catalog.index_directory(root) == 0
    shutil.copytree(root / "a", root / "a-copy")  # the same run again: keeps its first path
    assert catalog.index_directory(root) == 0
    row = catalog.get(GOLDEN_DOC["id"])
    assert row is not None and row.path == (root / "a").resolve()
    assert catalog.index_directory(tmp_path / "absent") == 0


def test_find_run_asks_the_catalog_and_leaves_no_trace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PERFLAB_DB", raising=False)
    with pytest.raises(UsageError, match="no run"):
        find_run("2d64")
    assert not (tmp_path / "perflab.db").exists()  # a look-up creates no catalog
    elsewhere = tmp_path / "elsewhere" / "run"  # e.g. --out: not under ./perflab-runs
    shutil.copytree(GOLDEN, elsewhere)
    with Catalog.open() as catalog:
        catalog.index_run(load_run(elsewhere), elsewhere)
    assert find_run("2d64") == elsewhere.resolve()
    assert find_run("demo") == elsewhere.resolve()
    shutil.rmtree(elsewhere)  # gone from disk: the directory scan has the last word
    with pytest.raises(UsageError, match="no run"):
        find_run("2d64")


def test_open_without_create_needs_an_existing_catalog(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no catalog"):
        Catalog.open(str(tmp_path / "none.db"), create=False)
    assert not (tmp_path / "none.db").exists()


def test_locate_defaults_env_and_schemes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PERFLAB_DB", raising=False)
    assert locate().sqlite_path == Path("perflab.db")
    monkeypatch.setenv("PERFLAB_DB", str(tmp_path / "env.db"))
    assert locate().sqlite_path == tmp_path / "env.db"
    assert locate(f"sqlite:///{tmp_path}/u.db").sqlite_path == tmp_path / "u.db"
    for scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        where = locate(f"{scheme}://u:pw@db.example:5433/perf")
        assert where.url.drivername == "postgresql+psycopg" and where.url.password == "pw"
        assert where.display == f"{scheme}://u:***@db.example:5433/perf"
        assert "pw" not in repr(where)
    with pytest.raises(UsageError, match="unknown catalog scheme 'mysql'") as info:
        locate("mysql://root:topsecret@db/x")
    assert "topsecret" not in str(info.value) and info.value.exit_code == 2
    with pytest.raises(UsageError, match="a SQLite catalog is a file"):
        locate("sqlite://")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:p%40ss@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u@h:5432/db", "postgresql://u@h:5432/db"),
        (
            "postgresql://h/db?password=pw&sslmode=require",
            "postgresql://h/db?password=***&sslmode=require",
        ),
        ("postgresql://u:a@b@h/db", "postgresql://u:***@h/db"),
        ("perflab.db", "perflab.db"),
    ],
)
def test_redact_dsn(url: str, shown: str) -> None:
    assert redact_dsn(url) == shown


def test_a_file_that_is_not_a_catalog_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "notes.db"
    bad.write_text("not a database, just text " * 100)
    with pytest.raises(UsageError, match="file is not a database") as info:
        Catalog.open(str(bad))
    assert info.value.exit_code == 2
    with pytest.raises(UsageError, match="is a directory"):
        Catalog.open(str(tmp_path))
    with pytest.raises(UsageError, match="unable to open"):
        Catalog.open(str(tmp_path / "no-such-dir" / "perflab.db"))


def test_unreachable_postgres_is_a_target_error_without_the_password(
    refused_url: str,
) -> None:
    port = refused_url.rsplit(":", 1)[1]
    with pytest.raises(TargetError) as info:
        Catalog.open(f"postgresql://perf:Sup3rS3cret@127.0.0.1:{port}/perf")
    message = info.value.one_line()
    assert info.value.exit_code == 3
    assert f"postgresql://perf:***@127.0.0.1:{port}/perf" in message
    assert "Sup3rS3cret" not in message and "\n" not in message
