"""The generator checks itself: was the load applied as asked, or was perflab the bottleneck?

Per second it merges the workers' scheduling-lag and event-loop-lag histograms and their CPU
figures. CPU time spent spinning just before a due time (see ``executors``) is work done on
purpose, not saturation, so ``busy`` CPU excludes it. A run is flagged ``saturated`` when a
worker was busy >= 90 % of a core over the run, or the scheduling-lag p99 exceeded 10 ms:
then the latencies may describe the generator rather than the target.

On a virtual machine the host can take CPU from the generator's cores ("steal", see
:mod:`perflab.steal`); that is neither perflab's nor the target's doing, so it is reported
beside saturation, per second and over the run, and called out when it is large enough to
move the tail.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from perflab.load.recorder import merge_state
from perflab.stats import LatencyHistogram
from perflab.steal import STEAL_WARN_PCT, CpuTicks, steal_pct

SATURATED_CPU_PCT = 90.0
SATURATED_LAG_US = 10_000
STEAL_WARN_SECOND_PCT = 2.0  # in any one second; over the run: perflab.steal.STEAL_WARN_PCT


def _us_block(hist: LatencyHistogram) -> dict[str, float]:
    if hist.count == 0:
        return {"count": 0}
    p = hist.percentiles([50.0, 90.0, 99.0, 99.9])
    return {
        "count": hist.count,
        "mean": round(hist.mean, 3),
        "p50": float(p[0]),
        "p90": float(p[1]),
        "p99": float(p[2]),
        "p99.9": float(p[3]),
        "max": float(hist.max),
    }


class GeneratorHealth:
    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.sched_lag = LatencyHistogram()
        self.loop_lag = LatencyHistogram()
        self.wall_s = 0.0
        self.active_s = 0.0  # from the start until load stopped (excludes the final drain)
        self.cpu_s = [0.0] * workers
        self.spin_s = [0.0] * workers
        self.worker_wall_s = [0.0] * workers
        self.socket_errors: dict[str, int] = {}
        self.max_connections = 0
        self.max_inflight = 0
        self.unfinished = 0
        self.precise_timer: bool | None = None
        self.worker_pids: dict[int, int] = {}
        self.steal = CpuTicks(0, 0)  # summed over the seconds that were measured
        self.steal_worst: tuple[float, int] | None = None  # (percent, second)

    def add_second(
        self,
        second: int,
        by_worker: Mapping[int, dict[str, Any]],
        steal: CpuTicks | None = None,
        *,
        pace: Callable[[], None] = lambda: None,
    ) -> dict[str, Any]:
        """Fold in one second from every worker (and the host's steal over about that second,
        None when not measured); returns the row stored for that second. ``pace`` is called
        between the costlier steps (see :mod:`perflab.load.pacing`)."""
        gens = list(by_worker.values())
        sched, loop = LatencyHistogram(), LatencyHistogram()
        for g in gens:
            merge_state(sched, g["sched_lag"])
            merge_state(loop, g["loop_lag"])
        self.sched_lag.merge(sched)
        self.loop_lag.merge(loop)
        pace()
        wall = max((g["wall_s"] for g in gens), default=0.0)
        self.wall_s += wall
        self.active_s = max([self.active_s, *(g.get("active_s", 0.0) for g in gens)])
        cpu_pct = []
        for worker, g in by_worker.items():
            self.cpu_s[worker] += g["cpu_s"]
            self.spin_s[worker] += g["spin_s"]
            self.worker_wall_s[worker] += g["wall_s"]
            if g["wall_s"] > 0:
                cpu_pct.append(100.0 * max(0.0, g["cpu_s"] - g["spin_s"]) / g["wall_s"])
            for errno_name, n in g["socket_errors"].items():  # cumulative per worker
                self.socket_errors[errno_name] = max(self.socket_errors.get(errno_name, 0), n)
            self.unfinished += g["unfinished"]
            if g.get("precise_timer") is not None:
                self.precise_timer = bool(g["precise_timer"])
        connections = sum(g["connections"] for g in gens)
        inflight = sum(g["inflight"] for g in gens)
        vus = [g["vus"] for g in gens if g.get("vus") is not None]  # closed model only
        self.max_connections = max(self.max_connections, connections)
        self.max_inflight = max(self.max_inflight, inflight)
        steal_pct = self._add_steal(second, steal)
        sched_bytes = sched.to_bytes()
        pace()
        loop_bytes = loop.to_bytes()
        return {
            "second": second,
            "workers": len(gens),
            "cpu_pct_max": round(max(cpu_pct, default=0.0), 2),
            "inflight": inflight,
            "connections": connections,
            "vus": sum(vus) if vus else None,
            "sched_lag_hist": sched_bytes,
            "loop_lag_hist": loop_bytes,
            "steal_pct": steal_pct,
        }

    def _add_steal(self, second: int, steal: CpuTicks | None) -> float | None:
        pct = steal_pct(steal)
        if steal is None or pct is None:
            return None
        self.steal = CpuTicks(self.steal.steal + steal.steal, self.steal.total + steal.total)
        if self.steal_worst is None or pct > self.steal_worst[0]:
            self.steal_worst = (pct, second)
        return pct

    def steal_pct(self) -> float | None:
        return steal_pct(self.steal)

    def host_noise(self) -> list[str]:
        """Why the host, not perflab or the target, may have shaped the tail."""
        run = self.steal_pct()
        if run is None or self.steal_worst is None:
            return []
        worst, at = self.steal_worst
        if run < STEAL_WARN_PCT and worst < STEAL_WARN_SECOND_PCT:
            return []
        return [
            f"the hypervisor took {run:.1f}% of the generator's CPU (steal; {worst:.0f}% in "
            f"second {at}): latencies and scheduling lag include pauses the host imposed"
        ]

    def busy_pct(self) -> list[float]:
        return [
            round(100.0 * max(0.0, c - s) / w, 2) if w > 0 else 0.0
            for c, s, w in zip(self.cpu_s, self.spin_s, self.worker_wall_s, strict=True)
        ]

    def summary(self, *, errors: Sequence[str] = ()) -> dict[str, Any]:
        busy = self.busy_pct()
        reasons = []
        if busy and max(busy) >= SATURATED_CPU_PCT:
            reasons.append(f"a worker was busy {max(busy):.0f}% of a core")
        lag_p99 = self.sched_lag.percentile(99.0) if self.sched_lag.count else 0
        if lag_p99 > SATURATED_LAG_US:
            reasons.append(f"scheduling lag p99 {lag_p99 / 1000:.1f} ms")
        spin = [
            round(100.0 * s / w, 2) if w > 0 else 0.0
            for s, w in zip(self.spin_s, self.worker_wall_s, strict=True)
        ]
        return {
            "workers": self.workers,
            "active_s": round(self.active_s, 3),
            "wall_s": round(self.wall_s, 3),
            "cpu_pct": round(sum(busy) / len(busy), 2) if busy else 0.0,
            "cpu_pct_by_worker": busy,
            "spin_pct_by_worker": spin,
            "sched_lag_us": _us_block(self.sched_lag),
            "loop_lag_us": _us_block(self.loop_lag),
            "socket_errors": dict(self.socket_errors),
            "max_connections": self.max_connections,
            "max_inflight": self.max_inflight,
            "unfinished": self.unfinished,
            "precise_timer": self.precise_timer,
            "saturated": bool(reasons),
            "saturation_reasons": reasons,
            "steal_pct": self.steal_pct(),
            "steal_pct_max": self.steal_worst[0] if self.steal_worst else None,
            "host_noise": self.host_noise(),
            "worker_errors": list(errors),
            "worker_pids": [self.worker_pids.get(w, 0) for w in range(self.workers)],
        }
