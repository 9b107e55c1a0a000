"""The target process in a run report: its memory, descriptors and threads over the run
with the leak verdict, and the CPU profile taken during the run's steady part.

The report renders what it is given (plain documents: the memory rows and verdict, the
profile's summary); reading those from the run directory is the caller's job, so the
report never depends on the profiling engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from perflab.report.html.figures import SIDE_LEGEND, Figure, elapsed_ms, layout, line

MB = 1024.0 * 1024.0


def memory_figure(rows: Sequence[Mapping[str, Any]], verdict: Mapping[str, Any] | None) -> Figure:
    """RSS on the left axis; file descriptors, threads and connections on the right."""
    x = elapsed_ms([float(r["t"]) for r in rows])
    title = "Target process: memory and resources"
    if verdict and verdict.get("text"):
        title += f" — {verdict['text']}"
    traces = [
        line(x, [r["rss_bytes"] / MB for r in rows], "RSS (MB)", "#2563eb"),
    ]
    for key, name, color in (
        ("num_fds", "open files", "#db2777"),
        ("num_threads", "threads", "#16a34a"),
        ("connections", "connections", "#9333ea"),
    ):
        values = [float("nan") if r.get(key) is None else float(r[key]) for r in rows]
        if any(r.get(key) is not None for r in rows):  # NaN: a gap (no permission to read)
            traces.append(
                line(
                    x,
                    values,
                    name,
                    color,
                    yaxis="y2",
                    line={"color": color, "width": 1.2, "dash": "dot"},
                )
            )
    span_s = float(rows[-1]["t"]) if rows else 0.0
    fig_layout = layout(title, "RSS (MB)", span_s=span_s, legend=SIDE_LEGEND)
    fig_layout["yaxis"]["rangemode"] = "normal"  # growth is the point: do not flatten it
    fig_layout["yaxis2"] = {
        "title": {"text": "count"},
        "overlaying": "y",
        "side": "right",
        "rangemode": "tozero",
        "showgrid": False,
    }
    fig_layout["margin"]["r"] = 150
    return {"data": traces, "layout": fig_layout}
