"""The trend + weekly seasonal forecast on seeded synthetic traffic, and its held-out check."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from tests.unit.capacity.traffic_data import level, synthetic

from perflab.capacity.forecast import DAY, HOUR, fit, forecast, validate
from perflab.capacity.traffic import history_from_points


@pytest.mark.parametrize("hourly", [True, False])
def test_forecast_tracks_trend_and_week(hourly: bool) -> None:
    times, values = synthetic(weeks=12, hourly=hourly)
    history = history_from_points(times, list(values), HOUR if hourly else DAY)
    result = forecast(history, months=3)
    assert len(result.months) == 3
    # Growth 2 %/week is about 9 % per 30.44 days.
    assert result.model.growth_per_month == pytest.approx(1.02 ** (30.44 / 7) - 1, abs=0.02)
    # Four weeks ahead, the forecast path stays within 6 % of the noise-free level.
    ahead = [t for t in result.times if t < times[-1] + timedelta(days=28)]
    truth = np.array([level(t) if hourly else level(t.replace(hour=14)) for t in ahead])
    error = np.abs(result.point[: len(ahead)] / truth - 1)
    assert float(np.median(error)) < 0.06
    # The interval covers the noise-free level nearly everywhere.
    inside = (result.low[: len(ahead)] <= truth) & (truth <= result.high[: len(ahead)])
    assert inside.mean() > 0.85
    for m in result.months:
        assert m.peak_low <= m.peak_rps <= m.peak_high


@pytest.mark.parametrize("hourly", [True, False])
def test_held_out_week_beats_seasonal_naive(hourly: bool) -> None:
    times, values = synthetic(weeks=12, hourly=hourly)
    history = history_from_points(times, list(values), HOUR if hourly else DAY)
    check = validate(history)
    assert check is not None
    assert check.model_mape is not None and check.seasonal_naive_mape is not None
    assert check.held_out_points == (168 if hourly else 7)
    assert check.model_mape < check.seasonal_naive_mape
    assert check.model_mape < 0.10


def test_under_three_weeks_has_no_validation() -> None:
    times, values = synthetic(weeks=2)
    history = history_from_points(times, list(values), HOUR)
    assert validate(history) is None
    assert forecast(history, months=1).notes


def test_additive_fallback_with_zeros() -> None:
    times, values = synthetic(weeks=4, hourly=True)
    values[5] = 0.0
    model = fit(history_from_points(times, list(values), HOUR))
    assert not model.log_scale
    assert model.growth_per_month > 0
