"""run.json while a run goes on (compact, rewritten each second) and at its end (indented)."""

from __future__ import annotations

import json
from pathlib import Path

from perflab.store import RunWriter
from perflab.store.atomic import write_json_atomic


def test_run_json_is_compact_during_the_run_and_indented_at_the_end(tmp_path: Path) -> None:
    writer = RunWriter(tmp_path)
    doc = {"schema": "perflab.run/1", "status": "running", "totals": {"requests": 3}}
    writer.begin(doc)
    during = (tmp_path / "run.json").read_text()
    assert during.count("\n") == 1 and json.loads(during) == doc
    writer.interval(0, [], {"second": 0})
    final = {**doc, "status": "passed"}
    writer.end(final)
    after = (tmp_path / "run.json").read_text()
    assert after.count("\n") > 3 and json.loads(after) == final
    assert writer.last_doc == final
    assert not list(tmp_path.glob(".run.json.*"))  # no temp file left behind


def test_compact_and_indented_json_hold_the_same_document(tmp_path: Path) -> None:
    doc = {"a": [1, 2.5, None], "b": {"c": "ü", "d": True}}
    write_json_atomic(tmp_path / "x.json", doc, indent=None)
    write_json_atomic(tmp_path / "y.json", doc)
    x, y = (tmp_path / "x.json").read_text(), (tmp_path / "y.json").read_text()
    assert json.loads(x) == json.loads(y) == doc and len(x) < len(y)
