"""``perflab capacity fit`` in-process: JSON keys, no NaN, table, HTML, exit 2 on bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from perflab.cli.main import main

SPEC = "load,throughput\n1,64.9\n18,995.9\n36,1652.4\n72,1853.2\n108,1828.9\n144,1775\n216,1702.2\n"
ISSUE_KEYS = {"sigma", "kappa", "lambda", "peak_concurrency", "peak_throughput", "r2", "ci"}


def _strict_json(text: str) -> Any:
    def refuse(constant: str) -> None:
        pytest.fail(f"{constant} in JSON output")

    return json.loads(text, parse_constant=refuse)


def _csv(tmp_path: Path, text: str, name: str = "steps.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_json_has_the_issue_keys_and_r_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _csv(tmp_path, SPEC)
    assert main(["capacity", "fit", str(data), "--json", "--predict", "64,300"]) == 0
    doc = _strict_json(capsys.readouterr().out)
    assert ISSUE_KEYS <= set(doc)
    assert set(doc) - ISSUE_KEYS == {"limit_throughput", "rse", "n_points", "notes", "predictions"}
    assert set(doc["ci"]) == {"sigma", "kappa", "lambda"}
    assert doc["lambda"] == pytest.approx(89.99523, rel=1e-6)  # R usl, see test_usl.py
    assert doc["ci"]["sigma"][0] < doc["sigma"] < doc["ci"]["sigma"][1]
    assert [p["concurrency"] for p in doc["predictions"]] == [64, 300]
    first = doc["predictions"][0]
    assert first["low"] < first["throughput"] < first["high"]
    assert first["latency"] == pytest.approx(64 / first["throughput"])


def test_no_peak_is_null_not_nan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = "".join(f"{n},{10 * n / (1 + 0.02 * (n - 1)):.6f}\n" for n in (1, 2, 4, 8, 16, 32))
    data = _csv(tmp_path, "vus,rps\n" + rows)
    assert main(["capacity", "fit", str(data), "--json"]) == 0
    doc = _strict_json(capsys.readouterr().out)
    assert doc["kappa"] == 0.0 and doc["peak_concurrency"] is None
    assert any("kappa" in note for note in doc["notes"])


def test_human_output_and_html(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _csv(tmp_path, SPEC)
    page = tmp_path / "usl.html"
    assert main(["capacity", "fit", str(data), "--predict", "64", "--html", str(page)]) == 0
    out = capsys.readouterr().out
    assert "sigma" in out and "0.02773" in out and "96.52" in out and "N = 64" in out
    html = page.read_text()
    assert not re.search(r"<script[^>]*\bsrc=", html)  # plotly.js inlined: works offline
    assert not re.search(r"<link[^>]*https?://", html)
    figures = json.loads(re.search(r'id="perflab-figures">(.*?)</script>', html, re.S)[1])  # type: ignore[index]
    names = [trace["name"] for trace in figures["usl"]["data"]]
    assert names == ["95 % interval", "USL fit", "linear λN", "measured", "peak N*"]


def test_explicit_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _csv(tmp_path, SPEC.replace("load,throughput", "users,scripts_per_hour"))
    argv = ["capacity", "fit", str(data), "--json"]
    assert main(argv) == 2
    assert "no throughput column" in capsys.readouterr().err
    argv += ["--concurrency-column", "users", "--throughput-column", "scripts_per_hour"]
    assert main(argv) == 0
    assert _strict_json(capsys.readouterr().out)["sigma"] > 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("concurrency,throughput\n1,5\n2,5\n4,5\n8,5\n", "does not vary"),
        ("concurrency,throughput\n1,5\n2,9\n", "at least 3 points"),
        ("concurrency,throughput\n0,5\n2,9\n4,15\n8,20\n", "must be positive"),
        ("concurrency,throughput\n1,5\n2,x\n4,15\n", "line 3"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    assert main(["capacity", "fit", str(_csv(tmp_path, text)), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("perflab: error: ") and message in captured.err
    assert "Traceback" not in captured.err and captured.err.count("\n") == 1


def test_missing_file_and_bad_predict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["capacity", "fit", str(tmp_path / "nope.csv")]) == 2
    assert "cannot read" in capsys.readouterr().err
    data = _csv(tmp_path, SPEC)
    assert main(["capacity", "fit", str(data), "--predict", "64,abc"]) == 2
    assert "bad --predict" in capsys.readouterr().err
