"""The Python API from a user's plain script, as the README shows it (no __main__ guard)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """
from perflab import load
from perflab.model import HttpRequest, LoadModel, LoadProfile, RunSpec, Stage, parse_threshold
from perflab.store import RunWriter

spec = RunSpec(
    requests=(HttpRequest("{url}/", name="item"),),
    load=LoadProfile(LoadModel.OPEN, stages=(Stage(1.0, 50.0),), start=50.0),
    thresholds=(parse_threshold("p99<1s"),),
    workers=2,
)
doc = load.run(spec, sink=RunWriter(__import__("pathlib").Path("{out}")))
print(doc["status"], doc["totals"]["requests"])
"""


def test_unguarded_script_runs_once(hello_url: str, tmp_path: Path) -> None:
    script = tmp_path / "loadtest.py"
    script.write_text(SCRIPT.format(url=hello_url, out=tmp_path / "run"))
    proc = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["passed", "50"]  # one run, not one per worker
    assert "Traceback" not in proc.stderr
