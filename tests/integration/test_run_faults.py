"""The engine against a fault-injecting server: every fault counted by kind, the run goes on."""

from __future__ import annotations

from pathlib import Path

import pytest

from perflab import load
from perflab.model import HttpRequest, LoadModel, LoadProfile, RunSpec, Stage
from perflab.store import RunWriter


def _run(url: str, out: Path, *, timeout_s: float = 5.0) -> dict[str, object]:
    spec = RunSpec(
        requests=(HttpRequest(url, name="fault"),),
        load=LoadProfile(LoadModel.OPEN, (Stage(1.0, 20.0),), 20.0),
        workers=1,
        timeout_s=timeout_s,
        graceful_stop_s=2.0,
    )
    return load.run(spec, sink=RunWriter(out))


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/reset", "reset"),
        ("/malformed", "protocol"),
        ("/truncated-chunked", "protocol"),
        ("/wrong-length", "protocol"),
    ],
)
def test_each_fault_is_counted_by_kind(
    faulty_url: str, tmp_path: Path, path: str, kind: str
) -> None:
    doc = _run(f"{faulty_url}{path}", tmp_path)
    totals = doc["totals"]
    assert isinstance(totals, dict)
    assert totals["requests"] == 20
    assert totals["errors_by_kind"] == {kind: 20}
    assert doc["status"] == "passed"  # no thresholds: errors are data, not a crash


def test_stall_past_the_timeout(faulty_url: str, tmp_path: Path) -> None:
    doc = _run(f"{faulty_url}/stall", tmp_path, timeout_s=0.3)
    totals = doc["totals"]
    assert isinstance(totals, dict)
    assert totals["errors_by_kind"] == {"timeout": 20}
    assert totals["latency_ms"]["max"] == 0  # no response, no latency sample


def test_big_bodies_and_close_always(faulty_url: str, tmp_path: Path) -> None:
    big = _run(f"{faulty_url}/big", tmp_path / "big")["totals"]
    assert isinstance(big, dict)
    assert big["errors"] == 0 and big["bytes_in"] >= 20 * 1_000_000
    closing = _run(f"{faulty_url}/close-always", tmp_path / "close")["totals"]
    assert isinstance(closing, dict)
    assert closing["errors"] == 0 and closing["requests"] == 20
    # a fresh connection after every response (the first few use pre-warmed ones)
    assert closing["new_connections"] >= 15
