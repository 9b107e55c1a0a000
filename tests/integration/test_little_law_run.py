"""Little's law on a real closed-model run made by the CLI against a local server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from perflab.capacity.little import check_run
from perflab.store import load_run, read_generator


@pytest.mark.slow
def test_real_closed_model_run_obeys_littles_law(hello_url: str, tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "perflab.cli.main", "run", f"{hello_url}/slow/20",
         "--vus", "4", "--duration", "2s", "--out", str(out), "--quiet"],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
        env=dict(os.environ),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    doc = load_run(out)
    check = check_run(doc, read_generator(out))
    # a flush tick may catch a VU between two requests
    assert check.measured_inflight == pytest.approx(4.0, abs=0.6)
    assert check.expected_inflight == pytest.approx(4.0, rel=0.15)
    assert not check.flagged
