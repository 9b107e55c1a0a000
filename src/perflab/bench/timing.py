"""The in-process measurement loop shared by worker processes and the pytest plugin.

A *value* is the mean time of one call over ``loops`` back-to-back calls: calibration picks
``loops`` so that one value lasts at least ``min_time`` (timer resolution and the loop's own
overhead then stay small beside it), warmup values are measured the same way and discarded
(caches, lazy imports, the specializing interpreter settling), and GC activity during the
timed values is recorded so a noisy result can be explained.
"""

from __future__ import annotations

import gc
import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Measurement", "calibrate", "measure", "time_loops"]

Timer = Callable[[], float]
MAX_LOOPS = 2**32


@dataclass
class Measurement:
    """One process's measurement of one benchmark; values in seconds per call."""

    loops: int
    values: list[float] = field(default_factory=list)
    warmups: list[float] = field(default_factory=list)
    gc: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"loops": self.loops, "values": self.values, "warmups": self.warmups, "gc": self.gc}


def time_loops(call: Callable[[], Any], loops: int, timer: Timer = time.perf_counter) -> float:
    """Seconds for ``loops`` calls of ``call`` (``itertools.repeat`` keeps the loop cheap)."""
    it = itertools.repeat(None, loops)
    start = timer()
    for _ in it:
        call()
    return timer() - start


def calibrate(call: Callable[[], Any], min_time: float, timer: Timer = time.perf_counter) -> int:
    """The smallest tried loop count whose total time reaches ``min_time``.

    Grows by the measured shortfall (x2 to x10 a step), so a 1 µs function needs a few steps,
    not twenty doublings.
    """
    loops = 1
    while loops < MAX_LOOPS:
        elapsed = time_loops(call, loops, timer)
        if elapsed >= min_time:
            return loops
        factor = 10.0 if elapsed <= 0 else min(max(min_time / elapsed * 1.2, 2.0), 10.0)
        loops = min(MAX_LOOPS, math.ceil(loops * factor))
    return loops


def _collections() -> int:
    return sum(int(s.get("collections", 0)) for s in gc.get_stats())


def measure(
    call: Callable[[], Any],
    *,
    loops: int,
    values: int,
    warmups: int,
    disable_gc: bool = False,
    timer: Timer = time.perf_counter,
) -> Measurement:
    """Warmups (discarded), then ``values`` timed values of ``loops`` calls each."""
    result = Measurement(loops=loops)
    result.warmups = [time_loops(call, loops, timer) / loops for _ in range(warmups)]
    was_enabled = gc.isenabled()
    before = _collections()
    try:
        for _ in range(values):
            if disable_gc:
                gc.collect()
                gc.disable()
            try:
                result.values.append(time_loops(call, loops, timer) / loops)
            finally:
                if disable_gc and was_enabled:
                    gc.enable()
    finally:
        result.gc = {
            "enabled": was_enabled,
            "disabled_while_timing": disable_gc,
            "collections": _collections() - before,
            "thresholds": list(gc.get_threshold()),
        }
    return result
