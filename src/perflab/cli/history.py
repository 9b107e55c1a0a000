"""``perflab history``: the runs in the catalog, newest first."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from perflab.cli.live import human_console
from perflab.cli.runspec import parse_tags
from perflab.report.units import format_ms
from perflab.store.rundir import DEFAULT_ROOT

if TYPE_CHECKING:
    from perflab.store.runrow import RunRow

EXAMPLES = """
Examples:

  perflab history

  perflab history --name checkout --tag env=staging --limit 20

  perflab history --json | jq -r '.[0].id'

  PERFLAB_DB=postgresql://ci@perf-db/perflab perflab history --name nightly

  perflab show 3f9c   (a run by id prefix, name or path)
"""

_STATUS_STYLE = {"passed": "green", "failed": "red", "error": "red", "interrupted": "yellow"}


def history(
    name: Annotated[str | None, typer.Option(help="Only runs of this name.")] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="KEY=VALUE; repeat to require several.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many runs.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list of runs.")] = False,
) -> int:
    """List the runs in the catalog (PERFLAB_DB, default ./perflab.db), newest first.

    Runs under ./perflab-runs that the catalog lacks (older runs, say) are indexed first.
    """
    from perflab.store.catalog import Catalog  # here: SQLAlchemy is not for every command

    tags = parse_tags(tag or [])
    with Catalog.open() as catalog:
        catalog.index_directory(DEFAULT_ROOT)
        rows = catalog.list_runs(name=name, tags=tags, limit=limit)
        where = catalog.url
    if as_json:
        sys.stdout.write(json.dumps([row.to_json() for row in rows], indent=2) + "\n")
    elif not rows:
        print(f"perflab: no runs in the catalog {where} match", file=sys.stderr)
    else:
        human_console(stderr=False).print(runs_table(rows, title=f"runs in {where}"))
    return 0


def runs_table(rows: list[RunRow], *, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for header in ("id", "started (UTC)", "name", "status", "load"):
        table.add_column(header, no_wrap=header != "name")
    for header in ("requests", "rps", "p99", "errors"):
        table.add_column(header, justify="right", no_wrap=True)
    for row in rows:
        table.add_row(
            row.id[:8],
            (row.started_at or "").replace("T", " ").rstrip("Z"),
            Text(row.name),  # a name is the user's text, not rich markup
            Text(row.status, style=_STATUS_STYLE.get(row.status, "")),
            _load(row),
            "" if row.requests is None else f"{row.requests:,}",
            "" if row.rps is None else f"{row.rps:,.1f}",
            "" if row.p99_ms is None else format_ms(row.p99_ms),
            "" if row.error_rate is None else f"{row.error_rate * 100:.2f}%",
        )
    return table


def _load(row: RunRow) -> str:
    if row.rate is not None:
        return f"{row.model or 'open'} {row.rate:g}/s"
    if row.vus is not None:
        return f"{row.model or 'closed'} {row.vus} VUs"
    return row.model or ""
