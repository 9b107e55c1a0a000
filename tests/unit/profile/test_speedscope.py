"""speedscope export: the schema's required keys and types, and that it holds the same profile.

The required keys are those of https://www.speedscope.app/file-format-schema.json
(FileFormat.File, FileFormat.Frame, FileFormat.SampledProfile, FileFormat.ValueUnit).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from perflab.profile.folded import parse_folded, parse_frame, total_samples
from perflab.profile.speedscope import SPEEDSCOPE_SCHEMA, to_speedscope

DATA = Path(__file__).parent / "data"
FILE_REQUIRED = {"$schema", "profiles", "shared"}
SAMPLED_REQUIRED = {"type", "name", "unit", "startValue", "endValue", "samples", "weights"}
UNITS = {"bytes", "microseconds", "milliseconds", "nanoseconds", "none", "seconds"}


def _check_schema(doc: dict[str, Any]) -> None:
    assert FILE_REQUIRED <= doc.keys()
    assert doc["$schema"] == SPEEDSCOPE_SCHEMA
    frames = doc["shared"]["frames"]
    assert isinstance(frames, list)
    for frame in frames:
        assert isinstance(frame["name"], str)
        assert set(frame) <= {"name", "file", "line", "col"}
        assert isinstance(frame.get("file", ""), str)
        assert isinstance(frame.get("line", 0), int | float)
    assert isinstance(doc.get("name", ""), str)
    assert isinstance(doc.get("activeProfileIndex", 0), int | float)
    for profile in doc["profiles"]:
        assert SAMPLED_REQUIRED <= profile.keys()
        assert profile["type"] == "sampled"
        assert profile["unit"] in UNITS
        assert len(profile["samples"]) == len(profile["weights"])
        for sample in profile["samples"]:
            assert all(isinstance(i, int) and 0 <= i < len(frames) for i in sample)
        assert all(isinstance(w, int | float) for w in profile["weights"])
        assert profile["startValue"] <= profile["endValue"]


def _stacks_back(doc: dict[str, Any]) -> dict[tuple[str, ...], float]:
    """The profile as (function, file, line) stacks, read from the document alone."""
    frames = doc["shared"]["frames"]
    profile = doc["profiles"][0]
    out: dict[tuple[str, ...], float] = {}
    for sample, weight in zip(profile["samples"], profile["weights"], strict=True):
        key = tuple(
            f"{frames[i]['name']}|{frames[i].get('file')}|{frames[i].get('line')}" for i in sample
        )
        out[key] = out.get(key, 0) + weight
    return out


@pytest.mark.parametrize("name", ["pyspy_command.raw", "pyspy_subprocesses.raw"])
def test_real_profiles_export_to_valid_speedscope(name: str) -> None:
    stacks = parse_folded((DATA / name).read_text())
    doc = json.loads(json.dumps(to_speedscope(stacks, "cpu_hot", exporter="perflab test")))
    _check_schema(doc)
    assert doc["exporter"] == "perflab test" and doc["name"] == "cpu_hot"
    profile = doc["profiles"][0]
    assert profile["unit"] == "none"
    assert sum(profile["weights"]) == total_samples(stacks) == profile["endValue"]
    expected: dict[tuple[str, ...], float] = {}
    for stack, count in stacks.items():
        key = tuple(
            f"{f.function}|{f.file or None}|{f.line}" for f in (parse_frame(s) for s in stack)
        )
        expected[key] = expected.get(key, 0) + count
    assert _stacks_back(doc) == expected


def test_frames_are_shared_once_with_locations() -> None:
    stacks = {
        ("main (app.py:3)", "hot (app.py:12)"): 3,
        ("main (app.py:3)", "read (libc.so.6)"): 1,
        ("[unknown]",): 1,
    }
    doc = to_speedscope(stacks, "x")
    frames = doc["shared"]["frames"]
    assert len(frames) == 4  # main appears in two stacks, listed once
    assert {"name": "hot", "file": "app.py", "line": 12} in frames
    assert {"name": "read", "file": "libc.so.6"} in frames
    assert {"name": "[unknown]"} in frames


def test_a_known_rate_gives_weights_in_seconds() -> None:
    doc = to_speedscope({("a (x.py:1)",): 150, ("b (x.py:2)",): 50}, "x", rate_hz=100)
    profile = doc["profiles"][0]
    assert profile["unit"] == "seconds"
    assert sorted(profile["weights"]) == [0.5, 1.5]
    assert profile["endValue"] == pytest.approx(2.0)
    _check_schema(doc)
