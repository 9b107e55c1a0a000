"""Capacity plans: servers for a target (Erlang C), and instances and cost as traffic grows.

Two questions, two results:

- :func:`size` — for an arrival rate and a service time, the fewest servers that meet a
  target (``p99<200ms``, ``pwait<20%``, ...), with utilization, probability of waiting, mean
  and p99 wait around that number.
- :func:`plan_growth` — given a traffic forecast and what one instance carries (stated,
  the peak throughput of a USL fit, or the most an M/M/c instance takes within a latency
  target), less a headroom: when the current fleet runs out, how many instances each month
  ahead needs, and what they cost at ``price_per_hour`` (730 hours a month).

Pure: results are dataclasses; ``to_json()`` never writes NaN or infinity (None instead,
with a note saying why).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from perflab.capacity.forecast import WEEK, Forecast, History
from perflab.capacity.queueing import MMc, Target, max_arrival_rate, servers_needed
from perflab.errors import UsageError

HOURS_PER_MONTH = 730.0
SCHEMA_SIZING = "perflab.capacity.sizing/1"
SCHEMA_GROWTH = "perflab.capacity.plan/1"


def finite(value: float | None, digits: int = 6) -> float | None:
    """``value`` rounded to ``digits`` significant digits; None for None, NaN or infinity."""
    if value is None or not math.isfinite(value):
        return None
    return float(f"{value:.{digits}g}")


@dataclass(frozen=True)
class QueueRow:
    """The M/M/c figures at one number of servers."""

    servers: int
    utilization: float
    prob_wait: float
    mean_wait_s: float
    p99_wait_s: float
    p99_response_s: float
    target_value: float
    meets_target: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "servers": self.servers,
            "utilization": finite(self.utilization),
            "prob_wait": finite(self.prob_wait),
            "mean_wait_ms": finite(self.mean_wait_s * 1e3),
            "p99_wait_ms": finite(self.p99_wait_s * 1e3),
            "p99_response_ms": finite(self.p99_response_s * 1e3),
            "target_observed": finite(self.target_value),
            "meets_target": self.meets_target,
        }


def queue_row(arrival_rate: float, service_time: float, servers: int, target: Target) -> QueueRow:
    q = MMc(arrival_rate, service_time, servers)
    return QueueRow(
        servers,
        q.utilization,
        q.prob_wait,
        q.mean_wait,
        q.wait_quantile(0.99),
        q.response_quantile(0.99),
        target.observed(q),
        target.met(q),
    )


@dataclass(frozen=True)
class Sizing:
    """Servers needed for ``target`` at ``arrival_rate`` (None: no number of servers can)."""

    arrival_rate: float
    service_time: float
    target: Target
    servers: int | None
    rows: list[QueueRow]
    workers_per_instance: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def instances(self) -> int | None:
        if self.servers is None or self.workers_per_instance is None:
            return None
        return math.ceil(self.servers / self.workers_per_instance)

    @property
    def chosen(self) -> QueueRow | None:
        return next((r for r in self.rows if r.servers == self.servers), None)

    def to_json(self) -> dict[str, Any]:
        chosen = self.chosen
        target_unit = "probability" if self.target.kind == "pwait" else "seconds"
        return {
            "schema": SCHEMA_SIZING,
            "model": "M/M/c (Erlang C)",
            "arrival_rate_rps": finite(self.arrival_rate),
            "service_time_ms": finite(self.service_time * 1e3),
            "offered_load_erlangs": finite(self.arrival_rate * self.service_time),
            "target": {
                "text": self.target.source,
                "kind": self.target.kind,
                "quantile": self.target.quantile,
                "value": finite(self.target.value),
                "unit": target_unit,
            },
            "servers": self.servers,
            "workers_per_instance": self.workers_per_instance,
            "instances": self.instances,
            "at_servers": chosen.to_json() if chosen else None,
            "table": [r.to_json() for r in self.rows],
            "notes": self.notes,
        }


def size(
    arrival_rate: float,
    service_time: float,
    target: Target,
    workers_per_instance: int | None = None,
) -> Sizing:
    """Erlang C sizing, with the figures from one server below to three above the answer."""
    if not (math.isfinite(arrival_rate) and arrival_rate > 0):
        raise UsageError(f"bad --rate {arrival_rate:g}: must be a positive number per second")
    if not (math.isfinite(service_time) and service_time > 0):
        raise UsageError("bad --service-time: must be positive, e.g. 20ms")
    servers = servers_needed(arrival_rate, service_time, target)
    notes: list[str] = []
    load = arrival_rate * service_time
    if servers is None:
        notes.append(
            f"no number of servers meets {target.source}: with exponential service of mean "
            f"{service_time * 1e3:g} ms, service alone takes longer at that percentile; a "
            "faster service time or a looser target would help"
        )
        first = max(1, math.floor(load) + 1)
    else:
        first = max(1, servers - 1, math.floor(load) + 1)
    rows = [queue_row(arrival_rate, service_time, c, target) for c in range(first, first + 5)]
    return Sizing(arrival_rate, service_time, target, servers, rows, workers_per_instance, notes)


@dataclass(frozen=True)
class InstanceCapacity:
    """Requests/s one instance carries at its limit, and where that figure comes from."""

    rps: float
    basis: str

    def to_json(self) -> dict[str, Any]:
        return {"rps": finite(self.rps), "basis": self.basis}


def queueing_capacity(service_time: float, target: Target, workers: int) -> InstanceCapacity:
    """The largest rate an instance of ``workers`` M/M/c servers takes within ``target``."""
    rate = max_arrival_rate(workers, service_time, target)
    if rate is None or rate <= 0:
        raise UsageError(
            f"an instance of {workers} worker(s) at {service_time * 1e3:g} ms mean service "
            f"cannot meet {target.source} at any rate",
            hint="loosen --target, or give --workers per instance or --per-instance-rps",
        )
    return InstanceCapacity(
        rate,
        f"Erlang C: the most an instance of {workers} worker(s) at {service_time * 1e3:g} ms "
        f"mean service takes while meeting {target.source}",
    )


@dataclass(frozen=True)
class MonthPlan:
    month: str
    peak_rps: float
    peak_low: float
    peak_high: float
    instances: int
    instances_high: int
    monthly_cost: float | None
    monthly_cost_high: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "peak_rps": finite(self.peak_rps),
            "peak_rps_interval": [finite(self.peak_low), finite(self.peak_high)],
            "instances": self.instances,
            "instances_upper": self.instances_high,
            "monthly_cost": finite(self.monthly_cost, 8),
            "monthly_cost_upper": finite(self.monthly_cost_high, 8),
        }


@dataclass(frozen=True)
class GrowthPlan:
    """When the fleet runs out and what each month ahead needs (see the module doc)."""

    capacity: InstanceCapacity
    headroom: float
    instances: int | None
    recent_peak_rps: float
    runs_out: datetime | None
    runs_out_upper: datetime | None
    months: list[MonthPlan]
    forecast: Forecast
    history: History
    price_per_hour: float | None
    notes: list[str] = field(default_factory=list)

    @property
    def usable_per_instance(self) -> float:
        return self.capacity.rps * (1.0 - self.headroom)

    def to_json(self) -> dict[str, Any]:
        model = self.forecast.model
        validation = self.forecast.validation
        fleet = None if self.instances is None else self.instances * self.usable_per_instance
        return {
            "schema": SCHEMA_GROWTH,
            "history": {
                "source": self.history.source,
                "points": len(self.history.rps),
                "step": "hourly" if self.history.period == 168 else "daily",
                "first": self.history.timestamps[0].isoformat(),
                "last": self.history.timestamps[-1].isoformat(),
                "recent_peak_rps": finite(self.recent_peak_rps),
            },
            "model": {
                "name": "trend + weekly seasonality (least squares)",
                "scale": "log (multiplicative)" if model.log_scale else "linear (additive)",
                "growth_per_month": finite(model.growth_per_month),
                "growth_unit": "fraction" if model.log_scale else "rps",
                "interval": 0.9,
                "held_out": None
                if validation is None
                else {
                    "points": validation.held_out_points,
                    "mape": finite(validation.model_mape),
                    "seasonal_naive_mape": finite(validation.seasonal_naive_mape),
                },
            },
            "capacity": {
                **self.capacity.to_json(),
                "headroom": finite(self.headroom),
                "usable_rps_per_instance": finite(self.usable_per_instance),
                "instances": self.instances,
                "fleet_usable_rps": finite(fleet),
            },
            "runs_out": None if self.runs_out is None else self.runs_out.isoformat(),
            "runs_out_upper": None
            if self.runs_out_upper is None
            else self.runs_out_upper.isoformat(),
            "price_per_hour": finite(self.price_per_hour),
            "hours_per_month": HOURS_PER_MONTH,
            "months": [m.to_json() for m in self.months],
            "notes": [*self.forecast.notes, *self.notes],
        }


def _first_over(times: list[datetime], values: Any, limit: float) -> datetime | None:
    return next((t for t, v in zip(times, values, strict=True) if v > limit), None)


def plan_growth(
    forecast: Forecast,
    history: History,
    capacity: InstanceCapacity,
    *,
    headroom: float = 0.3,
    instances: int | None = None,
    price_per_hour: float | None = None,
) -> GrowthPlan:
    """Instances per month (point and upper bound of the interval), run-out date and cost."""
    if not 0.0 <= headroom < 1.0:
        raise UsageError(f"bad --headroom {headroom:.0%}: must lie in [0%, 100%)")
    if not (math.isfinite(capacity.rps) and capacity.rps > 0):
        raise UsageError("the capacity of an instance must be a positive requests/s figure")
    usable = capacity.rps * (1.0 - headroom)
    cutoff = history.timestamps[-1] - WEEK
    recent = [v for t, v in zip(history.timestamps, history.rps, strict=True) if t > cutoff]
    recent_peak = float(max(recent))
    notes: list[str] = []
    runs_out = runs_out_upper = None
    if instances is not None:
        fleet = instances * usable
        if recent_peak > fleet:
            runs_out = runs_out_upper = history.timestamps[-1]
            notes.append(
                f"the last week's peak ({recent_peak:,.0f} rps) already exceeds the fleet's "
                f"usable {fleet:,.0f} rps ({instances} x {usable:,.0f})"
            )
        else:
            runs_out = _first_over(forecast.times, forecast.point, fleet)
            runs_out_upper = _first_over(forecast.times, forecast.high, fleet)
            if runs_out is None:
                notes.append("the current fleet lasts beyond the forecast horizon")
    months = []
    for m in forecast.months:
        need = max(1, math.ceil(m.peak_rps / usable))
        need_high = max(1, math.ceil(m.peak_high / usable))
        cost = None if price_per_hour is None else need * price_per_hour * HOURS_PER_MONTH
        cost_high = None if price_per_hour is None else need_high * price_per_hour * HOURS_PER_MONTH
        months.append(
            MonthPlan(
                m.month, m.peak_rps, m.peak_low, m.peak_high, need, need_high, cost, cost_high
            )
        )
    if price_per_hour is None:
        notes.append("no --price-per-hour: costs left out")
    return GrowthPlan(
        capacity,
        headroom,
        instances,
        recent_peak,
        runs_out,
        runs_out_upper,
        months,
        forecast,
        history,
        price_per_hour,
        notes,
    )
