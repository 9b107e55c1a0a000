"""Keep the coordinator's once-a-second work from pausing a worker on the same core.

The coordinator merges each second, writes it and updates ``run.json``: 3-6 ms of CPU per
second here. Where it shares a core with a worker (always on a machine with as many workers
as cores, and in a pinned benchmark), the scheduler runs that work in one piece whenever it
preempts the worker, and a 3 ms pause of an open-model worker starts every arrival due in it
late, then the backlog makes the next ones late too: at 20k/s most of the scheduling-lag
p99 came from these few pauses a second. Resting briefly whenever it has held the CPU for a
few hundred microseconds splits the work into pauses the worker absorbs; the coordinator's
own results arrive a few milliseconds later, which nothing waits for.
"""

from __future__ import annotations

import time
from collections.abc import Callable

BUDGET_S = 0.0003  # longest stretch of coordinator work between rests
REST_S = 0.0001  # a real sleep: the worker runs in it (sched_yield alone did not help here)
MAX_RESTS = 32  # per wake-up: behind a busy worker each rest can last a scheduler slice
# (~3 ms), so a second with hundreds of request names would otherwise take the coordinator
# longer than a second; past this many it works on unpaced, as it did before pacing.


class Pacer:
    """Call at points where the work can stop for a moment; it rests when due."""

    __slots__ = (
        "_budget_s",
        "_clock",
        "_left",
        "_max_rests",
        "_rest_s",
        "_since",
        "_sleep",
        "rests",
    )

    def __init__(
        self,
        budget_s: float = BUDGET_S,
        rest_s: float = REST_S,
        *,
        max_rests: int = MAX_RESTS,
        clock: Callable[[], float] = time.perf_counter,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._budget_s = budget_s
        self._rest_s = rest_s
        self._max_rests = max_rests
        self._clock = clock
        self._sleep = sleep
        self._since = clock()
        self._left = max_rests
        self.rests = 0

    def begin(self) -> None:
        """Start counting: the coordinator has just woken up with work to do."""
        self._since = self._clock()
        self._left = self._max_rests

    def __call__(self) -> None:
        if self._left and self._clock() - self._since >= self._budget_s:
            self._sleep(self._rest_s)
            self.rests += 1
            self._left -= 1
            self._since = self._clock()


_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_KEEP_BYTES = 32 << 20  # glibc's ceiling for the mmap threshold on 64-bit


def keep_freed_memory() -> bool:
    """Ask glibc to reuse freed blocks of up to 32 MB instead of returning them to the OS.

    Every second the coordinator builds and drops a dozen 188 kB histogram arrays. By
    default glibc serves blocks that size with a fresh ``mmap`` (or trims the heap under
    them) and the process page-faults its way through each one again: on this VM that was
    a third of the coordinator's per-second CPU (4.9 -> 3.5 ms with this set). The cost is
    up to 64 MB of freed memory kept for reuse. glibc only; elsewhere a no-op (False).
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(
        mallopt(_M_MMAP_THRESHOLD, _KEEP_BYTES) == 1
        and mallopt(_M_TRIM_THRESHOLD, 2 * _KEEP_BYTES) == 1
    )
