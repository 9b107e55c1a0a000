"""The breaking point: the highest open-model arrival rate that still meets an SLO (pure).

:func:`search` brackets then bisects over a probe function it is given (rate in, verdict
out), so the search is tested on a fake target with a known threshold and the engine is
only a probe. Each verdict carries 95 % confidence intervals (:func:`judge`): a latency
percentile's from the binomial distribution of order statistics over the probe's
histogram, the error rate's from Wilson's score interval. A verdict is *robust* when the
interval lies entirely on its side of the limit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from perflab.errors import UsageError
from perflab.model import Threshold, parse_threshold
from perflab.stats import LatencyHistogram

_Z95 = 1.959963984540054
_PERCENTILES = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0, "p99.9": 99.9}


@dataclass(frozen=True, slots=True)
class Slo:
    """Upper bounds a probe must meet; ``max_error_rate`` always applies (dropped arrivals
    count as errors: the target never served them)."""

    thresholds: tuple[Threshold, ...]
    max_error_rate: float = 0.01

    @property
    def source(self) -> str:
        return ", ".join(t.source for t in self.thresholds)

    @property
    def tail_quantile(self) -> float | None:
        """The highest latency quantile named (sets how long a probe must be to see its tail)."""
        qs = [_PERCENTILES[t.metric] / 100.0 for t in self.thresholds if t.metric in _PERCENTILES]
        return max(qs, default=None)


def parse_slo(texts: Sequence[str], max_error_rate: float = 0.01) -> Slo:
    """``["p99<200ms", "error_rate<0.5%"]`` (commas also separate) as an :class:`Slo`.

    Raises:
        UsageError: not the threshold grammar, a metric without a confidence interval
            (only p50..p99.9 and error_rate), or a lower bound.
    """
    parts = [p.strip() for text in texts for p in text.split(",") if p.strip()]
    if not parts:
        raise UsageError("empty --slo: expected e.g. 'p99<200ms' or 'error_rate<1%'")
    thresholds = []
    for part in parts:
        th = parse_threshold(part)
        if th.metric not in (*_PERCENTILES, "error_rate"):
            raise UsageError(
                f"bad --slo {part!r}: use a latency percentile ({', '.join(_PERCENTILES)}) "
                "or error_rate"
            )
        if th.op not in ("<", "<="):
            raise UsageError(f"bad --slo {part!r}: an SLO is an upper bound (< or <=)")
        if th.scope is not None:
            raise UsageError(f"bad --slo {part!r}: capacity SLOs apply to all requests")
        thresholds.append(th)
    if not 0.0 <= max_error_rate < 1.0:
        raise UsageError("--max-error-rate must lie in [0%, 100%)")
    return Slo(tuple(thresholds), max_error_rate)


@dataclass(frozen=True, slots=True)
class Check:
    """One bound judged on one probe, with the observed value's 95 % interval."""

    name: str
    observed: float
    low: float
    high: float
    limit: float
    passed: bool

    @property
    def robust(self) -> bool:
        return self.high < self.limit if self.passed else self.low >= self.limit

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.name,
            "observed": self.observed,
            "ci95": [self.low, self.high],
            "limit": self.limit,
            "passed": self.passed,
            "robust": self.robust,
        }


def quantile_interval(hist: LatencyHistogram, q: float) -> tuple[float, float, float]:
    """The q-quantile (µs) and a distribution-free 95 % interval: the values at ranks
    ``n q -/+ z sqrt(n q (1 - q))`` (normal approximation of the binomial rank)."""
    n = hist.count
    if n == 0:
        return math.nan, math.nan, math.nan
    half = _Z95 * math.sqrt(n * q * (1.0 - q))
    low_rank = max(1, math.floor(n * q - half))
    high_rank = min(n, math.ceil(n * q + half) + 1)
    values = hist.percentiles([100.0 * q, 100.0 * low_rank / n, 100.0 * high_rank / n])
    return float(values[0]), float(values[1]), float(values[2])


