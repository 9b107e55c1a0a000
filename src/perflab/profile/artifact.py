"""A stored profile: a directory with ``stacks.folded`` and ``profile.json``.

Layout (schema ``perflab.profile/1``)::

    <root>/profile-<UTC stamp>-<name>/
        stacks.folded     the samples, folded (flamegraph.pl and speedscope read it as is)
        profile.json      {"schema", "id", "name", "started_at", "ended_at", "duration_s",
                           "rate_hz", "samples", "native", "target": {"pid", "cmdline",
                           "exe", "python"}, "target_exited", "errors", "warnings",
                           "sampler": {"tool", "version"}}
        sampler.log       what py-spy or perf printed (and a profiled command's own output)
        flamegraph.html   when a flame graph was rendered (:data:`FLAMEGRAPH_FILE`)

The stacks are written before the document, each atomically, so a ``profile.json`` always
describes a complete ``stacks.folded``; ``samples`` is derived from the stacks on load, so a
folded file edited by hand (filtered, merged) stays consistent. Ids are uuid4 hex and
directories are named like run directories, beside them by default.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perflab.errors import UsageError
from perflab.model.redact import redact_argv
from perflab.profile.folded import Stacks, format_folded, parse_folded, total_samples
from perflab.profile.top import top_functions
from perflab.store.atomic import write_bytes_atomic, write_json_atomic
from perflab.store.rundir import DEFAULT_ROOT, new_run_dir

__all__ = [
    "FLAMEGRAPH_FILE",
    "FOLDED_FILE",
    "META_FILE",
    "PROFILE_SCHEMA",
    "ProfileResult",
    "ProfileTarget",
    "load_profile",
    "new_profile_dir",
    "save_profile",
    "utc_now",
]

PROFILE_SCHEMA = "perflab.profile/1"
FOLDED_FILE = "stacks.folded"
META_FILE = "profile.json"
LOG_FILE = "sampler.log"
FLAMEGRAPH_FILE = "flamegraph.html"


def utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def new_profile_dir(name: str, root: Path = DEFAULT_ROOT) -> Path:
    """``root/profile-<UTC stamp>-<name>``, beside the run directories and named like them."""
    return new_run_dir(name, root, prefix="profile-", kind="profile")


@dataclass
class ProfileTarget:
    """What was profiled; fields the system would not tell (another user's process) are
    None. ``python`` is the interpreter's major.minor as its executable or libpython names
    it."""

    pid: int | None
    cmdline: list[str]
    exe: str | None = None
    python: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Stored and shown: secrets typed on the command line (``--password x``) redacted."""
        cmdline = redact_argv(self.cmdline)
        return {"pid": self.pid, "cmdline": cmdline, "exe": self.exe, "python": self.python}


@dataclass
class ProfileResult:
    """A finished (or interrupted) profile: its stacks and what the sampler said about them.

    ``warnings`` are things the reader must know to trust the numbers (the target exited
    early, nothing was sampled); ``errors`` are samples the sampler failed to take. Neither
    stops a profile from being saved.
    """

    stacks: Stacks
    name: str
    started_at: str
    ended_at: str
    duration_s: float
    rate_hz: int
    native: bool
    target: ProfileTarget
    sampler: dict[str, str | None]
    target_exited: bool = False
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    path: Path | None = None
    flamegraph: Path | None = None

    @property
    def samples(self) -> int:
        return total_samples(self.stacks)

    @property
    def folded_path(self) -> Path | None:
        return self.path / FOLDED_FILE if self.path is not None else None

    def to_document(self) -> dict[str, Any]:
        """The content of ``profile.json``."""
        return {
            "schema": PROFILE_SCHEMA,
            "id": self.id,
            "name": self.name,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "duration_s": round(self.duration_s, 3),
            "rate_hz": self.rate_hz,
            "samples": self.samples,
            "native": self.native,
            "target": self.target.to_json(),
            "target_exited": self.target_exited,
            "errors": list(self.errors),
            "warnings": list(self.warnings),
            "sampler": dict(self.sampler),
        }

    def to_json_summary(self, top_n: int = 10) -> dict[str, Any]:
        """What ``perflab profile --json`` prints: the size of the profile, the top
        functions by self time (grouped by function and file, see
        :mod:`perflab.profile.top`) and where the files are."""
        top = [
            {
                "function": row.function,
                "file": row.file,
                "line": row.line,
                "self_pct": round(row.self_pct, 2),
                "total_pct": round(row.total_pct, 2),
            }
            for row in top_functions(self.stacks, top_n)
        ]
        folded = self.folded_path
        return {
            "samples": self.samples,
            "duration_s": round(self.duration_s, 3),
            "top": top,
            "flamegraph": str(self.flamegraph) if self.flamegraph is not None else None,
            "folded": str(folded) if folded is not None else None,
        }


def save_profile(result: ProfileResult, directory: Path) -> Path:
    """Write the profile into ``directory`` (created if needed) and remember it there."""
    directory.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(directory / FOLDED_FILE, format_folded(result.stacks).encode())
    write_json_atomic(directory / META_FILE, result.to_document())
    result.path = directory
    return directory


def load_profile(path: Path) -> ProfileResult:
    """A profile from its directory or its ``profile.json``.

    Raises:
        UsageError: no profile there, unreadable JSON, an unknown schema, or bad stacks.
    """
    file = path / META_FILE if path.is_dir() else path
    try:
        doc = json.loads(file.read_text())
    except FileNotFoundError:
        raise UsageError(f"no profile at {path}: {META_FILE} not found") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{file} is not readable JSON ({exc})") from None
    schema = doc.get("schema") if isinstance(doc, dict) else None
    loader = _LOADERS.get(str(schema))
    if loader is None:
        raise UsageError(f"{file}: unknown schema {schema!r}, expected {PROFILE_SCHEMA!r}")
    return loader(doc, file.parent)


def _load_v1(doc: dict[str, Any], directory: Path) -> ProfileResult:
    folded = directory / FOLDED_FILE
    try:
        text = folded.read_text()
    except FileNotFoundError:
        raise UsageError(f"profile {directory} has no {FOLDED_FILE}") from None
    try:
        stacks = parse_folded(text)
    except UsageError as exc:
        raise UsageError(f"{folded}: {exc.message}") from None
    try:
        target = doc["target"] or {}
        flamegraph = directory / FLAMEGRAPH_FILE
        return ProfileResult(
            stacks=stacks,
            id=str(doc["id"]),
            name=str(doc["name"]),
            started_at=str(doc["started_at"]),
            ended_at=str(doc["ended_at"]),
            duration_s=float(doc["duration_s"]),
            rate_hz=int(doc["rate_hz"]),
            native=bool(doc["native"]),
            target=ProfileTarget(
                pid=target.get("pid"),
                cmdline=list(target.get("cmdline") or []),
                exe=target.get("exe"),
                python=target.get("python"),
            ),
            sampler=dict(doc.get("sampler") or {}),
            target_exited=bool(doc.get("target_exited", False)),
            errors=[str(e) for e in doc.get("errors") or []],
            warnings=[str(w) for w in doc.get("warnings") or []],
            path=directory,
            flamegraph=flamegraph if flamegraph.exists() else None,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UsageError(f"{directory / META_FILE}: missing or bad field ({exc})") from None


_LOADERS: dict[str, Callable[[dict[str, Any], Path], ProfileResult]] = {
    PROFILE_SCHEMA: _load_v1,
}
