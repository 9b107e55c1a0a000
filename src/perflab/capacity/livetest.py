"""``perflab capacity test`` as a Python API: concurrency steps, a USL fit, the SLO search.

Phase 1 steps the closed-model concurrency, holding each step until its throughput is
steady, and fits the USL to (concurrency, throughput). Phase 2 (with an SLO) searches the
open-model arrival rate for the breaking point, starting from half the best step
throughput. Both phases share one time budget; every step and probe is a stored run.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from perflab.capacity.probe import ProbeResult, ProbeRunner
from perflab.capacity.search import (
    SearchPlan,
    SearchResult,
    Slo,
    Verdict,
    confidence_statement,
    judge,
    search,
)
from perflab.capacity.steady import SteadyRule
from perflab.errors import PerflabError, RunInterrupted

OVERHEAD_S = 2.0  # starting workers and draining a probe, on top of its load time
TAIL_SAMPLES = 10  # a probe should see this many requests beyond the SLO's percentile


@dataclass(frozen=True, slots=True)
class LiveTestPlan:
    levels: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    rule: SteadyRule = field(default_factory=SteadyRule)
    slo: Slo | None = None
    probe_time_s: float = 10.0
    max_probe_time_s: float = 60.0
    start_rate: float | None = None
    max_rate: float = 10_000.0
    tolerance: float = 0.05
    max_time_s: float = 600.0


@dataclass(slots=True)
class LiveTestResult:
    plan: LiveTestPlan
    steps: list[ProbeResult] = field(default_factory=list)
    probes: list[ProbeResult] = field(default_factory=list)
    usl: dict[str, Any] | None = None
    usl_error: str | None = None
    knee_concurrency: float | None = None
    search: SearchResult | None = None
    notes: list[str] = field(default_factory=list)
    interrupted: bool = False

    @property
    def slo_unmet(self) -> bool:
        """The SLO was not met at any probed rate (exit 1)."""
        return (
            self.search is not None
            and bool(self.search.verdicts)
            and (self.search.max_rate is None)
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "steps": [r.row() for r in [*self.steps, *self.probes]],
            "usl": self.usl,
            "knee_concurrency": _round(self.knee_concurrency),
            "runs": [r.run_id for r in [*self.steps, *self.probes]],
            "notes": list(self.notes),
            "interrupted": self.interrupted,
        }
        if self.usl_error is not None:
            out["usl_error"] = self.usl_error
        if self.plan.slo is not None:
            found = self.search
            out["slo"] = self.plan.slo.source
            out["max_error_rate"] = self.plan.slo.max_error_rate
            out["max_rate"] = _round(found.max_rate) if found else None
            out["first_failing_rate"] = _round(found.first_fail) if found else None
            out["converged"] = bool(found and found.converged)
            out["stop_reason"] = found.stop_reason if found else "not started"
            out["confidence"] = confidence_statement(found) if found else None
            verdicts = found.verdicts if found else []
            for row, verdict in zip(out["steps"][len(self.steps) :], verdicts, strict=False):
                row["slo_passed"] = verdict.passed
                row["slo_robust"] = verdict.robust
                row["checks"] = [c.to_json() for c in verdict.checks]
        return out


def _round(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, 3)


Report = Callable[[str, ProbeResult | None], None]


def run_live_test(
    runner: ProbeRunner,
    plan: LiveTestPlan,
    *,
    report: Report | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> LiveTestResult:
    """Run both phases within ``plan.max_time_s``; an interrupt keeps what was measured."""
    say: Report = report or (lambda _text, _result: None)
    result = LiveTestResult(plan)
    deadline = clock() + plan.max_time_s
    try:
        _run_steps(runner, plan, result, say, lambda: deadline - clock())
        _fit(result)
        if plan.slo is not None:
            _run_search(runner, plan, plan.slo, result, say, lambda: deadline - clock())
    except RunInterrupted:
        result.interrupted = True
        known = {id(r) for r in [*result.steps, *result.probes]}
        for extra in runner.results:  # the probe that was running when Ctrl-C came
            if id(extra) not in known:
                (result.steps if extra.steadiness is not None else result.probes).append(extra)
    return result


def _run_steps(
    runner: ProbeRunner,
    plan: LiveTestPlan,
    result: LiveTestResult,
    say: Report,
    left: Callable[[], float],
) -> None:
    best = 0.0
    below = 0
    for vus in plan.levels:
        budget = int(left() - OVERHEAD_S)
        if budget < plan.rule.min_hold_s:
            result.notes.append(f"time budget spent: steps from {vus} VUs on were not run")
            return
        rule = replace(plan.rule, max_hold_s=min(plan.rule.max_hold_s, budget))
        say(f"step {vus} VUs: holding until steady ({rule.min_hold_s}-{rule.max_hold_s} s)", None)
        step = runner.step(vus, rule)
        result.steps.append(step)
        say("", step)
        best = max(best, step.throughput)
        below = below + 1 if step.throughput < 0.8 * best else 0
        if below >= 2:
            result.notes.append(
                f"throughput fell below 80% of its best ({best:.4g}/s) twice: past the "
                f"breaking point, steps above {vus} VUs skipped"
            )
            return


def _fit(result: LiveTestResult) -> None:
    points = [(s.load.level, s.throughput) for s in result.steps if s.throughput > 0]
    if len(points) < 3:
        result.usl_error = f"the USL needs at least 3 steps with throughput ({len(points)} ran)"
        return
    from perflab.capacity.usl import fit_usl  # scipy: loaded when a fit runs, not at start-up

    try:
        fit = fit_usl([n for n, _ in points], [x for _, x in points])
    except (PerflabError, ValueError, ArithmeticError) as exc:
        result.usl_error = f"USL fit failed: {exc}"
        return
    result.usl = fit.to_json()
    if fit.lambda_ > 0 and math.isfinite(fit.peak_throughput):
        # Where linear scaling at the single-user rate would reach the peak: the knee of
        # the throughput curve (operational analysis' N* for a saturating resource).
        result.knee_concurrency = fit.peak_throughput / fit.lambda_


def _run_search(
    runner: ProbeRunner,
    plan: LiveTestPlan,
    slo: Slo,
    result: LiveTestResult,
    say: Report,
    left: Callable[[], float],
) -> None:
    best = max((s.throughput for s in result.steps), default=0.0)
    start = plan.start_rate or (best / 2.0 if best > 0 else 10.0)
    start = min(max(start, 1.0), plan.max_rate)
    search_plan = SearchPlan(
        start_rate=start,
        min_rate=min(1.0, start),
        max_rate=plan.max_rate,
        tolerance=plan.tolerance,
    )
    q = slo.tail_quantile

    def duration(rate: float) -> float:
        wanted = plan.probe_time_s
        if q is not None and q < 1.0:
            wanted = max(wanted, min(plan.max_probe_time_s, TAIL_SAMPLES / ((1 - q) * rate)))
        return max(1.0, min(wanted, left() - OVERHEAD_S))

    def probe(rate: float) -> Verdict:
        d = duration(rate)
        say(f"probe {rate:.4g}/s for {d:g} s (SLO {slo.source})", None)
        r = runner.probe(rate, d)
        result.probes.append(r)
        checks = judge(slo, r.latency, r.requests, r.errors, r.dropped)
        verdict = Verdict(rate, tuple(checks), r.generator_saturated, r.run_id)
        say("pass" if verdict.passed else "FAIL", r)
        return verdict

    result.search = SearchResult()  # filled as probes end: an interrupt keeps them
    search(
        search_plan,
        probe,
        can_probe=lambda: left() - OVERHEAD_S >= min(plan.probe_time_s, 1.0) + 1.0,
        into=result.search,
    )
