"""Apache Otava (E-divisive means with a t-test, the method MongoDB and DataStax run in CI)
as a peer in the change-point harness.

Otava pins older numpy/scipy than perflab, so it lives in its own venv and answers over a
pipe (``otava_worker.py``). Missing venv → :class:`OtavaMissing` with the command that makes
it; the harness then shows Otava as skipped instead of failing.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from types import TracebackType

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_PYTHON = HERE.parent / ".venv-otava" / "bin" / "python"


class OtavaMissing(RuntimeError):
    """No Python with apache-otava installed."""


class OtavaPeer:
    """``find(values) -> indices``; ``last_seconds`` is Otava's own time for that series."""

    def __init__(self, python: Path | None = None) -> None:
        self.python = Path(os.environ.get("OTAVA_PYTHON", python or DEFAULT_PYTHON))
        self.proc: subprocess.Popen[str] | None = None
        self.last_seconds = 0.0

    def __enter__(self) -> OtavaPeer:
        if not self.python.exists():
            raise OtavaMissing(f"{self.python} not found: run bash bench/setup.sh")
        self.proc = subprocess.Popen(
            [str(self.python), str(HERE / "otava_worker.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.proc is not None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def find(self, values: np.ndarray) -> list[int]:
        assert self.proc is not None and self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(json.dumps([float(v) for v in values]) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise OtavaMissing(f"the Otava worker exited (code {self.proc.poll()})")
        reply = json.loads(line)
        self.last_seconds = float(reply["seconds"])
        return [int(i) for i in reply["indices"]]
