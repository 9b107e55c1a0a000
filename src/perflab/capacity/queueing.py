"""M/M/c (Erlang C): waiting probability, waits and response-time percentiles, sizing.

Model: Poisson arrivals at rate λ, ``c`` identical servers, exponential service with mean
``s`` (rate μ = 1/s), one FIFO queue without limit. Offered load A = λ·s Erlangs;
utilization rho = A/c; stable only when A < c.

- Erlang B by its recursion B(0) = 1, B(k) = A·B(k-1) / (k + A·B(k-1)), which never forms
  A^c or c! and so stays finite for thousands of servers; then
  C(c, A) = c·B / (c - A·(1 - B)), the probability that an arrival waits.
- The wait of those who wait is exponential with rate θ = cμ - λ, so
  P(Wq > t) = C·e^(-θt), Wq mean = C/θ, and the q-quantile of the wait is
  ln(C/(1-q))/θ when C > 1-q, else 0.
- Response time T = Wq + S. Without waiting T = S ~ Exp(μ); after waiting it is the sum of
  two independent exponentials (θ, μ), a hypoexponential. Exactly:
  P(T > t) = (1-C)·e^(-μt) + C·(θ·e^(-μt) - μ·e^(-θt))/(θ - μ)  (θ ≠ μ), and
  C·e^(-μt)·(1 + μt) in the limit θ = μ. Quantiles are found by root-finding on it.

Pure: numbers in, numbers out; no I/O.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from scipy.optimize import brentq

from perflab.errors import UsageError

PERCENTILES = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99, "p99.9": 0.999}
MAX_SERVERS = 1_000_000


def erlang_b(servers: int, load: float) -> float:
    """Blocking probability of an M/M/c/c loss system (Erlang B), by the stable recursion."""
    b = 1.0
    for k in range(1, servers + 1):
        b = load * b / (k + load * b)
    return b


def erlang_c(servers: int, load: float) -> float:
    """Probability that an arrival waits (Erlang C); 1.0 when the queue is unstable (A ≥ c)."""
    if load <= 0:
        return 0.0
    if load >= servers:
        return 1.0
    b = erlang_b(servers, load)
    return servers * b / (servers - load * (1.0 - b))


@dataclass(frozen=True)
class MMc:
    """An M/M/c queue: ``arrival_rate`` per second, ``service_time`` mean seconds."""

    arrival_rate: float
    service_time: float
    servers: int

    @property
    def load(self) -> float:
        """Offered load A = λ·s in Erlangs (the mean number of busy servers)."""
        return self.arrival_rate * self.service_time

    @property
    def utilization(self) -> float:
        return self.load / self.servers

    @property
    def stable(self) -> bool:
        return self.load < self.servers

    @property
    def prob_wait(self) -> float:
        return erlang_c(self.servers, self.load)

    @property
    def _theta(self) -> float:
        """Rate of the conditional wait, cμ - λ (positive when stable)."""
        return self.servers / self.service_time - self.arrival_rate

    @property
    def mean_wait(self) -> float:
        """Mean time in the queue, C/(cμ - λ); infinite when unstable."""
        return self.prob_wait / self._theta if self.stable else math.inf

    @property
    def mean_response(self) -> float:
        return self.mean_wait + self.service_time

    def wait_exceeds(self, t: float) -> float:
        """P(Wq > t) = C·e^(-(cμ-λ)t)."""
        if not self.stable:
            return 1.0
        return self.prob_wait * math.exp(-self._theta * t)

    def wait_quantile(self, q: float) -> float:
        """The q-quantile of the time in the queue (0 when fewer than 1-q of arrivals wait)."""
        if not self.stable:
            return math.inf
        c = self.prob_wait
        return math.log(c / (1.0 - q)) / self._theta if c > 1.0 - q else 0.0

    def response_exceeds(self, t: float) -> float:
        """P(T > t) for T = wait + service, exactly (hypoexponential mixture)."""
        if not self.stable:
            return 1.0
        mu, theta, c = 1.0 / self.service_time, self._theta, self.prob_wait
        no_wait = (1.0 - c) * math.exp(-mu * t)
        if abs(theta - mu) <= 1e-9 * mu:
            return no_wait + c * math.exp(-mu * t) * (1.0 + mu * t)
        both = (theta * math.exp(-mu * t) - mu * math.exp(-theta * t)) / (theta - mu)
        return no_wait + c * both

    def response_quantile(self, q: float) -> float:
        """The q-quantile of the response time (wait + service)."""
        if not self.stable:
            return math.inf
        tail = 1.0 - q
        hi = self.service_time * -math.log(tail) + self.wait_quantile(q) + self.service_time
        while self.response_exceeds(hi) > tail:
            hi *= 2.0
        return float(brentq(lambda t: self.response_exceeds(t) - tail, 0.0, hi, xtol=1e-12))


@dataclass(frozen=True)
class Target:
    """A service goal: ``kind`` is ``response``, ``wait`` or ``pwait``.

    ``quantile`` is None for a mean; ``value`` is seconds (response, wait) or a probability.
    """

    source: str
    kind: str
    quantile: float | None
    value: float

    def met(self, queue: MMc) -> bool:
        if not queue.stable:
            return False
        if self.kind == "pwait":
            return queue.prob_wait <= self.value
        return self.observed(queue) <= self.value

    def observed(self, queue: MMc) -> float:
        """The queue's figure this target bounds (seconds, or the probability of waiting)."""
        if self.kind == "pwait":
            return queue.prob_wait
        if self.kind == "wait":
            q = self.quantile
            return queue.mean_wait if q is None else queue.wait_quantile(q)
        q = self.quantile
        return queue.mean_response if q is None else queue.response_quantile(q)


