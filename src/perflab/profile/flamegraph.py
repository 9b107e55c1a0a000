"""Flame graphs as one self-contained, interactive HTML page (Gregg's flame graph, offline).

**Server-side tree.** The stacks are merged into a prefix tree here, in Python, and the page
receives that tree, not the stacks: 50,000 distinct stacks share most of their prefixes, so
the tree is far smaller, and the browser only lays it out. Frames whose total is below
``min_share`` of all samples (0.1 % by default, about one pixel of a 1,000-pixel graph) are
pruned before embedding; a pruned frame's samples stay in its ancestors' totals, so every
width and percentage shown is exact and the pruned samples show as a gap at the end of their
parent. The search's "Matched" share is computed over the embedded frames, so it misses
matches that lie only in pruned frames; the page says how many samples were pruned.

**Page.** One file that works offline: the template inlines its CSS and script, and the tree
is embedded as compact JSON (parallel arrays in preorder; ``<``, ``>`` and ``&`` escaped so
no frame name can close the script). Frames are absolutely positioned ``div`` elements,
re-drawn on zoom, so a search's matches are visible in the DOM (``.f.match``) and after
drawing ``<body>`` carries ``data-rendered``, ``data-frames`` (frames drawn) and
``data-matched`` (drawn frames matching the search), which is what the browser tests read.
The URL fragment ``#search=REGEX&orientation=icicle`` applies a search and orientation on
load. A script error is logged as ``console.error("perflab: ...")``, shown on the page and
marked ``data-failed="1"``. The differential flame graph (:mod:`perflab.profile.diff`) uses
the same template and script with ``mode == "diff"``.

**Colors** come from a hash of the function name (not Python's salted ``hash``), in Gregg's
warm palette, so one function has one color on every line, in every profile and every run.

**Frames** are strings as py-spy writes them, ``name (file:line)``; a native frame may have
no location. Frames are kept as written, so lines of one function are separate frames, as in
py-spy's own flame graphs; the differential view merges them (see :func:`function_key`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import jinja2

from perflab.model.htmljson import script_json

__all__ = [
    "DEFAULT_MIN_SHARE",
    "FrameTree",
    "Orientation",
    "build_tree",
    "frame_color",
    "function_key",
    "render_flamegraph",
    "split_frame",
    "visible_nodes",
]

Stacks = Mapping[tuple[str, ...], int]
Orientation = Literal["flame", "icicle"]
TEMPLATES = Path(__file__).parent / "templates"
DEFAULT_MIN_SHARE = 0.001
ROOT = "all"


def split_frame(frame: str) -> tuple[str, str]:
    """``"hot_loop (app.py:12)"`` -> ``("hot_loop", "app.py:12")``; no location -> ``""``.

    The location is the last parenthesised group, so a name that itself holds parentheses
    keeps them.
    """
    if frame.endswith(")"):
        name, sep, location = frame[:-1].rpartition(" (")
        if sep and name:
            return name, location
    return frame, ""


def function_key(frame: str) -> str:
    """The frame without its line number: ``"hot_loop (app.py:12)"`` -> ``"hot_loop (app.py)"``.

    py-spy reports the line being executed when the sample was taken, so one function shows
    up under many lines and the set of lines moves with any edit to the file; comparing
    profiles by line would report noise and renumbering as change.
    """
    name, location = split_frame(frame)
    file, sep, line = location.rpartition(":")
    if sep and line.isdigit():
        location = file
    return f"{name} ({location})" if location else name


def frame_color(function: str) -> str:
    """Gregg's "hot" palette (reds, oranges, yellows), picked by a stable hash of ``function``."""
    digest = hashlib.blake2b(function.encode("utf-8", "surrogatepass"), digest_size=3).digest()
    v1, v2, v3 = (byte / 255.0 for byte in digest)
    return f"#{205 + int(50 * v3):02x}{int(230 * v1):02x}{int(55 * v2):02x}"


@dataclass
class FrameTree:
    """Stacks merged by common prefix; node 0 is the root, whose total is every sample.

    A node's ``total`` counts the samples whose stack passes through it, its ``self_`` those
    whose stack ends there; so ``total == self_ + sum(children's totals)`` for every node.
    Per frame, whatever the path: ``containing`` counts the samples whose stack holds the
    frame (once, however deep it recurses), ``ending`` those whose stack ends in it.
    """

    frames: list[str] = field(default_factory=lambda: [ROOT])
    total: list[int] = field(default_factory=lambda: [0])
    self_: list[int] = field(default_factory=lambda: [0])
    children: list[dict[str, int]] = field(default_factory=lambda: [{}])
    containing: dict[str, int] = field(default_factory=dict)
    ending: dict[str, int] = field(default_factory=dict)

    @property
    def samples(self) -> int:
        return self.total[0]

    def add(self, stack: Sequence[str], count: int) -> None:
        node = 0
        self.total[0] += count
        for frame in stack:
            kids = self.children[node]
            child = kids.get(frame)
            if child is None:
                child = kids[frame] = len(self.frames)
                self.frames.append(frame)
                self.total.append(0)
                self.self_.append(0)
                self.children.append({})
            self.total[child] += count
            node = child
        self.self_[node] += count
        for frame in set(stack):
            self.containing[frame] = self.containing.get(frame, 0) + count
        if stack:
            self.ending[stack[-1]] = self.ending.get(stack[-1], 0) + count


