"""Folded stacks: the one in-memory form of a sampled profile, and its text format.

A profile is a :data:`Stacks` mapping, each key a stack of frames from the root to the leaf
and each value the number of samples that caught exactly that stack. Frames are kept as the
strings the sampler wrote (``hot (app.py:12)``, ``read_zero ([kernel.kallsyms])``), so a
profile round-trips through ``stacks.folded`` byte for byte and every tool that reads
Brendan Gregg's folded format (flamegraph.pl, speedscope, inferno) reads ours.
:func:`parse_frame` splits a frame into function, file and line only where a view needs them.

The text format is one stack per line: frames joined by ``;``, a space, the count. py-spy's
raw output bends it in three ways this parser accepts:

- a frame may contain ``;`` inside parentheses or double quotes (a C++ signature, a
  subprocess's command line ``process 12:"python -c 'a; b'"``): separators count only outside
  both;
- a ``process N:"..."`` frame (``--subprocesses``) may span lines when the command line holds
  newlines: a line whose double quotes are unbalanced continues on the next one, and the
  newline becomes a space;
- a line holding only a count is a sample with no frames (py-spy writes one when it caught a
  thread outside any Python frame, e.g. while it starts): its key is the empty tuple, and
  it counts in the total, so percentages stay shares of every sample taken.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from perflab.errors import UsageError

__all__ = [
    "Frame",
    "Stacks",
    "format_folded",
    "merge",
    "parse_folded",
    "parse_frame",
    "split_frames",
    "total_samples",
]

Stacks = dict[tuple[str, ...], int]

# "name (location)" where location has no parentheses: the last such group is the location,
# so "operator() (libfoo.so)" keeps "operator()" as the name.
_FRAME = re.compile(r"^(?P<name>.*?) \((?P<loc>[^()]*)\)$")


@dataclass(frozen=True)
class Frame:
    """A frame split for display and aggregation; ``file`` is "" and ``line`` None when the
    sampler gave no location (a process frame) or no line (a native frame's library)."""

    function: str
    file: str
    line: int | None


def parse_frame(frame: str) -> Frame:
    """``hot (app.py:12)`` -> Frame("hot", "app.py", 12); ``read (libc.so.6)`` ->
    Frame("read", "libc.so.6", None); anything else is all function."""
    match = _FRAME.match(frame)
    if match is None:
        return Frame(frame, "", None)
    name, loc = match["name"], match["loc"]
    file, sep, line = loc.rpartition(":")
    if sep and line.isdigit() and file:
        return Frame(name, file, int(line))
    return Frame(name, loc, None)


def split_frames(stack: str) -> list[str]:
    """Split on ``;`` outside parentheses and double quotes; if they never balance (a name
    with a stray ``(``), every ``;`` separates, as in plain folded files."""
    frames: list[str] = []
    depth, quoted, start = 0, False, 0
    for i, char in enumerate(stack):
        if char == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif char == "(":
            depth += 1
        elif char == ")":
            depth = max(depth - 1, 0)
        elif char == ";" and depth == 0:
            frames.append(stack[start:i])
            start = i + 1
    if depth or quoted:
        return stack.split(";")
    frames.append(stack[start:])
    return frames


def _logical_lines(text: str) -> Iterable[tuple[int, str]]:
    """(first line number, line) with quote-spanning lines joined; blank lines dropped."""
    pending: list[str] = []
    first = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r")
        if not pending:
            if not line.strip():
                continue
            first = number
        pending.append(line)
        joined = " ".join(pending)
        if joined.count('"') % 2 == 0:
            pending = []
            yield first, joined
    if pending:  # an unclosed quote to the end: report it where it started
        yield first, " ".join(pending)


def parse_folded(text: str) -> Stacks:
    """Stacks from folded text; the same stack on several lines adds up.

    Raises:
        UsageError: a line does not end with a whole, non-negative count, or has an empty
            frame; the message names the line.
    """
    stacks: Stacks = {}
    for number, line in _logical_lines(text):
        parts = line.rsplit(None, 1)
        stack_text, count_text = parts if len(parts) == 2 else ("", parts[0])
        where = f"folded stacks, line {number}"
        if not stack_text and not count_text.isdigit():
            raise UsageError(f"{where}: expected 'frame;frame;... COUNT', got {line[:80]!r}")
        if not count_text.isdigit():
            raise UsageError(f"{where}: the count {count_text[:20]!r} is not a whole number")
        stack_text = stack_text.strip()
        frames = tuple(split_frames(stack_text)) if stack_text else ()
        if any(not frame for frame in frames):
            raise UsageError(f"{where}: empty frame in {stack_text[:80]!r}")
        count = int(count_text)
        if count:
            stacks[frames] = stacks.get(frames, 0) + count
    return stacks


def format_folded(stacks: Mapping[tuple[str, ...], int]) -> str:
    """Folded text, stacks sorted so the same profile always gives the same bytes.

    Frames are written as they are: a frame with a newline or a ``;`` outside parentheses
    and quotes would not read back the same (the samplers' frames never have them).
    """
    lines = [
        f"{';'.join(frames)} {count}".lstrip() for frames, count in sorted(stacks.items()) if count
    ]
    return "".join(line + "\n" for line in lines)


def merge(a: Mapping[tuple[str, ...], int], b: Mapping[tuple[str, ...], int]) -> Stacks:
    """A new profile holding the samples of both (e.g. two processes, or two runs)."""
    out: Stacks = dict(a)
    for frames, count in b.items():
        out[frames] = out.get(frames, 0) + count
    return out


def total_samples(stacks: Mapping[tuple[str, ...], int]) -> int:
    return sum(stacks.values())
