"""Little's law on the golden run and on synthetic runs that disagree (a real run: integration)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from perflab.capacity.little import check_run
from perflab.store import load_run, read_generator

ROOT = Path(__file__).resolve().parents[3]
GOLDEN = ROOT / "tests" / "golden" / "run-v1"


def _doc(rps: float, mean_ms: float, duration: float = 10.0, **generator: Any) -> dict[str, Any]:
    return {
        "id": "synthetic",
        "name": "synthetic",
        "duration_s": duration,
        "totals": {"rps": rps, "latency_ms": {"mean": mean_ms}},
        "generator": generator,
    }


def _rows(inflight: list[int]) -> list[dict[str, Any]]:
    return [{"second": i, "inflight": n} for i, n in enumerate(inflight)]


def test_agreeing_run_is_not_flagged() -> None:
    check = check_run(_doc(200.0, 50.0), _rows([10, 9, 11, 10, 10, 10, 9, 11, 10, 10]))
    assert check.expected_inflight == pytest.approx(10.0)
    assert check.measured_inflight == pytest.approx(10.0)
    assert not check.flagged


def test_generator_bottleneck_is_flagged() -> None:
    # 40 in flight but 200 rps x 50 ms = 10: time spent outside the timed requests.
    check = check_run(_doc(200.0, 50.0, saturated=True), _rows([40] * 10))
    assert check.flagged
    assert check.disagreement == pytest.approx(0.75)
    assert "outside the timed requests" in check.reason and "saturation" in check.reason


def test_too_few_in_flight_is_flagged() -> None:
    check = check_run(_doc(1000.0, 100.0), _rows([50] * 10))
    assert check.flagged and "dropped" in check.reason


def test_final_sample_after_the_run_is_ignored() -> None:
    check = check_run(_doc(200.0, 50.0, duration=2.0), _rows([10, 10, 0]))
    assert check.samples == 2 and not check.flagged


def test_light_load_noise_is_allowed_and_no_samples_is_not_flagged() -> None:
    doc = load_run(GOLDEN)
    check = check_run(doc, read_generator(GOLDEN))
    assert check.expected_inflight < 0.2 and not check.flagged
    empty = check_run(_doc(200.0, 50.0), [])
    assert empty.measured_inflight is None and not empty.flagged
    assert empty.to_json()["disagreement"] is None
