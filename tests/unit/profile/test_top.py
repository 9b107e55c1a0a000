"""Top functions: self and total time, grouping of a function's lines, recursion, the table."""

from __future__ import annotations

from pathlib import Path

import pytest

from perflab.profile.folded import parse_folded
from perflab.profile.top import TopRow, format_top_table, top_functions

DATA = Path(__file__).parent / "data"


def _capture() -> tuple[dict[tuple[str, ...], int], list[tuple[list[str], int]]]:
    text = (DATA / "pyspy_command.raw").read_text()
    raw = []
    for line in text.splitlines():
        stack, count = line.rsplit(" ", 1)
        raw.append((stack.split(";") if stack.strip() else [], int(count)))
    return parse_folded(text), raw


def test_default_groups_a_functions_lines_and_reports_the_smallest() -> None:
    stacks, raw = _capture()
    grand = sum(c for _, c in raw)
    rows = top_functions(stacks, 3)
    assert [r.function for r in rows[:2]] == ["hot_loop", "warm"]
    hot = rows[0]
    # independent: every line whose leaf is hot_loop, whatever its line number
    expected = sum(c for frames, c in raw if frames and frames[-1].startswith("hot_loop ("))
    assert hot.self_samples == expected == 38
    assert (hot.file, hot.line) == ("servers/cpu_hot.py", 25)
    assert hot.self_pct == pytest.approx(100 * 38 / grand)
    assert hot.total_samples == hot.self_samples  # a leaf function
    assert len(rows) == 3


def test_by_line_keeps_each_line_apart() -> None:
    stacks, _ = _capture()
    rows = top_functions(stacks, None, by_line=True)
    hot = {r.line: r.self_samples for r in rows if r.function == "hot_loop"}
    assert hot == {26: 29, 25: 9}
    assert rows[0].function == "hot_loop" and rows[0].line == 26


def test_total_counts_a_recursive_function_once_per_stack() -> None:
    stacks = {
        ("main (a.py:1)", "f (a.py:5)", "f (a.py:6)", "f (a.py:5)"): 6,
        ("main (a.py:1)", "g (a.py:9)"): 4,
    }
    rows = {r.function: r for r in top_functions(stacks)}
    assert rows["f"].total_samples == 6 and rows["f"].total_pct == pytest.approx(60.0)
    assert rows["f"].self_samples == 6
    assert rows["main"].total_samples == 10 and rows["main"].total_pct == pytest.approx(100.0)
    by_line = {(r.function, r.line): r for r in top_functions(stacks, by_line=True)}
    assert by_line[("f", 5)].total_samples == 6  # twice on the stack, counted once
    assert by_line[("f", 6)].total_samples == 6 and by_line[("f", 6)].self_samples == 0


def test_ties_on_self_go_to_the_larger_total_then_the_name() -> None:
    stacks = {
        ("z (x.py:1)",): 5,
        ("y (x.py:1)",): 5,
        ("y (x.py:1)", "b (x.py:1)"): 5,
    }
    rows = top_functions(stacks)
    assert [(r.function, r.self_samples, r.total_samples) for r in rows] == [
        ("y", 5, 10),
        ("b", 5, 5),
        ("z", 5, 5),
    ]


def test_frameless_samples_count_in_the_percentages() -> None:
    rows = top_functions({(): 1, ("a (x.py:3)",): 3})
    assert [(r.function, r.self_pct) for r in rows] == [("a", 75.0)]


def test_same_name_in_two_files_are_two_functions() -> None:
    rows = top_functions({("run (a.py:1)",): 2, ("run (b.py:7)",): 1})
    assert [(r.file, r.self_samples) for r in rows] == [("a.py", 2), ("b.py", 1)]


def test_n_limits_and_empty_profile() -> None:
    stacks, _ = _capture()
    assert len(top_functions(stacks, 2)) == 2
    assert len(top_functions(stacks, None)) > 2
    assert top_functions(stacks, 0) == []
    assert top_functions({}) == []


def test_table_shows_names_that_look_like_markup() -> None:
    row = TopRow("[unknown]", "[kernel.kallsyms]", None, 3, 4, 75.0, 100.0)
    text = format_top_table([row, TopRow("hot", "app.py", 12, 1, 1, 25.0, 25.0)])
    assert "[unknown]" in text and "[kernel.kallsyms]" in text
    assert "app.py:12" in text and "75.0" in text and "100.0" in text
    header = text.splitlines()[0].split()
    assert header[:4] == ["self", "%", "total", "%"]
    assert "\x1b[" not in text  # no colour codes in a log file
