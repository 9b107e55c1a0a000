"""A monitored process' samples as stored (``memory.jsonl``, schema ``perflab.memory/1``)
and read back: what the leak verdict, the report and ``perflab show`` consume, apart from
the monitor that writes them (:mod:`perflab.profile.monitor`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from perflab.errors import UsageError
from perflab.profile.leak import LeakVerdict, leak_verdict
from perflab.store.process import MEMORY_FILE, read_json_lines

__all__ = ["MEMORY_FILE", "MEMORY_SCHEMA", "MemorySample", "MemorySeries", "load_memory_series"]

MEMORY_SCHEMA = "perflab.memory/1"


@dataclass(frozen=True, slots=True)
class MemorySample:
    """One sample; sums over the process tree when children are included.

    ``t`` is seconds since the monitor started (monotonic clock: what the trend uses),
    ``wall`` the Unix time (to line the series up with the run's intervals).
    """

    t: float
    wall: float
    rss_bytes: int
    vms_bytes: int
    num_fds: int | None
    num_threads: int
    connections: int | None
    cpu_percent: float
    processes: int = 1


_SAMPLE_FIELDS = tuple(f.name for f in fields(MemorySample))


@dataclass(frozen=True)
class MemorySeries:
    """A monitored process' samples with what is known of how the monitoring ended."""

    pid: int
    interval_s: float
    include_children: bool
    started_at: str
    cmdline: tuple[str, ...]
    samples: tuple[MemorySample, ...]
    exited: bool = False
    exit_reason: str | None = None
    complete: bool = True

    def column(self, name: str) -> npt.NDArray[np.float64]:
        """One field as floats; a None (access denied) becomes NaN."""
        if name not in _SAMPLE_FIELDS:
            raise ValueError(f"no field {name!r} in a memory sample")
        values = [getattr(s, name) for s in self.samples]
        return np.array([math.nan if v is None else v for v in values], dtype=np.float64)

    def verdict(self, field: str = "rss_bytes", **options: Any) -> LeakVerdict:
        """The leak verdict on one byte-valued field; ``options`` go to ``leak_verdict``."""
        return leak_verdict(self.column("t"), self.column(field), **options)

    def summary(self) -> dict[str, Any]:
        """The numbers a report shows next to the plot."""
        if not self.samples:
            return {"samples": 0, "exited": self.exited, "complete": self.complete}
        rss = self.column("rss_bytes")
        doc: dict[str, Any] = {
            "samples": len(self.samples),
            "duration_s": round(self.samples[-1].t - self.samples[0].t, 3),
            "rss_start_bytes": int(rss[0]),
            "rss_end_bytes": int(rss[-1]),
            "rss_peak_bytes": int(rss.max()),
            "exited": self.exited,
            "complete": self.complete,
        }
        for name in ("num_fds", "num_threads", "connections"):
            col = self.column(name)
            known = col[np.isfinite(col)]
            doc[f"{name}_max"] = int(known.max()) if known.size else None
        return doc

    def to_json(self, *, rows: bool = True) -> dict[str, Any]:
        doc = _header(self.pid, self.interval_s, self.include_children, self.started_at)
        doc |= {"cmdline": list(self.cmdline), "exited": self.exited}
        doc |= {"exit_reason": self.exit_reason, "summary": self.summary()}
        if rows:
            doc["rows"] = [asdict(s) for s in self.samples]
        return doc


def _header(pid: int, interval_s: float, children: bool, started_at: str) -> dict[str, Any]:
    doc = {"schema": MEMORY_SCHEMA, "pid": pid, "interval_s": interval_s}
    return doc | {"include_children": children, "started_at": started_at}


def load_memory_series(path: Path) -> MemorySeries:
    """Read a series written by :class:`ProcessMonitor`, finished or not.

    Raises UsageError for a file that is not a memory series or has a newer schema.
    """
    try:
        docs = read_json_lines(path)
    except FileNotFoundError:
        raise UsageError(f"cannot read {path}: no such file") from None
    if not docs or not isinstance(docs[0], dict) or "schema" not in docs[0]:
        raise UsageError(f"{path} is not a perflab memory series (no schema header)")
    schema = docs[0]["schema"]
    loader = _LOADERS.get(schema)
    if loader is None:
        raise UsageError(
            f"{path} has schema {schema!r}; this perflab reads {', '.join(_LOADERS)}",
            hint="upgrade perflab to read it",
        )
    return loader(docs)


def _load_v1(docs: list[dict[str, Any]]) -> MemorySeries:
    header = docs[0]
    samples = tuple(
        MemorySample(**{k: d[k] for k in _SAMPLE_FIELDS if k in d})
        for d in docs[1:]
        if d.get("kind") == "sample"
    )
    end = next((d for d in docs[1:] if d.get("kind") == "end"), None)
    return MemorySeries(
        pid=int(header["pid"]),
        interval_s=float(header["interval_s"]),
        include_children=bool(header.get("include_children", False)),
        started_at=str(header.get("started_at", "")),
        cmdline=tuple(header.get("cmdline", ())),
        samples=samples,
        exited=bool(end and end.get("exited")),
        exit_reason=end.get("exit_reason") if end else None,
        complete=end is not None,
    )


_LOADERS: dict[str, Callable[[list[dict[str, Any]]], MemorySeries]] = {MEMORY_SCHEMA: _load_v1}
