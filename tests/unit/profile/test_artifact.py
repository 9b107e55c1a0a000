"""The stored profile: profile.json + stacks.folded, written atomically, loaded back, summarized."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from perflab.errors import UsageError
from perflab.profile.artifact import (
    FLAMEGRAPH_FILE,
    PROFILE_SCHEMA,
    ProfileResult,
    ProfileTarget,
    load_profile,
    new_profile_dir,
    save_profile,
)
from perflab.profile.folded import parse_folded

DATA = Path(__file__).parent / "data"
KEYS = {
    "schema", "id", "name", "started_at", "ended_at", "duration_s", "rate_hz", "samples",
    "native", "target", "target_exited", "errors", "warnings", "sampler",
}  # fmt: skip


def _result() -> ProfileResult:
    return ProfileResult(
        stacks=parse_folded((DATA / "pyspy_command.raw").read_text()),
        name="cpu_hot",
        started_at="2025-01-02T03:04:05Z",
        ended_at="2025-01-02T03:04:07Z",
        duration_s=2.01234,
        rate_hz=100,
        native=False,
        target=ProfileTarget(pid=42, cmdline=["python", "app.py"], exe="/usr/bin/python3.11"),
        sampler={"tool": "py-spy", "version": "0.4.3"},
        target_exited=True,
        warnings=["PID 42 exited after 1.2 s of the 2 s asked for; the profile covers that part"],
    )


def test_save_then_load_round_trips(tmp_path: Path) -> None:
    result = _result()
    directory = save_profile(result, tmp_path / "p")
    assert sorted(p.name for p in directory.iterdir()) == ["profile.json", "stacks.folded"]
    doc = json.loads((directory / "profile.json").read_text())
    assert set(doc) == KEYS
    assert doc["schema"] == PROFILE_SCHEMA and doc["samples"] == 46
    assert doc["duration_s"] == 2.012
    assert doc["target"] == {
        "pid": 42,
        "cmdline": ["python", "app.py"],
        "exe": "/usr/bin/python3.11",
        "python": None,
    }
    loaded = load_profile(directory)
    assert loaded.stacks == result.stacks
    assert loaded.to_document() == result.to_document()
    assert loaded.path == directory and loaded.flamegraph is None
    assert load_profile(directory / "profile.json").id == result.id


def test_json_summary_is_the_cli_contract(tmp_path: Path) -> None:
    result = _result()
    save_profile(result, tmp_path)
    summary = result.to_json_summary(top_n=3)
    assert set(summary) == {"samples", "duration_s", "top", "flamegraph", "folded"}
    assert summary["samples"] == 46 and summary["duration_s"] == 2.012
    assert summary["folded"] == str(tmp_path / "stacks.folded")
    assert summary["flamegraph"] is None
    top = summary["top"]
    assert len(top) == 3
    assert all(set(row) == {"function", "file", "line", "self_pct", "total_pct"} for row in top)
    assert top[0] == {
        "function": "hot_loop",
        "file": "servers/cpu_hot.py",
        "line": 25,
        "self_pct": round(100 * 38 / 46, 2),
        "total_pct": round(100 * 38 / 46, 2),
    }
    selfs = [row["self_pct"] for row in top]
    assert selfs == sorted(selfs, reverse=True)
    json.dumps(summary)


def test_a_rendered_flame_graph_is_found_on_load(tmp_path: Path) -> None:
    save_profile(_result(), tmp_path)
    (tmp_path / FLAMEGRAPH_FILE).write_text("<html></html>")
    loaded = load_profile(tmp_path)
    assert loaded.to_json_summary()["flamegraph"] == str(tmp_path / FLAMEGRAPH_FILE)


def test_golden_version_1_keeps_loading() -> None:
    loaded = load_profile(DATA / "golden-profile-1")
    assert loaded.id == "462f211a73f847faa58a524e29e19e8f"
    assert loaded.samples == 97 and loaded.target.python == "3.11"
    assert loaded.target_exited and loaded.sampler == {"tool": "py-spy", "version": "0.4.3"}
    assert loaded.to_json_summary(1)["top"][0]["function"] == "hot_loop"


def test_the_folded_file_is_the_truth_for_samples(tmp_path: Path) -> None:
    shutil.copytree(DATA / "golden-profile-1", tmp_path / "p")
    (tmp_path / "p" / "stacks.folded").write_text("main (a.py:1);hot (a.py:2) 5\n")
    loaded = load_profile(tmp_path / "p")
    assert loaded.samples == 5 and loaded.to_document()["samples"] == 5


def test_new_profile_dirs_are_named_like_runs_and_unique(tmp_path: Path) -> None:
    first = new_profile_dir("my app/1", tmp_path)
    second = new_profile_dir("my app/1", tmp_path)
    assert first != second and first.is_dir() and second.is_dir()
    assert first.name.startswith("profile-") and first.name.endswith("-my-app-1")
    assert second.name == f"{first.name}-1"


@pytest.mark.parametrize(
    ("setup", "words"),
    [
        ("missing", "no profile at"),
        ("not-json", "is not readable JSON"),
        ("schema", "unknown schema 'perflab.run/1'"),
        ("no-stacks", "has no stacks.folded"),
        ("bad-stacks", "line 1"),
        ("bad-field", "missing or bad field"),
    ],
)
def test_load_errors_are_one_line_usage_errors(tmp_path: Path, setup: str, words: str) -> None:
    directory = tmp_path / "p"
    if setup != "missing":
        save_profile(_result(), directory)
    meta = directory / "profile.json"
    if setup == "not-json":
        meta.write_text("{")
    elif setup == "schema":
        meta.write_text(json.dumps({"schema": "perflab.run/1"}))
    elif setup == "no-stacks":
        (directory / "stacks.folded").unlink()
    elif setup == "bad-stacks":
        (directory / "stacks.folded").write_text("a;b many\n")
    elif setup == "bad-field":
        doc = json.loads(meta.read_text())
        del doc["rate_hz"]
        meta.write_text(json.dumps(doc))
    with pytest.raises(UsageError) as err:
        load_profile(directory)
    assert words in err.value.message
    assert "\n" not in err.value.one_line()
