"""Where a result was measured: recorded with every run so results can be reproduced/compared."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import perflab


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _governor() -> str | None:
    path = Path("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
    try:
        return path.read_text().strip()
    except OSError:
        return None


def git_commit(cwd: Path | None = None) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _python_optimizations() -> str | None:
    """``--enable-optimizations``/``--with-lto`` from the configure line, when it is known."""
    args = str(sysconfig.get_config_var("CONFIG_ARGS") or "")
    found = [f for f in ("--enable-optimizations", "--with-lto") if f in args]
    return (" ".join(found) or "none") if args else None


def capture() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "perflab": perflab.__version__,
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        # the build matters as much as the version: PGO/LTO and the compiler move timings
        "python_build": " ".join(platform.python_build()),
        "python_compiler": platform.python_compiler(),
        "python_optimizations": _python_optimizations(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_governor": _governor(),
        "os": platform.system(),
        "kernel": platform.release(),
        "hostname": socket.gethostname(),
        "load_avg": [round(x, 2) for x in load] if load else None,
        "git_commit": git_commit(),
    }
