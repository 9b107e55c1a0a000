"""``perflab history`` and ``perflab show`` over the catalog, in-process through ``main``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from perflab.cli.main import main
from perflab.store import Catalog, load_run

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "run-v1"
GOLDEN_ID = "2d64b2c066b54cf0a56732fe250908de"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding one run made before the catalog existed."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PERFLAB_DB", raising=False)
    shutil.copytree(GOLDEN, tmp_path / "perflab-runs" / "20261128T162452Z-demo")
    return tmp_path


def test_history_json_indexes_runs_already_on_disk(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["history", "--json"]) == 0
    out, err = capsys.readouterr()
    runs = json.loads(out)  # stdout is exactly one JSON document
    assert [r["id"] for r in runs] == [GOLDEN_ID] and err == ""
    run = runs[0]
    assert run["name"] == "demo" and run["requests"] == 60 and run["tags"] == {"demo": "shop"}
    assert run["path"] == str((workdir / "perflab-runs" / "20261128T162452Z-demo").resolve())
    assert (workdir / "perflab.db").exists()


def test_history_filters(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = workdir / "elsewhere"
    shutil.copytree(GOLDEN, other)
    doc = load_run(other)
    doc.update(id="f" * 32, name="nightly", started_at="2026-12-01T00:00:00Z")
    doc["config"]["tags"] = {"env": "ci"}
    with Catalog.open() as catalog:
        catalog.index_run(doc, other)

    def ids(*args: str) -> list[str]:
        assert main(["history", "--json", *args]) == 0
        return [r["id"][:4] for r in json.loads(capsys.readouterr().out)]

    assert ids() == ["ffff", "2d64"]
    assert ids("--name", "demo") == ["2d64"]
    assert ids("--tag", "env=ci") == ["ffff"]
    assert ids("--tag", "env=ci", "--tag", "demo=shop") == []
    assert ids("--limit", "1") == ["ffff"]


def test_history_table(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history"]) == 0
    out = capsys.readouterr().out
    for needle in ("2d64b2c0", "2026-11-28 16:24:52", "demo", "passed", "open 40/s", "32.5ms"):
        assert needle in out, needle
    assert GOLDEN_ID not in out  # ids are shortened to 8 characters


def test_history_empty_and_bad_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PERFLAB_DB", raising=False)
    assert main(["history", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["history", "--tag", "novalue"]) == 2
    assert "bad tag" in capsys.readouterr().err
    assert main(["history", "--limit", "0"]) == 2
    capsys.readouterr()
    monkeypatch.setenv("PERFLAB_DB", "mysql://root:pw-123456@db/perf")
    assert main(["history"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("perflab: error: unknown catalog scheme 'mysql'")
    assert "pw-123456" not in err and len(err.strip().splitlines()) == 1


def test_history_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "--help"]) == 0
    out = capsys.readouterr().out
    assert "Examples" in out and "--tag" in out and "perflab history --json" in out


def test_show_finds_a_catalogued_run_outside_perflab_runs(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = workdir / "ci-artifacts" / "run-7"
    shutil.copytree(GOLDEN, out_dir)
    doc = load_run(out_dir)
    doc.update(id="7" * 32, name="run-seven")
    (out_dir / "run.json").write_text(json.dumps(doc))
    with Catalog.open() as catalog:
        catalog.index_run(doc, out_dir)
    for ref in ("7777", "run-seven", str(out_dir)):
        assert main(["show", ref, "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["id"] == "7" * 32
