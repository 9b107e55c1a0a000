"""A scenario-file run as data: which file, and each scenario's users and executor.

Workers are spawned processes: they receive this (picklable) description, import the file
themselves, and look the user classes up by name.
"""

from __future__ import annotations

from dataclasses import dataclass

from perflab.model.redact import redact_url
from perflab.model.spec import LoadModel, LoadProfile
from perflab.model.units import target_at


@dataclass(frozen=True, slots=True)
class ScenarioSpec:
    name: str
    users: tuple[tuple[str, int], ...]  # (User class name, weight)
    load: LoadProfile
    start_s: float = 0.0

    @property
    def end_s(self) -> float:
        return self.start_s + self.load.duration_s

    def target_at(self, t: float) -> float:
        """VUs (closed) or iterations/s (open) wanted ``t`` seconds into the run."""
        if t < self.start_s or t >= self.end_s:
            return 0.0
        return target_at(self.load.start, self.load.stages, t - self.start_s)

    @property
    def open(self) -> bool:
        return self.load.model is LoadModel.OPEN


@dataclass(frozen=True, slots=True)
class ScriptSpec:
    path: str  # absolute path of the scenario file
    base_url: str
    scenarios: tuple[ScenarioSpec, ...]
    http2: bool = False

    @property
    def duration_s(self) -> float:
        return max(s.end_s for s in self.scenarios)

    def to_config(self) -> dict[str, object]:
        return {
            "path": self.path,
            "base_url": redact_url(self.base_url),
            "http2": self.http2,
            "scenarios": [
                {
                    "name": s.name,
                    "users": [{"type": u, "weight": w} for u, w in s.users],
                    "model": s.load.model.value,
                    "start_s": s.start_s,
                    "start": s.load.start,
                    "stages": [
                        {"duration_s": st.duration_s, "target": st.target} for st in s.load.stages
                    ],
                    "iterations": s.load.iterations,
                    "max_vus": s.load.max_inflight,
                }
                for s in self.scenarios
            ],
        }
