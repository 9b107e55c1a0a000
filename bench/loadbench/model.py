"""Shared definitions of the load benchmark: constants and the records passed around."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CONNECTIONS = 50
GEN_CORE = 0
SERVER_CORE = 1
BUSY_PCT_WARN = 20.0
STEAL_PCT_WARN = 1.0  # of either core's time: a pause of 1 % sets an open-model p99 by itself
STARTUP_GRACE_S = 60.0
PEERS = ("wrk", "k6", "locust")
TOOLS = (*PEERS, "perflab", "perflab-open")
# perflab / peer targets; they apply to RPS and to requests per CPU-second alike.
TARGETS = {"wrk": 0.9, "k6": 5.0, "locust": 10.0}
DEFAULT_RATES = (20_000, 50_000, 100_000)
OPEN_ACHIEVED_MIN = 0.999


@dataclass
class Steady:
    """The generator's cost while load was flowing, start-up and teardown left out."""

    window_s: float
    cpu_pct: float
    served_rps: float  # counted by nginx, independent of the tool's own report
    us_per_req: float


class Skip(Exception):
    """A tool cannot run here; the reason becomes its row, the benchmark goes on."""


@dataclass
class Child:
    """One finished child process: its output and the CPU of its whole reaped tree."""

    returncode: int
    stdout: str
    stderr: str
    wall_s: float
    user_s: float
    sys_s: float
    timed_out: bool
    orphans: int = 0
    straggler_cpu_s: float = 0.0
    steady: Steady | None = None
    exit_snapshot: tuple[float, ...] = ()


@dataclass
class Parsed:
    """What a tool's own output says about its run."""

    requests: int
    rps: float
    p50_ms: float | None = None
    p99_ms: float | None = None
    errors: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Sample:
    """One run of one tool, with the figures every tool gets."""

    tool: str
    status: str  # ok | skipped | failed
    reason: str = ""
    target_rps: float | None = None
    rps: float | None = None
    requests: int | None = None
    errors: int | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    wall_s: float | None = None
    cpu_user_s: float | None = None
    cpu_sys_s: float | None = None
    cpu_unreaped_s: float | None = None  # of processes the tool left behind, read via psutil
    cpu_us_per_req: float | None = None
    steady_cpu_pct: float | None = None
    steady_us_per_req: float | None = None
    steady: dict[str, float] | None = None
    served_rps: float | None = None  # nginx's count while load flowed (see LoadSampler)
    gen_cpu_pct: float | None = None
    nginx_cpu_pct: float | None = None
    busy_before_pct: list[float] = field(default_factory=list)
    other_cpu_pct: float | None = None
    steal_pct: list[float] = field(default_factory=list)  # [generator core, nginx core]
    noisy: bool = False
    warnings: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def steal_max_pct(self) -> float | None:
        return max(self.steal_pct) if self.steal_pct else None

    @property
    def user_us_per_req(self) -> float | None:
        """User-space CPU per request: the tool's own code (and its runtime's)."""
        return self.per_request(self.cpu_user_s)

    @property
    def sys_us_per_req(self) -> float | None:
        """Kernel CPU per request: mostly the sockets (wrk and perflab pay about alike)."""
        return self.per_request(self.cpu_sys_s)

    def per_request(self, cpu_s: float | None) -> float | None:
        """CPU-seconds over this run's requests, in µs per request (None without either)."""
        return cpu_s * 1e6 / self.requests if cpu_s is not None and self.requests else None


@dataclass
class Tool:
    """How to run one generator: its command line and how to read its result."""

    name: str
    argv: Callable[[Path], list[str]]
    parse: Callable[[Child, Path], Parsed]
    target_rps: float | None = None
