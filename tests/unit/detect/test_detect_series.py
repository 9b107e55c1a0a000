"""Loading series from CSV and JSON: values, labels and errors that name the place."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from perflab.detect import detect_series, load_file
from perflab.errors import UsageError


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_csv_with_a_commit_column(tmp_path: Path) -> None:
    rows = "".join(f"abc{i},{10.0 if i < 30 else 12.0},{i}\n" for i in range(50))
    path = _write(tmp_path / "s.csv", "commit,p99_ms,rps\n" + rows)
    with pytest.raises(UsageError, match="2 numeric columns"):
        load_file(path)
    series = load_file(path, "p99_ms")
    assert series.values[29:31] == [10.0, 12.0] and series.labels is not None
    assert series.labels[30] == "abc30" and series.metric == "p99_ms"


def test_single_column_csv_and_json(tmp_path: Path) -> None:
    assert load_file(_write(tmp_path / "a.csv", "ms\n1\n2.5\n")).values == [1.0, 2.5]
    assert load_file(_write(tmp_path / "a.json", "[1, 2.5, 3]")).values == [1.0, 2.5, 3.0]


@pytest.mark.parametrize(
    ("name", "text", "needle"),
    [
        ("e.csv", "", "empty"),
        ("h.csv", "ms\n", "empty"),
        ("n.csv", "ms\n1\n2\nabc\n", "line 4, column 'ms': 'abc' is not a number"),
        ("m.csv", "ms,commit\n1,a\n,b\n", "line 3, column 'ms': missing"),
        ("nan.csv", "ms\n1\nNaN\n", "line 3, column 'ms': missing or NaN"),
        ("x.json", "[]", "empty"),
        ("y.json", '[1, "2"]', 'item [1]: "2" is not a finite number'),
        ("z.json", '{"a": 1}', "expected a JSON list"),
        ("w.json", "[1,", "not valid JSON"),
    ],
)
def test_bad_files_name_the_place(tmp_path: Path, name: str, text: str, needle: str) -> None:
    path = _write(tmp_path / name, text)
    with pytest.raises(UsageError) as info:
        load_file(path)
    assert needle in info.value.message and str(path) in info.value.message


def test_missing_file_and_column(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        load_file(tmp_path / "nope.csv")
    path = _write(tmp_path / "c.csv", "a,b\n1,2\n")
    with pytest.raises(UsageError, match="no column 'c'"):
        load_file(path, "c")


def test_detect_series_directions_and_constant(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    values = np.r_[rng.normal(100, 1, 40), rng.normal(80, 1, 40)]
    path = _write(tmp_path / "rps.csv", "rps\n" + "\n".join(f"{v:.2f}" for v in values))
    result = detect_series(load_file(path))
    (change,) = result.change_points
    assert change.index == 40 and change.direction == "regression"  # rps: higher is better
    assert result.regressions(recent=10) == [] and result.regressions(recent=40) == [change]
    lower = detect_series(load_file(path), higher_is_better=False)
    assert lower.change_points[0].direction == "improvement"
    doc = result.to_json()
    assert set(doc["change_points"][0]) >= {"index", "before", "after", "change_pct", "p_value"}
    flat = _write(tmp_path / "flat.csv", "ms\n" + "5\n" * 20)
    with pytest.raises(UsageError, match=r"flat.csv, column 'ms': the series is constant"):
        detect_series(load_file(flat))


def test_cli_defaults_are_the_measured_ones() -> None:
    """The CLI spells its defaults out (importing scipy for them would slow every command)."""
    import inspect

    from perflab.cli.detect import detect
    from perflab.stats.changepoint import DetectOptions

    params = inspect.signature(detect).parameters
    options = DetectOptions()
    for name in ("method", "alpha", "penalty", "min_size", "trend_window", "scale"):
        assert params[name].default == getattr(options, name), name
