"""What the dashboard asks the catalog: filtered run lists and a test's trend over time.

Filters the catalog cannot express (dates) are applied here, on a bounded over-fetch, so a
query never reads the whole catalog. Everything returned is plain data for the templates and
the JSON API; run documents are never read here (the list must stay fast).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from perflab.errors import UsageError
from perflab.report.html.figures import COLORS, GRID, layout, plot_text
from perflab.report.units import format_ms
from perflab.store.catalog import Catalog
from perflab.store.runrow import RunRow

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
_OVERFETCH = 5  # date filters drop rows after the query: fetch this many times the limit
_TONE = {"passed": "pass", "running": "warn", "interrupted": "warn"}


@dataclass(frozen=True, slots=True)
class RunFilter:
    """A run list's filters, as given in the page's query string."""

    name: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    since: dt.date | None = None
    until: dt.date | None = None
    limit: int = DEFAULT_LIMIT

    @classmethod
    def parse(cls, params: Sequence[tuple[str, str]]) -> RunFilter:
        """From ``name=``, ``tag=k=v`` (repeatable), ``since=``/``until=`` (YYYY-MM-DD) and
        ``limit=``; blank values mean no filter.

        Raises:
            UsageError: a tag without ``=``, a bad date or limit.
        """
        values: dict[str, str] = {}
        tags: dict[str, str] = {}
        for key, value in params:
            value = value.strip()
            if key == "tag" and value:
                k, eq, v = value.partition("=")
                if not eq or not k.strip():
                    raise UsageError(f"bad tag filter {value!r}: expected KEY=VALUE")
                tags[k.strip()] = v.strip()
            elif value:
                values[key] = value
        limit_text = values.get("limit", str(DEFAULT_LIMIT))
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_LIMIT:
            raise UsageError(f"bad limit {limit_text!r}: expected 1..{MAX_LIMIT}")
        return cls(
            name=values.get("name"),
            tags=tags,
            since=_date(values.get("since"), "since"),
            until=_date(values.get("until"), "until"),
            limit=int(limit_text),
        )

    @property
    def tag_text(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.tags.items())


def _date(text: str | None, what: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"bad {what} date {text!r}: expected YYYY-MM-DD") from None


def list_runs(catalog: Catalog, filters: RunFilter) -> list[RunRow]:
    """Runs newest first matching every filter; at most ``filters.limit``."""
    dated = filters.since is not None or filters.until is not None
    fetch = min(filters.limit * _OVERFETCH, MAX_LIMIT * _OVERFETCH) if dated else filters.limit
    rows = catalog.list_runs(name=filters.name, tags=filters.tags or None, limit=fetch)
    low = filters.since.isoformat() if filters.since else ""
    high = (filters.until + dt.timedelta(days=1)).isoformat() if filters.until else None
    kept = [
        r
        for r in rows
        if (r.started_at or "") >= low and (high is None or (r.started_at or "") < high)
    ]
    return kept[: filters.limit]


def run_names(catalog: Catalog, limit: int = 500) -> list[str]:
    """Names of recent runs, most recent first (for the filter's suggestions)."""
    seen: dict[str, None] = {}
    for row in catalog.list_runs(limit=limit):
        if row.name:
            seen.setdefault(row.name, None)
    return list(seen)


def _when(started_at: str | None) -> str:
    return (started_at or "").replace("T", " ").rstrip("Z")


def row_view(row: RunRow) -> dict[str, Any]:
    """A run list row, formatted once for the page and the JSON API alike."""
    load = ""
    if row.rate is not None:
        load = f"{row.rate:g}/s"
    elif row.vus is not None:
        load = f"{row.vus} VUs"
    return {
        "id": row.id,
        "short": row.id[:8],
        "name": row.name,
        "status": row.status,
        "tone": _TONE.get(row.status, "fail"),
        "started": _when(row.started_at),
        "duration": "" if row.duration_s is None else f"{row.duration_s:,.1f}s",
        "requests": "" if row.requests is None else f"{row.requests:,}",
        "rps": "" if row.rps is None else f"{row.rps:,.1f}",
        "p99": "" if row.p99_ms is None else format_ms(row.p99_ms),
        "errors": "" if row.error_rate is None else f"{row.error_rate * 100:.2f}%",
        "failing": bool(row.errors),
        "load": load,
        "target": row.target or "",
        "tags": row.tags,
    }


def row_json(row: RunRow) -> dict[str, Any]:
    """The API's run: the catalog row without the local path (a server detail)."""
    out = row.to_json()
    out.pop("path", None)
    return out


def trend_figures(rows: Sequence[RunRow]) -> dict[str, dict[str, Any]]:
    """p99 (with p50) and throughput per run of one test, oldest first; points link to runs."""
    ordered = sorted((r for r in rows if r.started_at), key=lambda r: r.started_at or "")
    x = [_when(r.started_at) for r in ordered]
    ids = [r.id for r in ordered]
    hover = [f"{plot_text(r.name)} · {r.id[:8]} · {r.status}" for r in ordered]

    def trace(y: list[float | None], name: str, color: str) -> dict[str, Any]:
        return {
            "type": "scatter",
            "mode": "lines+markers",
            "name": name,
            "x": x,
            "y": y,
            "customdata": ids,
            "text": hover,
            "hovertemplate": "%{text}<br>%{x}: %{y:,.3~f}<extra>" + name + "</extra>",
            "line": {"color": color, "width": 1.8},
            "marker": {"size": 7, "color": color},
        }

    latency = [
        trace([_num(r.p99_ms) for r in ordered], "p99", COLORS["p99"]),
        trace([_num(r.p50_ms) for r in ordered], "p50", COLORS["p50"]),
    ]
    throughput = [trace([_num(r.rps) for r in ordered], "throughput", "#16a34a")]
    date_axis = {"type": "date", "gridcolor": GRID}
    return {
        "trend_latency": {
            "data": latency,
            "layout": layout("Latency per run (corrected)", "ms", xaxis=date_axis),
        },
        "trend_throughput": {
            "data": throughput,
            "layout": layout("Throughput per run", "requests/s", xaxis=date_axis),
        },
    }


def _num(value: float | None) -> float | None:
    return None if value is None else float(value)


def live_row(event: Mapping[str, Any]) -> dict[str, Any] | None:
    """The live run as the run list's banner shows it, or None when nothing is going."""
    run = event.get("run")
    if not run or not event.get("active"):
        return None
    return {"id": run.get("id", ""), "name": run.get("name", ""), "seconds": event.get("seconds")}
