"""The "top functions" view of a profile: where the samples landed, by function.

Self samples are the samples whose leaf frame is the function (time spent in its own code);
total samples are the samples with the function anywhere on the stack (time spent in it or
below it). A recursive function is counted once per stack for its total, so no total ever
exceeds 100 %.

By default a function is keyed by (name, file), not (name, file, line). py-spy writes the
line *being executed* in each frame, so one function arrives as several frames (``hot
(app.py:25)``, ``hot (app.py:26)``); splitting it by line would scatter its time over rows
and rank it below a smaller function that happens to sit on one line. The row reports the
smallest line seen, the closest thing to the ``def`` line the samples know (py-spy's
``--function`` flag would record the def line itself, at the cost of per-line flame graphs).
``by_line=True`` keys by the exact frame for line-level hot spots.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass

from perflab.profile.folded import parse_frame, total_samples

__all__ = ["TopRow", "format_top_table", "top_functions"]


@dataclass(frozen=True)
class TopRow:
    """One function's share of the profile; percentages are of all samples (0-100)."""

    function: str
    file: str
    line: int | None
    self_samples: int
    total_samples: int
    self_pct: float
    total_pct: float


def top_functions(
    stacks: Mapping[tuple[str, ...], int], n: int | None = 20, *, by_line: bool = False
) -> list[TopRow]:
    """The ``n`` functions with the most self samples (all of them when ``n`` is None),
    ties broken by total samples, then by name and file so the order is stable."""
    self_counts: dict[tuple[str, str, int | None], int] = {}
    total_counts: dict[tuple[str, str, int | None], int] = {}
    lines: dict[tuple[str, str, int | None], int | None] = {}
    keys_of: dict[str, tuple[str, str, int | None]] = {}

    def key_of(frame: str) -> tuple[str, str, int | None]:
        key = keys_of.get(frame)
        if key is None:
            parsed = parse_frame(frame)
            key = (parsed.function, parsed.file, parsed.line if by_line else None)
            keys_of[frame] = key
            seen = lines.get(key)
            if seen is None or (parsed.line is not None and parsed.line < seen):
                lines[key] = parsed.line
        return key

    for frames, count in stacks.items():
        if not frames or count <= 0:
            continue
        leaf = key_of(frames[-1])
        self_counts[leaf] = self_counts.get(leaf, 0) + count
        for key in {key_of(frame) for frame in frames}:
            total_counts[key] = total_counts.get(key, 0) + count

    grand = total_samples(stacks) or 1
    rows = [
        TopRow(
            function=key[0],
            file=key[1],
            line=lines.get(key),
            self_samples=self_counts.get(key, 0),
            total_samples=total,
            self_pct=100.0 * self_counts.get(key, 0) / grand,
            total_pct=100.0 * total / grand,
        )
        for key, total in total_counts.items()
    ]
    rows.sort(key=lambda r: (-r.self_samples, -r.total_samples, r.function, r.file))
    return rows if n is None else rows[: max(n, 0)]


def _location(row: TopRow) -> str:
    if not row.file:
        return ""
    return f"{row.file}:{row.line}" if row.line is not None else row.file


def format_top_table(rows: list[TopRow], *, width: int = 120, title: str | None = None) -> str:
    """A plain-text table (no colour codes) for a terminal or a log file."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text  # not markup: "[unknown]" and "[kernel.kallsyms]" are names

    table = Table(title=title, title_justify="left", box=None, pad_edge=False)
    table.add_column("self %", justify="right")
    table.add_column("total %", justify="right")
    table.add_column("self", justify="right")
    table.add_column("total", justify="right")
    table.add_column("function", overflow="fold")
    table.add_column("location", overflow="fold")
    for r in rows:
        table.add_row(
            f"{r.self_pct:.1f}",
            f"{r.total_pct:.1f}",
            f"{r.self_samples:,}",
            f"{r.total_samples:,}",
            Text(r.function),
            Text(_location(r)),
        )
    out = io.StringIO()
    Console(file=out, width=width, color_system=None, force_terminal=False).print(table)
    return out.getvalue()
