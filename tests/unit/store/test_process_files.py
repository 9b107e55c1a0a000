"""The target-process files of a run directory: the live series and the end-of-run summary."""

from __future__ import annotations

import json
from pathlib import Path

from perflab.store.process import MEMORY_FILE, PROCESS_FILE, read_process, write_process


def test_nothing_watched_is_none(tmp_path: Path) -> None:
    assert read_process(tmp_path) is None


def test_a_crashed_run_keeps_its_series_without_a_torn_last_line(tmp_path: Path) -> None:
    rows = [{"t": float(i), "rss_bytes": 1000 + i} for i in range(3)]
    text = "".join(json.dumps(r) + "\n" for r in rows) + '{"t": 3.0, "rss_by'
    (tmp_path / MEMORY_FILE).write_text(text)
    assert read_process(tmp_path) == {"memory": {"rows": rows}}


def test_summary_and_series_meet(tmp_path: Path) -> None:
    rows = [{"t": 0.0, "rss_bytes": 5}]
    (tmp_path / MEMORY_FILE).write_text(json.dumps(rows[0]) + "\n")
    verdict = {"growing": False, "text": "no growth"}
    write_process(
        tmp_path, {"memory": {"verdict": verdict, "rows": rows}, "profile": {"samples": 3}}
    )
    stored = json.loads((tmp_path / PROCESS_FILE).read_text())
    assert "rows" not in stored["memory"] and stored["schema"] == "perflab.process/1"
    doc = read_process(tmp_path)
    assert doc is not None
    assert doc["memory"] == {"verdict": verdict, "rows": rows} and doc["profile"] == {"samples": 3}
