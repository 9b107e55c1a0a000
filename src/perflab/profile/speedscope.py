"""A profile as a speedscope file (https://www.speedscope.app/file-format-schema.json).

speedscope opens it offline and adds what a static flame graph lacks: the left-heavy view,
a sandwich (callers and callees of one function) and search. We write one "sampled" profile
whose frames live in the shared table, each with its name, file and line as
:func:`~perflab.profile.folded.parse_frame` reads them, so speedscope can show source
locations.

Folded stacks are already aggregated, so each distinct stack is one sample weighted by its
count (in seconds when the sampling rate is known): the time-ordered view shows stacks
grouped in sorted order, not as they happened. The left-heavy and sandwich views, which are
the ones a sampled profile is read with, are exact.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from perflab.profile.folded import parse_frame

__all__ = ["SPEEDSCOPE_SCHEMA", "to_speedscope"]

SPEEDSCOPE_SCHEMA = "https://www.speedscope.app/file-format-schema.json"


def to_speedscope(
    stacks: Mapping[tuple[str, ...], int],
    name: str,
    *,
    rate_hz: float | None = None,
    exporter: str | None = None,
) -> dict[str, Any]:
    """The speedscope document; ``json.dumps`` it to a ``.speedscope.json`` file.

    Args:
        stacks: the profile.
        name: shown as the profile's title.
        rate_hz: samples per second; weights are then seconds, else sample counts.
        exporter: who wrote it, e.g. ``"perflab 1.2.0"`` (speedscope displays it).
    """
    index: dict[str, int] = {}
    frames: list[dict[str, Any]] = []
    samples: list[list[int]] = []
    weights: list[float] = []
    for stack, count in sorted(stacks.items()):
        if count <= 0:  # an empty stack stays: its weight is part of the total
            continue
        ids = []
        for frame in stack:
            frame_id = index.get(frame)
            if frame_id is None:
                frame_id = index[frame] = len(frames)
                frames.append(_frame(frame))
            ids.append(frame_id)
        samples.append(ids)
        weights.append(count / rate_hz if rate_hz else count)
    doc: dict[str, Any] = {
        "$schema": SPEEDSCOPE_SCHEMA,
        "shared": {"frames": frames},
        "profiles": [
            {
                "type": "sampled",
                "name": name,
                "unit": "seconds" if rate_hz else "none",
                "startValue": 0,
                "endValue": sum(weights),
                "samples": samples,
                "weights": weights,
            }
        ],
        "name": name,
        "activeProfileIndex": 0,
    }
    if exporter:
        doc["exporter"] = exporter
    return doc


def _frame(frame: str) -> dict[str, Any]:
    parsed = parse_frame(frame)
    out: dict[str, Any] = {"name": parsed.function}
    if parsed.file:
        out["file"] = parsed.file
    if parsed.line is not None:
        out["line"] = parsed.line
    return out
