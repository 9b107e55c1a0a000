import math

import numpy as np
import pytest

from perflab.load.arrivals import CHUNK, ArrivalSchedule, target_at, vu_share
from perflab.model.units import Stage


def test_constant_rate_is_evenly_spaced() -> None:
    sched = ArrivalSchedule(100.0, (Stage(2.0, 100.0),))
    times = list(sched.share(0, 1))
    assert len(times) == 200 == sched.total
    assert np.allclose(np.diff(times), 10_000_000)  # 10 ms in ns


def test_workers_interleave_into_the_single_schedule() -> None:
    sched = ArrivalSchedule(0.0, (Stage(3.0, 300.0), Stage(2.0, 50.0)))
    alone = list(sched.share(0, 1))
    parts = [list(sched.share(w, 3)) for w in range(3)]
    assert sorted(t for p in parts for t in p) == alone
    assert abs(len(parts[0]) - len(parts[2])) <= 1


def test_linear_ramp_counts_match_the_integral() -> None:
    # ramp 0 -> 1000/s over 10 s: 5000 arrivals, 1250 of them in the first half (quadratic)
    sched = ArrivalSchedule(0.0, (Stage(10.0, 1000.0),))
    t = np.array(list(sched.share(0, 1))) / 1e9
    assert len(t) == 5000
    assert np.sum(t < 5.0) == pytest.approx(1250, abs=2)
    assert np.all(np.diff(t) >= 0)
    # instantaneous rate at 7.5 s is 750/s: count arrivals in [7.4, 7.6)
    assert np.sum((t >= 7.4) & (t < 7.6)) == pytest.approx(150, abs=2)


def test_ramp_down_and_zero_stage() -> None:
    sched = ArrivalSchedule(200.0, (Stage(1.0, 0.0), Stage(1.0, 0.0), Stage(1.0, 100.0)))
    t = np.array(list(sched.share(0, 1))) / 1e9
    assert len(t) == 100 + 50
    assert not np.any((t > 1.0 + 1e-9) & (t < 2.0))  # nothing while the rate is zero


def test_limit_and_target_at() -> None:
    sched = ArrivalSchedule(1000.0, (Stage(5.0, 1000.0),))
    assert len(list(sched.share(0, 2, limit=11))) == 6
    stages = (Stage(10.0, 100.0), Stage(10.0, 100.0))
    assert target_at(0.0, stages, 5.0) == pytest.approx(50.0)
    assert target_at(0.0, stages, 15.0) == pytest.approx(100.0)
    assert target_at(0.0, stages, 99.0) == pytest.approx(100.0)


def test_vu_share_sums_to_total() -> None:
    for total in range(23):
        assert sum(vu_share(total, w, 4) for w in range(4)) == total


def _due_ns_one_by_one(sched: ArrivalSchedule, worker: int, workers: int) -> list[int]:
    """The schedule's definition, one arrival at a time in plain floats: the reference."""
    c0, r0s, r1s = sched._c0.tolist(), sched._r0.tolist(), sched._r1.tolist()
    durs, t0s = sched._dur.tolist(), sched._t0.tolist()
    out, seg = [], 0
    for i in range(worker, sched.total, workers):
        while seg < len(durs) - 1 and i >= c0[seg + 1]:
            seg += 1
        c, r0 = i - c0[seg], r0s[seg]
        a = (r1s[seg] - r0) / (2.0 * durs[seg])
        if a == 0.0:
            local = c / r0 if r0 > 0 else 0.0
        else:
            denom = r0 + math.sqrt(max(r0 * r0 + 4.0 * a * c, 0.0))
            local = 2.0 * c / denom if denom > 0 else 0.0
        out.append(int((t0s[seg] + min(local, durs[seg])) * 1e9))
    return out


def test_chunked_share_matches_the_schedule_one_arrival_at_a_time() -> None:
    stages = (Stage(2.0, 400.0), Stage(1.0, 400.0), Stage(2.0, 10.0), Stage(1.0, 0.0))
    sched = ArrivalSchedule(50.0, stages)
    assert sched.total > 2 * CHUNK  # several chunks, and a chunk boundary inside a stage
    for worker, workers in ((0, 1), (0, 3), (2, 3)):
        got = np.array(list(sched.share(worker, workers)))
        want = np.array(_due_ns_one_by_one(sched, worker, workers))
        assert got.shape == want.shape
        assert np.all(np.abs(got - want) <= 1)
        assert np.all(np.diff(got) >= 0)
    assert len(list(sched.share(1, 2, limit=CHUNK + 3))) == (CHUNK + 3) // 2
