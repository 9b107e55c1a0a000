"""CPU the hypervisor took from this machine while something was measured ("steal").

On a virtual machine the host may run other guests on our physical CPUs; while it does, our
vCPU is simply not running. To whatever is being timed that looks like a pause of any length
at any moment: a load generator's requests start late and its latency percentiles grow, a
benchmark's values scatter, for reasons neither perflab nor the code under test caused. The
kernel counts this time per CPU in ``/proc/stat`` (the 8th field, in USER_HZ ticks), so the
load coordinator samples it once a second over its workers' cores and ``perflab bench``
around each benchmark, and both say how much of the CPU the host took. Elsewhere (no
``/proc/stat``, or a kernel without the field) nothing is claimed. Pure apart from reading
that file, so every part of perflab may use it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

PROC_STAT = Path("/proc/stat")
_FIELDS = 8  # user nice system idle iowait irq softirq steal (guest time is inside user)


@dataclass(frozen=True, slots=True)
class CpuTicks:
    steal: int
    total: int

    def __sub__(self, other: CpuTicks) -> CpuTicks:
        return CpuTicks(self.steal - other.steal, self.total - other.total)


def parse_proc_stat(text: str, cores: Collection[int] | None = None) -> CpuTicks | None:
    """Steal and total ticks summed over ``cores`` (every core when None).

    None when the text has no per-core lines with a steal field for those cores, so callers
    can tell "not measured" from "no steal".
    """
    steal = total = 0
    found = False
    for line in text.splitlines():
        if not line.startswith("cpu") or line.startswith("cpu "):
            continue
        name, *values = line.split()
        if len(values) < _FIELDS or not name[3:].isdigit():
            continue
        if cores is not None and int(name[3:]) not in cores:
            continue
        ticks = [int(v) for v in values[:_FIELDS]]
        steal += ticks[7]
        total += sum(ticks)
        found = True
    return CpuTicks(steal, total) if found else None


def read_ticks(cores: Collection[int] | None = None) -> CpuTicks | None:
    try:
        text = PROC_STAT.read_text()
    except OSError:
        return None
    return parse_proc_stat(text, cores)


def worker_cores() -> set[int] | None:
    """The cores this process (and the processes it starts, which inherit it) may run on."""
    getter = getattr(os, "sched_getaffinity", None)
    if getter is None:
        return None
    try:
        return set(getter(0))
    except OSError:
        return None


class StealMeter:
    """Steal as a share of the watched cores' time between consecutive samples."""

    def __init__(
        self,
        cores: Collection[int] | None = None,
        reader: Callable[[Collection[int] | None], CpuTicks | None] = read_ticks,
    ) -> None:
        self._cores = cores
        self._reader = reader
        self._last = reader(cores)

    @property
    def available(self) -> bool:
        return self._last is not None

    def sample(self) -> CpuTicks | None:
        """Ticks since the previous sample; None when not measurable or no tick has passed."""
        if self._last is None:
            return None
        now = self._reader(self._cores)
        if now is None:
            return None
        delta = now - self._last
        if delta.total <= 0:
            return None  # same tick: keep the reference point, the next sample covers it
        self._last = now
        return delta


STEAL_WARN_PCT = 0.5
"""From this share of the watched time a pause the host imposed can set a p99 by itself:
steal comes in pauses (one tick is 10 ms), and a 10 ms pause is 1 % of a second."""


def steal_pct(ticks: CpuTicks | None) -> float | None:
    """Steal as a percentage of the ticks' total time, rounded; None when not measured."""
    if ticks is None or ticks.total <= 0:
        return None
    return round(100.0 * ticks.steal / ticks.total, 2)