def wilson_interval(failures: int, total: int) -> tuple[float, float]:
    """Wilson's 95 % score interval of a proportion."""
    if total <= 0:
        return 0.0, 1.0
    p = failures / total
    denom = 1.0 + _Z95**2 / total
    centre = (p + _Z95**2 / (2 * total)) / denom
    half = _Z95 * math.sqrt(p * (1 - p) / total + _Z95**2 / (4 * total * total)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def judge(
    slo: Slo, latency: LatencyHistogram, requests: int, errors: int, dropped: int
) -> list[Check]:
    """Every bound of ``slo`` on one probe (latencies in ms); no traffic fails every bound."""
    checks = []
    for th in slo.thresholds:
        if th.metric == "error_rate":
            checks.append(_rate_check(th.source, th.value, th.op, requests, errors, dropped))
            continue
        value, low, high = (v / 1000.0 for v in quantile_interval(latency, _quantile(th)))
        ok = latency.count > 0 and th.holds(value)
        checks.append(Check(th.source, value, low, high, th.value, ok))
    name = f"error_rate<={slo.max_error_rate:.2%}"
    checks.append(_rate_check(name, slo.max_error_rate, "<=", requests, errors, dropped))
    return checks


def _quantile(th: Threshold) -> float:
    return _PERCENTILES[th.metric] / 100.0


def _rate_check(
    name: str, limit: float, op: str, requests: int, errors: int, dropped: int
) -> Check:
    total, failed = requests + dropped, errors + dropped
    rate = failed / total if total else 1.0
    low, high = wilson_interval(failed, total)
    ok = total > 0 and (rate < limit if op == "<" else rate <= limit)
    return Check(name, rate, low, high, limit, ok)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a probe at ``rate`` showed; ``generator_limited``: the load generator, not the
    target, could not keep up, so a failure here says nothing about the target."""

    rate: float
    checks: tuple[Check, ...]
    generator_limited: bool = False
    run_id: str = ""

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def robust(self) -> bool:
        deciding = [c for c in self.checks if not c.passed] or list(self.checks)
        return all(c.robust for c in deciding) if self.passed else any(c.robust for c in deciding)


@dataclass(frozen=True, slots=True)
class SearchPlan:
    start_rate: float
    min_rate: float = 1.0
    max_rate: float = 10_000.0
    tolerance: float = 0.05  # stop when (lowest fail - highest pass) / highest pass <= this
    max_probes: int = 24

    def __post_init__(self) -> None:
        if not 0 < self.min_rate <= self.start_rate <= self.max_rate:
            raise UsageError("need 0 < minimum rate <= start rate <= --max-rate")
        if not 0 < self.tolerance < 1:
            raise UsageError("--tolerance must lie in (0%, 100%)")


@dataclass(slots=True)
class SearchResult:
    verdicts: list[Verdict] = field(default_factory=list)
    max_rate: float | None = None  # the highest rate that met the SLO
    first_fail: float | None = None  # the lowest rate that did not
    stop_reason: str = ""
    converged: bool = False

    def at(self, rate: float | None) -> Verdict | None:
        return next((v for v in reversed(self.verdicts) if v.rate == rate), None)


def search(
    plan: SearchPlan,
    probe: Callable[[float], Verdict],
    *,
    can_probe: Callable[[], bool] = lambda: True,
    into: SearchResult | None = None,
) -> SearchResult:
    """Double from ``start_rate`` until the SLO fails (halve until it holds if it fails at
    once), then bisect the bracket to ``tolerance``. Ends by itself: at most ``max_probes``
    probes, and none once ``can_probe()`` says the time budget is spent. Verdicts go into
    ``into`` as they come, so a caller interrupted mid-search keeps them."""
    result = into if into is not None else SearchResult()
    rate = plan.start_rate
    while True:
        if len(result.verdicts) >= plan.max_probes or not can_probe():
            what = "probe" if len(result.verdicts) >= plan.max_probes else "time"
            result.stop_reason = f"{what} budget spent before the bracket closed"
            return result
        verdict = probe(rate)
        result.verdicts.append(verdict)
        if verdict.passed:
            result.max_rate = max(rate, result.max_rate or 0.0)
        elif verdict.generator_limited:
            result.stop_reason = (
                f"the load generator could not sustain {rate:g}/s; the target's limit "
                "is above what this machine can offer (use more --workers or another machine)"
            )
            return result
        else:
            result.first_fail = min(rate, result.first_fail or math.inf)
        step = _next_rate(plan, result, rate)
        if isinstance(step, str):
            result.stop_reason = step
            result.converged = step.startswith("converged")
            return result
        rate = step


def _next_rate(plan: SearchPlan, result: SearchResult, rate: float) -> float | str:
    lo, hi = result.max_rate, result.first_fail
    if hi is None:
        if rate >= plan.max_rate:
            return f"the SLO still holds at --max-rate {plan.max_rate:g}/s"
        return min(rate * 2.0, plan.max_rate)
    if lo is None:
        if rate <= plan.min_rate:
            return f"the SLO is not met even at {plan.min_rate:g}/s"
        return max(rate / 2.0, plan.min_rate)
    if (hi - lo) / lo <= plan.tolerance:
        return f"converged to {(hi - lo) / lo:.1%} (tolerance {plan.tolerance:.0%})"
    return (lo + hi) / 2.0


def confidence_statement(result: SearchResult) -> str:
    """One paragraph a reader can act on: the bracket and how sure each side of it is."""
    lo, hi = result.at(result.max_rate), result.at(result.first_fail)
    if lo is None:
        return "No probed rate met the SLO. " + result.stop_reason + "."
    parts = [f"The SLO held at {lo.rate:.4g}/s ({_describe(lo)})"]
    if hi is not None:
        parts.append(f" and failed at {hi.rate:.4g}/s ({_describe(hi)})")
        parts.append(
            f", so the breaking point lies in [{lo.rate:.4g}, {hi.rate:.4g}]/s "
            f"(width {(hi.rate - lo.rate) / lo.rate:.1%})"
        )
    text = "".join(parts) + "."
    shaky = [v for v in (lo, hi) if v is not None and not v.robust]
    if shaky:
        rates = ", ".join(f"{v.rate:.4g}/s" for v in shaky)
        text += (
            f" The verdict at {rates} is within noise (its 95% interval straddles the limit):"
            " longer probes (--probe-time) would settle it."
        )
    else:
        text += " Both verdicts are robust: their 95% intervals clear the limit."
    if not result.converged:
        text += " Stopped early: " + result.stop_reason + "."
    return text


def _describe(verdict: Verdict) -> str:
    key = [c for c in verdict.checks if not c.passed] or list(verdict.checks[:1])
    return ", ".join(_fmt_check(c) for c in key)


def _fmt_check(c: Check) -> str:
    if c.name.startswith("error_rate"):
        return f"error rate {c.observed:.2%}, 95% CI {c.low:.2%}-{c.high:.2%}"
    metric = c.name.split("<")[0].strip()
    return f"{metric} {c.observed:.1f} ms, 95% CI {c.low:.1f}-{c.high:.1f} ms"
