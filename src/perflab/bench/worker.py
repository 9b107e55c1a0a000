"""A worker process: ``python -m perflab.bench.worker FILE NAME PARAMS_JSON ...``.

Each process is a fresh interpreter (its own hash seed, memory layout and CPU placement),
which is what lets the runner see between-process variance. The worker imports the file,
finds the one case it was asked for, calibrates (``--loops 0``) or uses the given loop count,
measures, and prints one JSON document on its *original* stdout; the benchmark's own prints
are sent to stderr so they cannot corrupt that document. A raising benchmark is reported in
the document (``"error"``, with the file and line) and the exit code 1, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from perflab.bench.registry import discover, load_file, params_key
from perflab.bench.timing import calibrate, measure
from perflab.errors import PerflabError


def _where(exc: BaseException, path: Path) -> str:
    """``file.py:12 in fn`` of the innermost frame inside the benchmark file, if any."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename) == path]
    frame = frames[-1] if frames else None
    where = f" at {path.name}:{frame.lineno} in {frame.name}" if frame else ""
    return f"{type(exc).__name__}: {exc}{where}"


def run(args: argparse.Namespace) -> dict[str, Any]:
    path = Path(args.file).resolve()
    module = load_file(path)
    wanted = json.loads(args.params)
    for bench in discover(module):
        if bench.name != args.name:
            continue
        for case in bench.cases():
            if params_key(case.params) != params_key(wanted):
                continue
            try:
                call = case.prepare()
                loops = args.loops or calibrate(call, args.min_time)
                result = measure(
                    call,
                    loops=loops,
                    values=args.values,
                    warmups=args.warmups,
                    disable_gc=args.no_gc,
                )
            except Exception as exc:
                return {"error": _where(exc, path)}
            return result.to_json()
    return {"error": f"no benchmark {args.name} with params {args.params} in {path}"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="perflab.bench.worker")
    parser.add_argument("file")
    parser.add_argument("name")
    parser.add_argument("params")
    parser.add_argument("--loops", type=int, default=0, help="0: calibrate")
    parser.add_argument("--min-time", type=float, default=0.1)
    parser.add_argument("--values", type=int, default=3)
    parser.add_argument("--warmups", type=int, default=1)
    parser.add_argument("--no-gc", action="store_true")
    args = parser.parse_args(argv)
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # the benchmark's prints go to stderr
    sys.stdout = sys.stderr
    try:
        doc = run(args)
    except PerflabError as exc:
        doc = {"error": exc.one_line()}
    out.write(json.dumps(doc) + "\n")
    out.flush()
    return 1 if "error" in doc else 0


if __name__ == "__main__":
    sys.exit(main())
