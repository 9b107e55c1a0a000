"""The JSON record of a benchmark (``--json``): its schema, the environment, atomic writing."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import subprocess
from dataclasses import asdict
from pathlib import Path
from typing import Any

import psutil

from loadbench.model import CONNECTIONS, GEN_CORE, SERVER_CORE, TARGETS, Sample
from loadbench.procs import find_binary

SCHEMA = "perflab.bench-load/1"


def write_json(path: Path, doc: dict[str, Any]) -> None:
    """Atomic: a crash never leaves a half-written file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    os.replace(tmp, path)


def tool_version(argv: list[str]) -> str | None:
    """First line a tool prints about its version, or None when it is missing or broken."""
    path = find_binary(argv[0])
    if path is None:
        return None
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        r = subprocess.run([path, *argv[1:]], capture_output=True, text=True, timeout=30)
        lines = (r.stdout + r.stderr).strip().splitlines()
        # wrk -v exits 1; a crash prints a traceback: keep a first line only if it has a version.
        return lines[0][:120] if lines and re.search(r"\d+\.\d+", lines[0]) else None
    return None


def environment() -> dict[str, Any]:
    """What a reader needs to compare this file with another machine's or another day's."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": cpu,
        "cpu_count": psutil.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "tools": {
            "nginx": tool_version(["nginx", "-v"]),
            "wrk": tool_version(["wrk", "-v"]),
            "k6": tool_version(["k6", "version"]),
            "locust": tool_version(["locust", "--version"]),
            "perflab": tool_version(["perflab", "--version"]),
        },
    }


def document(
    secs: int,
    summary: dict[str, dict[str, Any]],
    rat: dict[str, dict[str, Any]],
    runs: dict[str, list[Sample]],
    open_connections: int,
) -> dict[str, Any]:
    """The whole record: setup, environment, summaries, ratios and every run."""
    return {
        "schema": SCHEMA,
        "duration_s": secs,
        "connections": CONNECTIONS,
        "open_connections": open_connections or None,
        "cores": {"generator": GEN_CORE, "nginx": SERVER_CORE},
        "targets": TARGETS,
        "environment": environment(),
        "summary": summary,
        "ratios": rat,
        "runs": {k: [asdict(s) for s in v] for k, v in runs.items()},
    }