_TARGET = re.compile(
    r"^\s*(wait[ _:]?)?\s*(p50|p90|p95|p99\.9|p99|mean|pwait|p\(wait\))\s*(<=|<)\s*"
    r"([0-9]*\.?[0-9]+)\s*(us|µs|ms|s|%)?\s*$",
    re.IGNORECASE,
)
_SECONDS = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0}


def parse_target(text: str) -> Target:
    """``p99<200ms`` (response time), ``wait p99<50ms``, ``mean<80ms``, ``pwait<20%``."""
    match = _TARGET.match(text)
    bad = (
        f"bad target {text!r}: expected e.g. 'p99<200ms' (response time), 'wait p99<50ms', "
        "'mean<80ms' or 'pwait<20%' (probability of waiting)"
    )
    if not match:
        raise UsageError(bad)
    wait, metric, _op, number, unit = match.groups()
    metric, value = metric.lower(), float(number)
    if metric in ("pwait", "p(wait)"):
        if wait or unit not in (None, "%"):
            raise UsageError(bad)
        value = value / 100.0 if unit == "%" else value
        if not 0.0 < value < 1.0:
            raise UsageError(f"bad target {text!r}: the probability must lie in (0, 1)")
        return Target(text, "pwait", None, value)
    if unit in (None, "%"):
        raise UsageError(f"bad target {text!r}: give the time with a unit (us, ms, s)")
    seconds = value * _SECONDS[unit.lower() if unit != "µs" else unit]
    if seconds <= 0:
        raise UsageError(f"bad target {text!r}: the time must be positive")
    quantile = None if metric == "mean" else PERCENTILES[metric]
    return Target(text, "wait" if wait else "response", quantile, seconds)


def servers_needed(
    arrival_rate: float, service_time: float, target: Target, max_servers: int = MAX_SERVERS
) -> int | None:
    """The smallest ``c`` whose M/M/c queue meets ``target``; None when no ``c`` can.

    A response-time target below what service alone takes (its own quantile) is out of reach
    for any number of servers. Every figure falls as ``c`` grows, so a doubling search then a
    bisection finds the smallest ``c``.
    """
    if arrival_rate <= 0 or service_time <= 0:
        raise ValueError("arrival rate and service time must be positive")
    if target.kind == "response":
        floor = service_time * (1.0 if target.quantile is None else -math.log(1 - target.quantile))
        if floor > target.value:
            return None
    lo = max(1, math.floor(arrival_rate * service_time))
    if target.met(MMc(arrival_rate, service_time, lo)):
        return lo
    hi = lo + 1
    while not target.met(MMc(arrival_rate, service_time, hi)):
        if hi >= max_servers:
            return None
        lo, hi = hi, min(max_servers, hi * 2)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if target.met(MMc(arrival_rate, service_time, mid)):
            hi = mid
        else:
            lo = mid
    return hi


def max_arrival_rate(servers: int, service_time: float, target: Target) -> float | None:
    """The largest arrival rate ``servers`` can take while meeting ``target`` (None: none).

    Found by bisection on λ in (0, c/s): every figure grows with λ.
    """
    if not target.met(MMc(1e-12 / service_time, service_time, servers)):
        return None
    lo, hi = 0.0, servers / service_time
    for _ in range(100):
        mid = (lo + hi) / 2
        if target.met(MMc(mid, service_time, servers)):
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-9 * hi:
            break
    return lo
