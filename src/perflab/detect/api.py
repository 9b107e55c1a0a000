"""``detect_series``: change points of a loaded series, with labels and directions.

The JSON document (``schema: perflab.detect/1``)::

    {"schema", "source", "metric", "method", "alpha", "n", "higher_is_better",
     "change_points": [{"index", "label", "before", "after", "change_pct", "p_value",
                        "direction"}]}

``index`` is 0-based, the first point of the new level; ``direction`` is ``regression`` or
``improvement`` (higher is worse unless ``higher_is_better``; rps flips it by default).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from perflab.detect.series import Series
from perflab.errors import UsageError
from perflab.stats.changepoint import DetectOptions, find_change_points

SCHEMA = "perflab.detect/1"
HIGHER_IS_BETTER = frozenset({"rps", "throughput", "ops", "ops_per_s", "qps"})


@dataclass(frozen=True)
class Change:
    """One level shift of the series."""

    index: int
    label: str | None
    before: float
    after: float
    change_pct: float | None
    p_value: float
    direction: str


@dataclass(frozen=True)
class Detection:
    """The change points of one series, oldest first."""

    source: str
    metric: str
    n: int
    options: DetectOptions
    higher_is_better: bool
    change_points: list[Change] = field(default_factory=list)

    def regressions(self, recent: int | None = None) -> list[Change]:
        """Regressions, only those among the last ``recent`` points when given."""
        first = 0 if recent is None else self.n - recent
        return [c for c in self.change_points if c.direction == "regression" and c.index >= first]

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "source": self.source,
            "metric": self.metric,
            "method": self.options.method,
            "alpha": self.options.alpha,
            "n": self.n,
            "higher_is_better": self.higher_is_better,
            "change_points": [asdict(c) for c in self.change_points],
        }


def detect_series(
    series: Series,
    options: DetectOptions | None = None,
    *,
    higher_is_better: bool | None = None,
) -> Detection:
    """Find the level shifts of ``series``; UsageError for a series without any to find.

    ``higher_is_better`` None: True for throughput-like metrics (``rps``), else False.
    """
    options = options or DetectOptions()
    if higher_is_better is None:
        higher_is_better = series.metric.lower() in HIGHER_IS_BETTER
    try:
        found = find_change_points(series.values, options)
    except ValueError as exc:
        where = (
            series.source
            if series.metric in ("value", "")
            else (f"{series.source}, column {series.metric!r}")
        )
        raise UsageError(f"{where}: {exc}") from exc
    changes = []
    for point in found:
        worse = point.after > point.before
        if higher_is_better:
            worse = not worse
        changes.append(
            Change(
                index=point.index,
                label=series.labels[point.index] if series.labels else None,
                before=point.before,
                after=point.after,
                change_pct=point.change_pct,
                p_value=point.p_value,
                direction="regression" if worse else "improvement",
            )
        )
    return Detection(
        series.source, series.metric, len(series.values), options, higher_is_better, changes
    )
