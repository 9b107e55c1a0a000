"""Run a Python program under tracemalloc, dumping a snapshot on every SIGUSR2.

Usage (what :func:`perflab.profile.allocations.start_traced` runs)::

    python -X tracemalloc=25 -m perflab.profile.tracemalloc_boot SNAPDIR script.py ARGS...
    python -X tracemalloc=25 -m perflab.profile.tracemalloc_boot SNAPDIR -m package.mod ARGS...

The handler is installed *before* the program runs and ``SNAPDIR/boot.json`` is written
only after that, so perflab never signals a process that would die of SIGUSR2's default
action. Each snapshot goes to ``SNAPDIR/snap-K.pickle`` (K = 1, 2, ...) through a temporary
file and ``os.replace``: a reader that sees the name sees the whole file.

Python runs signal handlers in the main thread between bytecodes, so a program blocked in
C code answers when it returns to Python (an event loop wakes on the signal at once).
This module installs its handler when run as a program, never on import.
"""

from __future__ import annotations

import json
import os
import runpy
import signal
import sys
import tracemalloc
from pathlib import Path
from types import FrameType

DEFAULT_FRAMES = 25
BOOT_FILE = "boot.json"
SNAPSHOT_PATTERN = "snap-{}.pickle"


class _Dumper:
    """The SIGUSR2 handler; only the main thread runs it, so the counter needs no lock."""

    def __init__(self, snapdir: Path) -> None:
        self.snapdir = snapdir
        self.count = 0

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        final = self.snapdir / SNAPSHOT_PATTERN.format(self.count)
        tmp = final.with_name(f".{final.name}.tmp")
        tracemalloc.take_snapshot().dump(str(tmp))
        os.replace(tmp, final)


def _usage() -> int:
    print(
        "usage: python -X tracemalloc=N -m perflab.profile.tracemalloc_boot "
        "SNAPDIR (script.py | -m module) [args...]",
        file=sys.stderr,
    )
    return 2


def main(argv: list[str]) -> int:
    if len(argv) < 2 or (argv[1] == "-m" and len(argv) < 3):
        return _usage()
    snapdir = Path(argv[0])
    snapdir.mkdir(parents=True, exist_ok=True)
    if not tracemalloc.is_tracing():  # started without -X tracemalloc
        tracemalloc.start(DEFAULT_FRAMES)
    signal.signal(signal.SIGUSR2, _Dumper(snapdir))
    boot = {"pid": os.getpid(), "frames": tracemalloc.get_traceback_limit()}
    tmp = snapdir / f".{BOOT_FILE}.tmp"
    tmp.write_text(json.dumps(boot))
    os.replace(tmp, snapdir / BOOT_FILE)
    if argv[1] == "-m":
        sys.argv = [argv[2], *argv[3:]]
        runpy.run_module(argv[2], run_name="__main__", alter_sys=True)
    else:
        script = argv[1]
        sys.argv = [script, *argv[2:]]
        sys.path[0] = os.path.dirname(os.path.abspath(script))  # as `python script.py` does
        runpy.run_path(script, run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