def build_tree(stacks: Stacks, frame_key: Callable[[str], str] | None = None) -> FrameTree:
    """Merge ``stacks`` (root to leaf -> samples) into a tree, each frame mapped by ``frame_key``.

    Raises:
        ValueError: a negative sample count (a profile cannot un-sample).
    """
    tree = FrameTree()
    keys: dict[str, str] = {}  # a profile repeats a few thousand frames in 50,000 stacks
    for stack, count in stacks.items():
        if count < 0:
            raise ValueError(f"negative sample count {count} for stack {stack!r}")
        if count and frame_key is None:
            tree.add(stack, int(count))
        elif count and frame_key is not None:
            mapped = [keys.get(f) or keys.setdefault(f, frame_key(f)) for f in stack]
            tree.add(mapped, int(count))
    return tree


def visible_nodes(tree: FrameTree, min_share: float = DEFAULT_MIN_SHARE) -> list[tuple[int, int]]:
    """``(node, depth)`` in preorder, children by frame name, without frames below ``min_share``.

    A pruned frame's subtree goes with it (nothing under it can be wider); the root is always
    kept. Iterative, because py-spy stacks can be deeper than Python's recursion limit.
    """
    limit = min_share * tree.samples
    order: list[tuple[int, int]] = []
    pending = [(0, 0)]
    while pending:
        node, depth = pending.pop()
        order.append((node, depth))
        kids = tree.children[node]
        ordered = [kids[name] for name in sorted(kids, reverse=True)]  # popped in name order
        pending.extend((kid, depth + 1) for kid in ordered if tree.total[kid] >= limit)
    return order


def _names(tree: FrameTree, order: list[tuple[int, int]]) -> tuple[list[str], list[int]]:
    """Every distinct frame, the root first, then drawn frames, then the rest, and each drawn
    node's index into them. Frames only in pruned subtrees are listed too, so a search finds
    them and the page can tell how much of the matched share it could not draw."""
    index: dict[str, int] = {}
    for node, _ in order[1:]:
        index.setdefault(tree.frames[node], len(index) + 1)
    for frame in tree.containing:
        index.setdefault(frame, len(index) + 1)
    refs = [0] + [index[tree.frames[node]] for node, _ in order[1:]]
    return [ROOT, *index], refs


def page_data(
    tree: FrameTree,
    order: list[tuple[int, int]],
    colors: Sequence[str],
    mode: Literal["flame", "diff"],
    **extra: Any,
) -> dict[str, Any]:
    """The JSON the page's script reads: parallel arrays over ``order`` plus ``extra`` fields.

    ``colors`` holds one CSS color per node of ``order``; they are stored once each in a
    palette, so a graph with 5,000 frames of 300 functions ships 300 color strings. ``t``
    is, per name, the samples whose stack holds it: with it the page's "Matched" share is
    exact when one frame matches, and bounded when several do and some lie in pruned frames.
    """
    frames, refs = _names(tree, order)
    palette: dict[str, int] = {}
    color_refs = [palette.setdefault(color, len(palette)) for color in colors]
    drawn = {node for node, _ in order}
    hidden = sum(
        tree.total[kid]
        for node, _ in order
        for kid in tree.children[node].values()
        if kid not in drawn
    )
    return {
        "mode": mode,
        "total": tree.samples,
        "hidden": hidden,
        "names": [list(split_frame(frame)) for frame in frames],
        "t": [tree.samples, *(tree.containing[frame] for frame in frames[1:])],
        "palette": list(palette),
        "n": refs,
        "d": [depth for _, depth in order],
        "v": [tree.total[node] for node, _ in order],
        "s": [tree.self_[node] for node, _ in order],
        "c": color_refs,
        **extra,
    }


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_page(
    data: dict[str, Any],
    *,
    title: str,
    meta: Mapping[str, str] | None,
    orientation: Orientation,
    min_share: float,
    table: Sequence[Mapping[str, Any]] = (),
    table_omitted: int = 0,
) -> str:
    """The page around ``data``; ``table`` rows (the diff's ranking) are drawn below the graph,
    followed by a line saying ``table_omitted`` more rows were left out."""
    if orientation not in ("flame", "icicle"):
        raise ValueError(f"orientation must be 'flame' or 'icicle', not {orientation!r}")
    return (
        _environment()
        .get_template("flamegraph.html.j2")
        .render(
            title=title,
            meta=dict(meta or {}),
            orientation=orientation,
            min_share_pct=f"{min_share * 100:g}",
            data=script_json(data),
            mode=data["mode"],
            samples=data["total"],
            hidden=data["hidden"],
            frames=len(data["n"]),
            table=list(table),
            table_omitted=table_omitted,
        )
    )


def render_flamegraph(
    stacks: Stacks,
    *,
    title: str,
    meta: Mapping[str, str] | None = None,
    orientation: Orientation = "flame",
    min_share: float = DEFAULT_MIN_SHARE,
    merge_lines: bool = False,
) -> str:
    """One self-contained HTML page with the interactive flame graph of ``stacks``.

    Args:
        stacks: Frames root to leaf, as py-spy writes them, mapped to their sample counts.
        title: The page's title and heading.
        meta: Shown under the title (command, duration, sampling rate, ...).
        orientation: ``"flame"`` puts the root at the bottom, ``"icicle"`` at the top; the
            page can toggle between them.
        min_share: Frames with fewer samples than this share of all are not embedded.
        merge_lines: One frame per function and file instead of per line (py-spy's
            ``--nolineno``), see :func:`function_key`.
    """
    tree = build_tree(stacks, function_key if merge_lines else None)
    order = visible_nodes(tree, min_share)
    colors = ["#d9d9d9" if not node else _function_color(tree.frames[node]) for node, _ in order]
    data = page_data(tree, order, colors, "flame")
    return render_page(data, title=title, meta=meta, orientation=orientation, min_share=min_share)


def _function_color(frame: str) -> str:
    return frame_color(split_frame(frame)[0])
