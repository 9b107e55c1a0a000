"""Little's law as a measurement check: requests in flight L against throughput x latency.

L = λ·W holds for any stable system over a long enough window, so a stored run whose mean
in-flight count disagrees with ``rps x mean latency`` measured something else than it thinks:
time spent in the generator outside the timed request (script code, think time, a saturated
event loop), dropped or unfinished requests, or too short a run.

L comes from the generator's per-second in-flight samples (``generator`` rows of the run; the
sample taken after the run ended is left out). The samples are snapshots, so the check allows
for their noise: a disagreement is flagged only when it exceeds both ``tolerance`` (relative)
and three standard errors of a Poisson count averaged over the samples.

Pure: a run document and its generator rows in, a :class:`LittleCheck` out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

TOLERANCE = 0.15
_Z = 3.0


@dataclass(frozen=True)
class LittleCheck:
    """One run's check; ``measured_inflight`` is None when the run has no samples."""

    run_id: str
    name: str
    throughput_rps: float
    mean_latency_ms: float
    expected_inflight: float
    measured_inflight: float | None
    samples: int
    disagreement: float | None
    flagged: bool
    reason: str

    def to_json(self) -> dict[str, Any]:
        def num(x: float | None) -> float | None:
            return None if x is None or not math.isfinite(x) else round(x, 6)

        return {
            "run": self.run_id,
            "name": self.name,
            "throughput_rps": num(self.throughput_rps),
            "mean_latency_ms": num(self.mean_latency_ms),
            "expected_inflight": num(self.expected_inflight),
            "measured_inflight": num(self.measured_inflight),
            "samples": self.samples,
            "disagreement": num(self.disagreement),
            "flagged": self.flagged,
            "reason": self.reason,
        }


def inflight_samples(doc: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> list[float]:
    """In-flight counts sampled while the run was active (second s is sampled at s + 1)."""
    duration = float(doc.get("duration_s") or 0.0)
    return [
        float(r["inflight"])
        for r in rows
        if r.get("inflight") is not None and int(r.get("second", 0)) + 1 <= duration + 0.05
    ]


def _reason(expected: float, measured: float, doc: Mapping[str, Any]) -> str:
    if measured > expected:
        why = (
            f"{measured:.2f} in flight but rps x latency gives {expected:.2f}: time passes in "
            "the generator outside the timed requests (script code, think time, a busy event "
            "loop) or several requests run per iteration"
        )
    else:
        why = (
            f"{measured:.2f} in flight but rps x latency gives {expected:.2f}: latency counts "
            "time not spent in flight (queued in the generator before sending) or requests "
            "were dropped or left unfinished"
        )
    generator = doc.get("generator") or {}
    if generator.get("saturated"):
        why += "; the generator reports saturation, so it was likely the bottleneck"
    return why


def check_run(
    doc: Mapping[str, Any],
    rows: Sequence[Mapping[str, Any]],
    tolerance: float = TOLERANCE,
) -> LittleCheck:
    """Compare the run's mean in-flight count with throughput x mean (corrected) latency."""
    totals = doc.get("totals") or {}
    rps = float(totals.get("rps") or 0.0)
    latency_ms = float((totals.get("latency_ms") or {}).get("mean") or 0.0)
    expected = rps * latency_ms / 1e3
    run_id, name = str(doc.get("id", "")), str(doc.get("name", ""))
    samples = inflight_samples(doc, rows)
    if not samples:
        return LittleCheck(
            run_id, name, rps, latency_ms, expected, None, 0, None, False,
            "no in-flight samples in the run's generator rows: cannot check",
        )  # fmt: skip
    measured = sum(samples) / len(samples)
    diff = abs(measured - expected)
    disagreement = diff / max(measured, expected) if max(measured, expected) > 0 else 0.0
    allowance = max(tolerance * max(measured, expected), _Z * math.sqrt(expected / len(samples)))
    flagged = diff > allowance
    if flagged:
        reason = _reason(expected, measured, doc)
    else:
        reason = f"L = {measured:.2f} agrees with λW = {expected:.2f}"
    return LittleCheck(
        run_id,
        name,
        rps,
        latency_ms,
        expected,
        measured,
        len(samples),
        disagreement,
        flagged,
        reason,
    )
