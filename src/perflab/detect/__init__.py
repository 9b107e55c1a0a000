"""Regression detection over history: change points of a metric's series (uses stats).

``detect_series(load_file(path))`` or ``detect_series(load_history(name, "p99"))``; the
statistics live in :mod:`perflab.stats.changepoint`. Names load lazily (scipy, SQLAlchemy).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from perflab.lazy import lazy_exports

if TYPE_CHECKING:
    from perflab.detect.api import Change, Detection, detect_series
    from perflab.detect.series import Series, load_csv, load_file, load_history, load_json

__all__ = [
    "Change",
    "Detection",
    "Series",
    "detect_series",
    "load_csv",
    "load_file",
    "load_history",
    "load_json",
]
_HOMES = {
    "Change": "perflab.detect.api",
    "Detection": "perflab.detect.api",
    "detect_series": "perflab.detect.api",
    "Series": "perflab.detect.series",
    "load_csv": "perflab.detect.series",
    "load_file": "perflab.detect.series",
    "load_history": "perflab.detect.series",
    "load_json": "perflab.detect.series",
}

__getattr__ = lazy_exports(__name__, _HOMES)
