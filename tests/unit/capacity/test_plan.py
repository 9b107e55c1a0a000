"""Growth plans and Erlang C sizing results: arithmetic, run-out dates, JSON without NaN."""

from __future__ import annotations

import json
import math

import pytest
from tests.unit.capacity.traffic_data import synthetic

from perflab.capacity.forecast import HOUR, forecast
from perflab.capacity.plan import (
    HOURS_PER_MONTH,
    InstanceCapacity,
    plan_growth,
    queueing_capacity,
    size,
)
from perflab.capacity.queueing import MMc, parse_target
from perflab.capacity.traffic import history_from_points
from perflab.errors import UsageError


def _plan(instances: int | None, per_instance: float = 400.0, **kw: float) -> object:
    times, values = synthetic(weeks=8)
    history = history_from_points(times, list(values), HOUR)
    return plan_growth(
        forecast(history, months=6),
        history,
        InstanceCapacity(per_instance, "given"),
        instances=instances,
        **kw,  # type: ignore[arg-type]
    )


def test_instances_and_cost_per_month() -> None:
    plan = _plan(4, headroom=0.25, price_per_hour=0.5)
    usable = 400.0 * 0.75
    assert len(plan.months) == 6  # type: ignore[attr-defined]
    for m in plan.months:  # type: ignore[attr-defined]
        assert m.instances == math.ceil(m.peak_rps / usable)
        assert m.instances_high >= m.instances
        assert m.monthly_cost == pytest.approx(m.instances * 0.5 * HOURS_PER_MONTH)
    peaks = [m.peak_rps for m in plan.months]  # type: ignore[attr-defined]
    assert peaks == sorted(peaks)  # growing traffic


def test_run_out_date_is_when_the_forecast_crosses_the_fleet() -> None:
    plan = _plan(4, headroom=0.3)
    fleet = 4 * 400.0 * 0.7
    assert plan.runs_out is not None  # type: ignore[attr-defined]
    fc = plan.forecast  # type: ignore[attr-defined]
    before = [v for t, v in zip(fc.times, fc.point, strict=True) if t < plan.runs_out]  # type: ignore[attr-defined]
    assert max(before, default=0.0) <= fleet
    assert plan.runs_out_upper <= plan.runs_out  # type: ignore[attr-defined]


def test_fleet_already_short_and_lasting_fleet() -> None:
    short = _plan(1, headroom=0.3)
    assert short.runs_out == short.history.timestamps[-1]  # type: ignore[attr-defined]
    assert any("already exceeds" in n for n in short.notes)  # type: ignore[attr-defined]
    lasting = _plan(100, headroom=0.3)
    assert lasting.runs_out is None  # type: ignore[attr-defined]
    doc = lasting.to_json()  # type: ignore[attr-defined]
    assert doc["runs_out"] is None and "no --price-per-hour: costs left out" in doc["notes"]
    json.dumps(doc, allow_nan=False)


def test_sizing_result() -> None:
    result = size(500.0, 0.02, parse_target("p99<100ms"), workers_per_instance=4)
    assert result.servers is not None
    q = MMc(500.0, 0.02, result.servers)
    chosen = result.chosen
    assert chosen is not None and chosen.meets_target
    assert chosen.utilization == pytest.approx(10.0 / result.servers)
    assert chosen.p99_wait_s == pytest.approx(q.wait_quantile(0.99))
    assert result.instances == math.ceil(result.servers / 4)
    assert not result.rows[0].meets_target  # the row below the answer misses
    doc = result.to_json()
    json.dumps(doc, allow_nan=False)
    assert doc["servers"] == result.servers and doc["at_servers"]["meets_target"]


def test_sizing_unreachable_has_null_and_a_note() -> None:
    result = size(100.0, 0.02, parse_target("p99<50ms"))
    doc = result.to_json()
    assert doc["servers"] is None and doc["at_servers"] is None
    assert "service alone" in doc["notes"][0]
    json.dumps(doc, allow_nan=False)


def test_queueing_capacity_and_bad_input() -> None:
    cap = queueing_capacity(0.02, parse_target("p99<200ms"), 8)
    assert 0 < cap.rps < 8 / 0.02
    with pytest.raises(UsageError):
        queueing_capacity(0.02, parse_target("p99<50ms"), 8)
    with pytest.raises(UsageError):
        _plan(4, headroom=1.5)
    with pytest.raises(UsageError):
        size(0.0, 0.02, parse_target("p99<1s"))
