"""Exact merging of worker intervals into run totals, and the summaries run.json carries.

Histograms merge by adding bucket counts, so the merged percentiles are exactly those of one
histogram fed every request; nothing is averaged. Only the coordinator mutates these objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from perflab.load.recorder import PHASES, hist_from_state
from perflab.stats import LatencyHistogram

PERCENTILES = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0, "p99.9": 99.9}


def latency_block(hist: LatencyHistogram, *, scale: float = 1e-3) -> dict[str, float]:
    """``{min mean p50 p90 p95 p99 p99.9 max}`` from a µs histogram, scaled (default to ms)."""
    if hist.count == 0:
        return {k: 0.0 for k in ("min", "mean", *PERCENTILES, "max")}
    values = hist.percentiles(list(PERCENTILES.values()))
    block = {"min": hist.min * scale, "mean": hist.mean * scale}
    block.update({k: float(v) * scale for k, v in zip(PERCENTILES, values, strict=True)})
    block["max"] = hist.max * scale
    return {k: round(v, 6) for k, v in block.items()}


class NameTotals:
    """Everything known about one request name (or, merged, about all of them)."""

    def __init__(self) -> None:
        self.latency = LatencyHistogram()
        self.service = LatencyHistogram()
        self.wait = LatencyHistogram()
        self.requests = 0
        self.ok = 0
        self.dropped = 0
        self.bytes_in = 0
        self.new_connections = 0
        self.errors: dict[str, int] = {}
        self.phase_us = dict.fromkeys(PHASES, 0)

    def add_payload(self, p: Mapping[str, Any]) -> None:
        self.latency.merge(hist_from_state(p["latency"]))
        self.service.merge(hist_from_state(p["service"]))
        self.wait.merge(hist_from_state(p["wait"]))
        self._add_counts(p)

    def add(self, other: NameTotals) -> None:
        self.latency.merge(other.latency)
        self.service.merge(other.service)
        self.wait.merge(other.wait)
        self._add_counts(
            {
                "requests": other.requests,
                "ok": other.ok,
                "dropped": other.dropped,
                "bytes_in": other.bytes_in,
                "new_connections": other.new_connections,
                "errors": other.errors,
                "phase_us": other.phase_us,
            }
        )

    def _add_counts(self, p: Mapping[str, Any]) -> None:
        self.requests += p["requests"]
        self.ok += p["ok"]
        self.dropped += p["dropped"]
        self.bytes_in += p["bytes_in"]
        self.new_connections += p["new_connections"]
        for kind, n in p["errors"].items():
            self.errors[kind] = self.errors.get(kind, 0) + n
        for phase, us in p["phase_us"].items():
            self.phase_us[phase] += us

    @property
    def errors_total(self) -> int:
        return sum(self.errors.values())

    def summary(self, elapsed_s: float) -> dict[str, Any]:
        responses = self.service.count
        phases = {
            p: round(
                us
                / 1000
                / (self.new_connections or 1 if p in ("connect", "tls") else responses or 1),
                6,
            )
            for p, us in self.phase_us.items()
        }
        return {
            "requests": self.requests,
            "errors": self.errors_total,
            "error_rate": round(self.errors_total / self.requests, 6) if self.requests else 0.0,
            "rps": round(self.requests / elapsed_s, 3) if elapsed_s > 0 else 0.0,
            "dropped": self.dropped,
            "latency_ms": latency_block(self.latency),
            "service_ms": latency_block(self.service),
            "wait_ms": latency_block(self.wait),
            "phases_mean_ms": phases,
            "errors_by_kind": dict(sorted(self.errors.items(), key=lambda kv: -kv[1])),
            "bytes_in": self.bytes_in,
            "new_connections": self.new_connections,
        }


def merged(parts: Iterable[NameTotals]) -> NameTotals:
    total = NameTotals()
    for part in parts:
        total.add(part)
    return total
