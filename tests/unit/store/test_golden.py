"""Every run-file schema version ever written must keep loading (tests/golden/)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perflab.errors import UsageError
from perflab.stats import LatencyHistogram
from perflab.store import find_run, load_run, read_generator, read_intervals

GOLDEN = Path(__file__).resolve().parents[2] / "golden"


def test_run_v1_loads_and_its_intervals_add_up() -> None:
    run_dir = GOLDEN / "run-v1"
    doc = load_run(run_dir)
    assert doc["schema"] == "perflab.run/1"
    rows = read_intervals(run_dir)
    assert sum(r["requests"] for r in rows) == doc["totals"]["requests"]
    for name, summary in doc["by_name"].items():
        mine = [r for r in rows if r["name"] == name]
        hist = LatencyHistogram.merged(LatencyHistogram.from_bytes(r["latency_hist"]) for r in mine)
        transport = sum(
            n for k, n in summary["errors_by_kind"].items() if not k.startswith("http_")
        )
        assert hist.count == summary["requests"] - transport  # every HTTP response, any status
        assert hist.max / 1000 == pytest.approx(summary["latency_ms"]["max"])
        assert sum(sum(r["errors_by_kind"].values()) for r in mine) == summary["errors"]
    assert len(read_generator(run_dir)) == len({r["second"] for r in rows})
    assert find_run(str(run_dir)) == run_dir


def test_unknown_schema_and_bad_json_are_usage_errors(tmp_path: Path) -> None:
    (tmp_path / "run.json").write_text(json.dumps({"schema": "perflab.run/99"}))
    with pytest.raises(UsageError, match="unknown schema"):
        load_run(tmp_path)
    (tmp_path / "run.json").write_text("{not json")
    with pytest.raises(UsageError, match="not valid JSON"):
        load_run(tmp_path)


def test_torn_journal_line_is_skipped(tmp_path: Path) -> None:
    from perflab.store.journal import Journal

    journal = Journal(tmp_path / "intervals.journal")
    journal.append([{"second": 0, "name": "a", "requests": 3, "latency_hist": b"\x00\x01"}])
    journal.close()
    with (tmp_path / "intervals.journal").open("ab") as fh:
        fh.write(b'{"second": 1, "name": "a", "requ')  # a crash mid-write
    rows = read_intervals(tmp_path)
    assert rows == [{"second": 0, "name": "a", "requests": 3, "latency_hist": b"\x00\x01"}]
