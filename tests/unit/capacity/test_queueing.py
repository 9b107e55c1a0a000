"""Erlang C against published tables and worked examples, and against a simulation-free
independent computation (the textbook closed form with factorials)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from perflab.capacity.queueing import (
    MMc,
    erlang_b,
    erlang_c,
    max_arrival_rate,
    parse_target,
    servers_needed,
)
from perflab.errors import UsageError


def _closed_form(c: int, a: float) -> float:
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


# Call Centre Helper, "Erlang C Formula - Made Simple With an Worked Example"
# (callcentrehelper.com): 100 calls per 30 minutes, AHT 180 s -> A = 10 Erlangs;
# 11 agents: probability a call waits 68.21 %, average speed of answer 122.8 s;
# the same article's agent table: 12 agents 44.94 %, 13 agents 28.53 %, 14 agents 17.41 %.
@pytest.mark.parametrize(
    ("agents", "published"), [(11, 0.6821), (12, 0.4494), (13, 0.2853), (14, 0.1741)]
)
def test_call_centre_helper_worked_example(agents: int, published: float) -> None:
    q = MMc(arrival_rate=100 / 1800, service_time=180.0, servers=agents)
    assert q.load == pytest.approx(10.0)
    assert q.prob_wait == pytest.approx(published, abs=5e-5)


def test_call_centre_helper_average_speed_of_answer() -> None:
    q = MMc(100 / 1800, 180.0, 11)
    assert q.mean_wait == pytest.approx(122.8, abs=0.05)


# The same example in pyworkforce's own test suite (rodrigo-arenas/pyworkforce,
# pyworkforce/queuing/tests/test_erlang.py, an independent implementation): A = 10 with a
# 0.33-minute answer target; 14 positions -> waiting probability 0.174, service level 0.888,
# occupancy 0.714; 15 positions -> 0.102, 0.941, 0.667 (all rounded to 3 places there).
@pytest.mark.parametrize(
    ("agents", "waiting", "service_level", "occupancy"),
    [(14, 0.174, 0.888, 0.714), (15, 0.102, 0.941, 0.667)],
)
def test_pyworkforce_reference(
    agents: int, waiting: float, service_level: float, occupancy: float
) -> None:
    q = MMc(arrival_rate=100 / 30, service_time=3.0, servers=agents)  # per minute
    assert round(q.prob_wait, 3) == waiting
    assert round(1.0 - q.wait_exceeds(0.33), 3) == service_level
    assert round(q.utilization, 3) == occupancy


# Erlang C table ("Table C", the probability of queueing P_Q for C channels and offered
# traffic A, as reproduced with the TETRA trunking example): C = 8 channels at P_Q = 5 %
# carry A = 3.87 E; C = 10 channels at P_Q = 1 % carry A = 4.08 E. The same example gives the
# probability that a queued call waits longer than one mean holding time T, e^-(C-A):
# 0.016 for C = 8 and 0.0022 for C = 10 (both at A = 3.87).
@pytest.mark.parametrize(("c", "a", "published"), [(8, 3.87, 0.05), (10, 4.08, 0.01)])
def test_erlang_c_table(c: int, a: float, published: float) -> None:
    assert erlang_c(c, a) == pytest.approx(published, abs=5e-4)


@pytest.mark.parametrize(("c", "published"), [(8, 0.016), (10, 0.0022)])
def test_queued_call_waits_beyond_holding_time(c: int, published: float) -> None:
    q = MMc(arrival_rate=3.87, service_time=1.0, servers=c)
    conditional = q.wait_exceeds(1.0) / q.prob_wait
    assert conditional == pytest.approx(published, rel=0.03)


# Mathematics Stack Exchange, "probability of a customer joining a queue via Erlang C":
# 120 customers/hour, 3 minutes each, 10 assistants -> A = 6; "from the Erlang C curve,
# the probability of waiting is about 0.10".
def test_stack_exchange_erlang_c_curve() -> None:
    assert erlang_c(10, 6.0) == pytest.approx(0.10, abs=0.005)


@pytest.mark.parametrize(("c", "a"), [(1, 0.5), (2, 1.5), (5, 2.5), (30, 25.0), (100, 93.7)])
def test_recursion_matches_the_closed_form(c: int, a: float) -> None:
    assert erlang_c(c, a) == pytest.approx(_closed_form(c, a), rel=1e-12)


def test_mm1_reduces_to_rho() -> None:
    q = MMc(arrival_rate=8.0, service_time=0.1, servers=1)
    assert q.prob_wait == pytest.approx(0.8)
    assert q.mean_wait == pytest.approx(0.8 * 0.1 / 0.2)
    # M/M/1 response time is exponential with rate mu - lambda = 2/s.
    assert q.response_quantile(0.99) == pytest.approx(-math.log(0.01) / 2.0, rel=1e-9)


def test_large_systems_stay_finite() -> None:
    assert 0.0 < erlang_c(5000, 4900.0) < 1.0
    assert erlang_b(5000, 4900.0) > 0.0


def test_response_quantile_against_sampling() -> None:
    q = MMc(arrival_rate=40.0, service_time=0.05, servers=3)
    rng = np.random.default_rng(7)
    n = 400_000
    waits = np.where(rng.random(n) < q.prob_wait, rng.exponential(1 / (3 / 0.05 - 40.0), n), 0.0)
    total = waits + rng.exponential(0.05, n)
    assert q.response_quantile(0.99) == pytest.approx(np.quantile(total, 0.99), rel=0.02)
    assert q.wait_quantile(0.99) == pytest.approx(np.quantile(waits, 0.99), rel=0.02)


def test_servers_needed_is_the_smallest_meeting_the_target() -> None:
    target = parse_target("pwait<10%")
    # 30 calls/hour, 5 minutes each (A = 2.5): C(5) = 0.130, C(6) = 0.047.
    assert servers_needed(30 / 3600, 300.0, target) == 6
    latency = parse_target("p99<100ms")
    c = servers_needed(500.0, 0.02, latency)
    assert c is not None
    assert MMc(500.0, 0.02, c).response_quantile(0.99) <= 0.1
    assert (
        MMc(500.0, 0.02, c - 1).response_quantile(0.99) > 0.1 or not MMc(500.0, 0.02, c - 1).stable
    )


def test_unreachable_target() -> None:
    # exponential service of mean 20 ms alone has p99 = 92 ms
    assert servers_needed(100.0, 0.02, parse_target("p99<50ms")) is None


def test_max_arrival_rate_inverts_sizing() -> None:
    target = parse_target("p99<200ms")
    rate = max_arrival_rate(8, 0.02, target)
    assert rate is not None
    assert MMc(rate * 0.999, 0.02, 8).response_quantile(0.99) <= 0.2
    assert MMc(rate * 1.01, 0.02, 8).response_quantile(0.99) > 0.2


@pytest.mark.parametrize(
    ("text", "kind", "quantile", "value"),
    [
        ("p99<200ms", "response", 0.99, 0.2),
        ("wait p95<=50ms", "wait", 0.95, 0.05),
        ("mean<1s", "response", None, 1.0),
        ("pwait<20%", "pwait", None, 0.2),
        ("p99.9<300us", "response", 0.999, 3e-4),
    ],
)
def test_parse_target(text: str, kind: str, quantile: float | None, value: float) -> None:
    t = parse_target(text)
    assert (t.kind, t.quantile) == (kind, quantile)
    assert t.value == pytest.approx(value)


@pytest.mark.parametrize("text", ["p99>200ms", "p99<200", "pwait<150%", "p42<1s", ""])
def test_bad_targets(text: str) -> None:
    with pytest.raises(UsageError):
        parse_target(text)
