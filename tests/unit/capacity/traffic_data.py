"""Seeded synthetic traffic: exponential growth, a weekly (and daily) shape, noise."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np

START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
WEEKDAY = [1.0, 1.05, 1.1, 1.05, 0.95, 0.6, 0.5]


def level(t: datetime, base: float = 400.0, growth_per_week: float = 0.02) -> float:
    weeks = (t - START) / timedelta(days=7)
    daily = 1.0 + 0.5 * math.sin(2 * math.pi * (t.hour - 8) / 24)
    return base * (1 + growth_per_week) ** weeks * WEEKDAY[t.weekday()] * daily


def synthetic(
    weeks: int = 12, hourly: bool = True, noise: float = 0.08, seed: int = 1
) -> tuple[list[datetime], np.ndarray]:
    rng = np.random.default_rng(seed)
    step = timedelta(hours=1) if hourly else timedelta(days=1)
    n = weeks * (168 if hourly else 7)
    times = [START + step * i for i in range(n)]
    truth = np.array([level(t) if hourly else level(t.replace(hour=14)) for t in times])
    return times, truth * np.exp(rng.normal(0, noise, n))


def csv_text(times: list[datetime], values: np.ndarray) -> str:
    rows = "".join(f"{t.isoformat()},{v:.3f}\n" for t, v in zip(times, values, strict=True))
    return "timestamp,rps\n" + rows
