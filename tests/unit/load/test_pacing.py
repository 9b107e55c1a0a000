"""The coordinator's pacing: rests after a budget of work, and glibc's freed-memory setting."""

from __future__ import annotations

import sys

from perflab.load.pacing import Pacer, keep_freed_memory


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.now += s


def test_rests_only_once_the_budget_is_spent() -> None:
    clock = Clock()
    pace = Pacer(0.0003, 0.0001, clock=clock, sleep=clock.sleep)
    pace.begin()
    clock.now += 0.0002
    pace()
    assert clock.slept == []
    clock.now += 0.0002  # 0.4 ms of work since it began
    pace()
    assert clock.slept == [0.0001] and pace.rests == 1
    clock.now += 0.0001  # the budget counts again from the rest
    pace()
    assert pace.rests == 1


def test_begin_forgets_time_spent_waiting_for_work() -> None:
    clock = Clock()
    pace = Pacer(0.0003, 0.0001, clock=clock, sleep=clock.sleep)
    clock.now += 0.2  # blocked in poll(): not work
    pace.begin()
    pace()
    assert pace.rests == 0


def test_rests_are_capped_per_wake_up() -> None:
    clock = Clock()
    pace = Pacer(0.0003, 0.0001, max_rests=2, clock=clock, sleep=clock.sleep)
    pace.begin()
    for _ in range(5):
        clock.now += 0.001
        pace()
    assert pace.rests == 2  # the rest of this round's work runs unpaced
    pace.begin()
    clock.now += 0.001
    pace()
    assert pace.rests == 3


def test_keep_freed_memory_applies_on_glibc() -> None:
    applied = keep_freed_memory()
    if sys.platform.startswith("linux"):
        import platform

        if platform.libc_ver()[0] == "glibc":
            assert applied
