"""The typed description of a load test: what to send, how fast, for how long.

The engine takes a :class:`RunSpec` and nothing else: no CLI options, no files. The CLI (or a
user's script) builds one, and :meth:`RunSpec.to_config` gives the redacted form stored in
run.json so a run can be reproduced.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from perflab.errors import UsageError
from perflab.model.redact import redact_headers, redact_url
from perflab.model.replay import ReplayPlan
from perflab.model.threshold import Threshold
from perflab.model.units import Stage, target_at

if TYPE_CHECKING:
    from perflab.model.script import ScriptSpec


class LoadModel(StrEnum):
    OPEN = "open"  # arrival rate: requests start on a clock, whatever the server does
    CLOSED = "closed"  # virtual users: each starts its next request when the last one ends


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One request of a URL-mode test. ``name`` groups metrics (default ``METHOD path``)."""

    url: str
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    name: str = ""


@dataclass(frozen=True, slots=True)
class LoadProfile:
    """How load is applied.

    Open model: arrivals start at ``start_rate`` and follow ``stages`` (linear ramps, as k6's
    ramping-arrival-rate); a constant rate is one flat stage. Closed model: the number of
    virtual users starts at ``start_vus`` and follows ``stages``. ``iterations`` (total, over
    all workers) ends the run early when reached.
    """

    model: LoadModel
    stages: tuple[Stage, ...]
    start: float = 0.0
    iterations: int | None = None
    max_inflight: int = 1000
    connections: int | None = None

    @property
    def duration_s(self) -> float:
        return sum(s.duration_s for s in self.stages)

    def peak(self) -> float:
        return max([self.start, *(s.target for s in self.stages)])


@dataclass(frozen=True, slots=True)
class RunSpec:
    requests: tuple[HttpRequest, ...]
    load: LoadProfile
    name: str = "run"
    workers: int = 0  # 0 = one per core
    thresholds: tuple[Threshold, ...] = ()
    abort_on_fail: bool = False
    connect_timeout_s: float = 10.0
    timeout_s: float = 60.0
    graceful_stop_s: float = 10.0
    insecure: bool = False
    http2: bool = False  # URL mode over HTTP/2 (h2c, or TLS with ALPN)
    ca_file: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    replay: ReplayPlan | None = None
    """Open model on the replay's own timing: ``requests[0]`` gives only the origin."""
    script: ScriptSpec | None = None
    """A scenario file's scenarios; then ``requests[0]`` is the base URL and ``load`` the
    first scenario's profile (each scenario has its own, see ``script.scenarios``)."""

    @property
    def duration_s(self) -> float:
        return self.script.duration_s if self.script is not None else self.load.duration_s

    def target_at(self, t: float) -> float:
        """Load wanted ``t`` s into the run: rate (open) or VUs (closed); summed over scenarios."""
        if self.script is not None:
            return sum(s.target_at(t) for s in self.script.scenarios)
        return target_at(self.load.start, self.load.stages, t)

    def resolved_workers(self) -> int:
        """Workers actually started: never more than the load can keep busy."""
        wanted = self.workers or (os.cpu_count() or 1)
        if self.script is not None:
            scenarios = self.script.scenarios
            if all(not s.open for s in scenarios):
                wanted = min(wanted, max(1, int(sum(s.load.peak() for s in scenarios))))
            return max(1, wanted)
        if self.load.model is LoadModel.CLOSED:
            wanted = min(wanted, max(1, int(self.load.peak())))
        else:  # every worker needs at least one connection and one in-flight slot
            wanted = min(wanted, self.load.max_inflight, self.load.connections or wanted)
        if self.load.iterations is not None:
            wanted = min(wanted, max(1, self.load.iterations))
        return max(1, wanted)

    def validate(self) -> None:
        if not self.requests:
            raise UsageError("nothing to send: give a URL")
        if self.script is not None:
            if not self.script.scenarios:
                raise UsageError("the scenario file defines no scenario to run")
            return
        if self.load.duration_s <= 0 and self.load.iterations is None:
            raise UsageError("the run needs a positive --duration, --stages or --iterations")
        if self.load.peak() <= 0:
            what = "rate" if self.load.model is LoadModel.OPEN else "number of virtual users"
            raise UsageError(f"the {what} must be positive somewhere in the run")
        if self.load.max_inflight < 1:
            raise UsageError("--max-inflight must be at least 1")
        if self.load.connections is not None and self.load.connections < 1:
            raise UsageError("--connections must be at least 1")
        if self.timeout_s <= 0 or self.connect_timeout_s <= 0:
            raise UsageError("timeouts must be positive")
        if self.workers < 0:
            raise UsageError("--workers must be 0 (one per core) or more")

    def to_config(self) -> dict[str, Any]:
        """The reproducible, secret-free description stored in run.json."""
        return {
            "requests": [
                {
                    "name": r.name,
                    "method": r.method,
                    "url": redact_url(r.url),
                    "headers": dict(redact_headers(r.headers)),
                    "body_bytes": len(r.body),
                }
                for r in self.requests
            ],
            "model": self.load.model.value,
            "start": self.load.start,
            "stages": [{"duration_s": s.duration_s, "target": s.target} for s in self.load.stages],
            "duration_s": self.load.duration_s,
            "iterations": self.load.iterations,
            "max_inflight": self.load.max_inflight,
            "connections": self.load.connections,
            "workers": self.resolved_workers(),
            "thresholds": [t.source for t in self.thresholds],
            "abort_on_fail": self.abort_on_fail,
            "connect_timeout_s": self.connect_timeout_s,
            "timeout_s": self.timeout_s,
            "insecure": self.insecure,
            "http2": self.http2,
            "tags": dict(self.tags),
            "script": None if self.script is None else self.script.to_config(),
            "replay": None
            if self.replay is None
            else {
                "source": self.replay.source,
                "lines": self.replay.lines,
                "requests": len(self.replay.entries),
                "skipped": len(self.replay.skipped),
                "skipped_lines": len(self.replay.skipped),
                # Reasons name the line, never a header or query value (they are built so).
                "skipped_examples": [[n, why] for n, why in self.replay.skipped[:10]],
                "duration_s": self.replay.duration_s,
            },
        }
