"""Folded stacks: parsing py-spy's real raw output (captured in data/), round trips, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from perflab.errors import UsageError
from perflab.profile.folded import (
    Frame,
    format_folded,
    merge,
    parse_folded,
    parse_frame,
    split_frames,
    total_samples,
)

DATA = Path(__file__).parent / "data"
HOT = (
    "<module> (servers/cpu_hot.py:72)",
    "main (servers/cpu_hot.py:66)",
    "run (servers/cpu_hot.py:51)",
    "one_round (servers/cpu_hot.py:38)",
)


def test_py_spy_command_capture_parses_with_its_frameless_sample() -> None:
    text = (DATA / "pyspy_command.raw").read_text()
    stacks = parse_folded(text)
    # independent count: the last word of every physical line (this file has no joins)
    assert total_samples(stacks) == sum(int(line.split()[-1]) for line in text.splitlines())
    assert total_samples(stacks) == 46
    assert stacks[(*HOT, "hot_loop (servers/cpu_hot.py:26)")] == 29
    assert stacks[(*HOT, "hot_loop (servers/cpu_hot.py:25)")] == 9
    assert stacks[()] == 1  # py-spy's " 1": a sample outside any Python frame
    assert all(frame for stack in stacks for frame in stack)


def test_py_spy_subprocess_capture_joins_multiline_command_lines() -> None:
    stacks = parse_folded((DATA / "pyspy_subprocesses.raw").read_text())
    assert total_samples(stacks) == 36
    assert len(stacks) == 7
    parent = next(iter(stacks))[0]
    assert parent.startswith('process 18047:"/work/main/.venv/bin/python -c import subprocess')
    assert "sys; x = 1 subprocess.run(" in parent  # ';' kept inside quotes, newline -> space
    assert parent.endswith('range(3 * 10**6))"')
    by_leaf: dict[str, int] = {}
    for stack, count in stacks.items():
        by_leaf[stack[-1].split(" (")[0]] = by_leaf.get(stack[-1].split(" (")[0], 0) + count
    assert by_leaf["hot_loop"] == 16
    assert by_leaf["warm"] == 6
    assert by_leaf["<genexpr>"] == 8
    child_only = [s for s in stacks if len(s) == 2 and s[1].startswith("process 18052:")]
    assert [stacks[s] for s in child_only] == [1]


@pytest.mark.parametrize("name", ["pyspy_command.raw", "pyspy_subprocesses.raw"])
def test_format_then_parse_is_the_identity(name: str) -> None:
    stacks = parse_folded((DATA / name).read_text())
    text = format_folded(stacks)
    assert parse_folded(text) == stacks
    assert format_folded(parse_folded(text)) == text  # deterministic bytes
    assert text.endswith("\n") and "\n\n" not in text


def test_format_sorts_stacks_and_drops_zero_counts() -> None:
    text = format_folded({("b",): 2, ("a", "c"): 1, ("z",): 0})
    assert text == "a;c 1\nb 2\n"


def test_blank_lines_crlf_and_repeated_stacks_add_up() -> None:
    text = "\r\na;b (x.py:1) 2\r\n\n   \na;b (x.py:1) 3\r\nc 0\n"
    assert parse_folded(text) == {("a", "b (x.py:1)"): 5}


def test_semicolons_inside_parentheses_do_not_split() -> None:
    stacks = parse_folded("main;ns::f(int; char) (libx.so);leaf (a.py:3) 4\n")
    assert stacks == {("main", "ns::f(int; char) (libx.so)", "leaf (a.py:3)"): 4}


def test_unbalanced_parenthesis_falls_back_to_plain_splitting() -> None:
    assert split_frames("f(;g;h") == ["f(", "g", "h"]
    assert parse_folded("f(;g 1") == {("f(", "g"): 1}


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("a;b 1\n\na;b\n", 3, "expected 'frame;frame;... COUNT'"),
        ("a;b -3\n", 1, "not a whole number"),
        ("a;b 1.5\n", 1, "not a whole number"),
        ("x 1\na;;b 2\n", 2, "empty frame"),
    ],
)
def test_bad_lines_are_usage_errors_naming_the_line(text: str, line: int, words: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_folded(text)
    assert f"line {line}:" in err.value.message
    assert words in err.value.message
    assert "\n" not in err.value.one_line()


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        ("hot (app.py:12)", Frame("hot", "app.py", 12)),
        ("<module> (<string>:8)", Frame("<module>", "<string>", 8)),
        ("read (libc.so.6)", Frame("read", "libc.so.6", None)),
        ("0x7f8b3fc4524a (libc.so.6)", Frame("0x7f8b3fc4524a", "libc.so.6", None)),
        ("read_zero ([kernel.kallsyms])", Frame("read_zero", "[kernel.kallsyms]", None)),
        ("operator() (libfoo.so)", Frame("operator()", "libfoo.so", None)),
        ("f (C:\\app\\x.py:3)", Frame("f", "C:\\app\\x.py", 3)),
        (
            "_load (<frozen importlib._bootstrap>:690)",
            Frame("_load", "<frozen importlib._bootstrap>", 690),
        ),
        ("[unknown]", Frame("[unknown]", "", None)),
        ('process 7:"python app.py"', Frame('process 7:"python app.py"', "", None)),
        ("hot (app.py:x1)", Frame("hot", "app.py:x1", None)),
    ],
)
def test_parse_frame(frame: str, expected: Frame) -> None:
    assert parse_frame(frame) == expected


def test_merge_adds_samples_and_leaves_inputs_alone() -> None:
    a = {("x",): 1, ("x", "y"): 2}
    b = {("x", "y"): 3, ("z",): 4}
    merged = merge(a, b)
    assert merged == {("x",): 1, ("x", "y"): 5, ("z",): 4}
    assert a == {("x",): 1, ("x", "y"): 2} and total_samples(merged) == 10
