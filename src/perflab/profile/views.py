"""The files a finished profile gets beside its stacks, how a profile is named on the command
line, and the terminal table of a diff.

A profile is named the way runs are: a directory, a ``profile.json``, a bare ``.folded`` file
(from py-spy, perf or flamegraph.pl's collapse scripts: anything folded diffs), or an id
prefix the catalog knows.
"""

from __future__ import annotations

import io
from pathlib import Path

from perflab.errors import UsageError
from perflab.profile.artifact import FLAMEGRAPH_FILE, ProfileResult, load_profile
from perflab.profile.diff import ProfileDiff
from perflab.profile.flamegraph import render_flamegraph
from perflab.profile.folded import Stacks, parse_folded
from perflab.profile.speedscope import to_speedscope
from perflab.store.atomic import write_bytes_atomic, write_json_atomic

SPEEDSCOPE_FILE = "profile.speedscope.json"

__all__ = ["SPEEDSCOPE_FILE", "format_diff_table", "resolve_profile", "write_views"]


def write_views(result: ProfileResult, *, orientation: str = "flame") -> None:
    """The flame graph (offline HTML) and the speedscope file of a saved profile."""
    if result.path is None:
        raise UsageError("the profile has not been saved; nothing to write the views beside")
    meta = {
        "samples": f"{result.samples:,}",
        "duration": f"{result.duration_s:.1f} s",
        "rate": f"{result.rate_hz} Hz",
        "target": " ".join(result.target.to_json()["cmdline"])[:200] or f"PID {result.target.pid}",
        "sampler": " ".join(str(v) for v in result.sampler.values() if v),
    }
    page = render_flamegraph(
        result.stacks,
        title=result.name,
        meta=meta,
        orientation="icicle" if orientation == "icicle" else "flame",
        merge_lines=True,  # py-spy names the current line: one function would split in many
    )
    write_bytes_atomic(result.path / FLAMEGRAPH_FILE, page.encode())
    result.flamegraph = result.path / FLAMEGRAPH_FILE
    doc = to_speedscope(result.stacks, result.name, rate_hz=result.rate_hz, exporter="perflab")
    write_json_atomic(result.path / SPEEDSCOPE_FILE, doc)


def resolve_profile(ref: str) -> tuple[str, Stacks]:
    """(a short name, the stacks) of the profile ``ref`` names.

    Raises:
        UsageError: nothing by that name, a catalog row that is not a profile, bad stacks.
    """
    path = Path(ref)
    if path.exists():
        if path.is_file() and path.suffix != ".json":
            try:
                return path.stem, parse_folded(path.read_text(errors="replace"))
            except UsageError as exc:
                raise UsageError(f"{path}: {exc.message}") from None
        loaded = load_profile(path)
        return loaded.name or loaded.id[:8], loaded.stacks
    from perflab.store.catalog import Catalog

    with Catalog.open() as catalog:
        row = catalog.lookup(ref)
    if row is None:
        raise UsageError(
            f"no profile {ref!r}: not a path, and no profile id in the catalog starts with it"
        )
    if row.kind != "profile":
        raise UsageError(f"{ref!r} is a {row.kind} run, not a profile")
    loaded = load_profile(Path(row.path))
    return loaded.name or loaded.id[:8], loaded.stacks


def format_diff_table(diff: ProfileDiff, top: int = 20) -> str:
    """Changed functions first (the ranked order of the diff), then the largest others."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(
        title=(
            f"{diff.base_samples:,} → {diff.cand_samples:,} samples; changes of at least "
            f"{diff.min_effect_pct:g} points beyond sampling noise"
        ),
        title_justify="left",
    )
    for column in ("function", "total % base → cand", "change", "self % base → cand", "verdict"):
        table.add_column(column, justify="left" if column in ("function", "verdict") else "right")
    for row in diff.rows[:top]:
        verdict: str = row.verdict
        if row.explained_by_others and verdict != "no significant change":
            verdict = f"{verdict} (others grew)"
        style = {"grew": "red", "shrank": "blue"}.get(row.verdict, "")
        table.add_row(
            Text(row.function),
            f"{row.base_total_pct:.1f} → {row.cand_total_pct:.1f}",
            f"{row.total_change_pp:+.1f} pp",
            f"{row.base_self_pct:.1f} → {row.cand_self_pct:.1f}",
            Text(verdict, style=style),
        )
    console = Console(width=140, record=True, color_system=None, file=io.StringIO())
    console.print(table)
    hidden = len(diff.rows) - top
    text = console.export_text()
    return text + (f"({hidden} more functions; --top or --json for all)\n" if hidden > 0 else "")
