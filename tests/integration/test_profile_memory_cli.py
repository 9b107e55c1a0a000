"""``perflab profile memory -- python app.py``: a real program under tracemalloc, the site
that keeps memory found first, and a program that exits too soon reported in one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PERFLAB = [sys.executable, "-m", "perflab.cli.main"]
GROWER = """
import time

keep = []


def remember():
    keep.append(bytearray(50_000))  # the growing site: line 8


def churn():
    return [bytearray(50_000) for _ in range(4)]  # allocated and freed: no growth


while True:
    remember()
    churn()
    time.sleep(0.02)
"""


def _perflab(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PERFLAB, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.slow
def test_the_growing_site_ranks_first(tmp_path: Path) -> None:
    (tmp_path / "grower.py").write_text(GROWER)
    done = _perflab(
        tmp_path, "profile", "memory", "--duration", "5s", "--warmup", "1s", "--json",
        "--out", "mem", "--", "python", "grower.py",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    first = doc["growth"][0]
    assert first["file"].endswith("grower.py") and first["line"] == 8
    assert first["size_diff_bytes"] > 1_000_000 and first["count_diff"] > 20
    assert all(row["line"] != 12 for row in doc["growth"] if row["file"].endswith("grower.py"))
    assert (
        json.loads((tmp_path / "mem" / "allocations.json").read_text())["growth"] == doc["growth"]
    )
    assert (tmp_path / "mem" / "memory.jsonl").exists()


def test_a_program_that_exits_early_is_one_line_exit_3(tmp_path: Path) -> None:
    (tmp_path / "quick.py").write_text("print('bye')\n")
    done = _perflab(
        tmp_path, "profile", "memory", "--duration", "5s", "--warmup", "2s", "--", "quick.py"
    )
    assert done.returncode == 3, done.stderr
    assert done.stderr.count("\n") <= 2 and "Traceback" not in done.stderr
    assert "perflab: error:" in done.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--duration", "5s", "--warmup", "9s", "--", "x.py"], "--warmup"),
        (["--key", "file", "--", "x.py"], "--key"),
        (["--duration", "5s"], "after --"),
        (["--", "no-such-script.py"], "no such Python script"),
    ],
)
def test_bad_input_exit_2(tmp_path: Path, args: list[str], needle: str) -> None:
    (tmp_path / "x.py").write_text("import time\ntime.sleep(30)\n")
    done = _perflab(tmp_path, "profile", "memory", *args)
    assert done.returncode == 2, done.stderr
    assert needle in done.stderr and "Traceback" not in done.stderr
