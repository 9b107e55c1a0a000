"""Exact merging of worker intervals into run totals, and the summaries run.json carries.

Histograms merge by adding bucket counts, so the merged percentiles are exactly those of one
histogram fed every request; nothing is averaged. Only the coordinator mutates these objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from perflab.load.recorder import PHASES, merge_state
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
        self.checks_ok = 0
        self.checks_failed = 0

    def add_payload(self, p: Mapping[str, Any]) -> None:
        merge_state(self.latency, p["latency"])
        merge_state(self.service, p["service"])
        merge_state(self.wait, p["wait"])
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
                "checks_ok": other.checks_ok,
                "checks_failed": other.checks_failed,
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
        self.checks_ok += p.get("checks_ok", 0)
        self.checks_failed += p.get("checks_failed", 0)

    @property
    def errors_total(self) -> int:
        return sum(self.errors.values())

    def summary(self, elapsed_s: float) -> dict[str, Any]:
        out = self._summary(elapsed_s)
        checked = self.checks_ok + self.checks_failed
        if checked:  # only scripts check; URL-mode summaries stay as they were
            out["checks"] = round(self.checks_ok / checked, 6)
            out["checks_passed"] = self.checks_ok
            out["checks_failed"] = self.checks_failed
        return out

    def _summary(self, elapsed_s: float) -> dict[str, Any]:
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


class GroupTotals:
    """A transaction's (or a scenario's iterations') run totals."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.latency = LatencyHistogram()
        self.count = 0
        self.failed = 0
        self.dropped = 0

    def add(self, other: GroupTotals) -> None:
        self.latency.merge(other.latency)
        self.count += other.count
        self.failed += other.failed
        self.dropped += other.dropped

    def add_payload(self, p: Mapping[str, Any]) -> None:
        merge_state(self.latency, p["latency"])
        self.count += p["count"]
        self.failed += p["failed"]
        self.dropped += p["dropped"]

    def summary(self, elapsed_s: float) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "requests": self.count,  # the name thresholds use for "had traffic"
            "count": self.count,
            "failed": self.failed,
            "error_rate": round(self.failed / self.count, 6) if self.count else 0.0,
            "rps": round(self.count / elapsed_s, 3) if elapsed_s > 0 else 0.0,
            "dropped": self.dropped,
            "latency_ms": latency_block(self.latency),
        }


class ScriptTotals:
    """Checks, transactions, exceptions and notes of a scenario-file run, merged."""

    def __init__(self) -> None:
        self.groups: dict[str, GroupTotals] = {}
        self.checks: dict[str, list[int]] = {}
        self.exceptions: dict[tuple[str, str], int] = {}
        self.tracebacks: dict[tuple[str, str], str] = {}
        self.notes: list[str] = []
        self.stop_reason: str | None = None
        self.new_tracebacks: list[tuple[str, str, str]] = []  # for the live view to show once

    def add_payload(self, p: Mapping[str, Any]) -> dict[str, GroupTotals]:
        """Fold in one worker's second; returns that second's groups (for interval rows)."""
        second: dict[str, GroupTotals] = {}
        for name, g in p["groups"].items():
            second.setdefault(name, GroupTotals(g["kind"])).add_payload(g)
            self.groups.setdefault(name, GroupTotals(g["kind"])).add_payload(g)
        for name, (passes, fails) in p["checks"].items():
            counts = self.checks.setdefault(name, [0, 0])
            counts[0] += passes
            counts[1] += fails
        for where, kind, n in p["exceptions"]:
            self.exceptions[(where, kind)] = self.exceptions.get((where, kind), 0) + n
        for where, kind, text in p["tracebacks"]:
            if (where, kind) not in self.tracebacks:
                self.tracebacks[(where, kind)] = text
                self.new_tracebacks.append((where, kind, text))
        if p.get("stop_reason") and self.stop_reason is None:
            self.stop_reason = p["stop_reason"]
        for note in p["notes"]:
            if note not in self.notes:
                self.notes.append(note)
        return second

    def summary(self, elapsed_s: float) -> dict[str, Any]:
        return {
            "transactions": {n: g.summary(elapsed_s) for n, g in sorted(self.groups.items())},
            "checks": {
                n: {
                    "passes": pf[0],
                    "fails": pf[1],
                    "rate": round(pf[0] / (pf[0] + pf[1]), 6) if pf[0] + pf[1] else 0.0,
                }
                for n, pf in sorted(self.checks.items())
            },
            "exceptions": [
                {"where": w, "type": t, "count": n, "traceback": self.tracebacks.get((w, t), "")}
                for (w, t), n in sorted(self.exceptions.items(), key=lambda kv: -kv[1])
            ],
            "notes": list(self.notes),
        }
