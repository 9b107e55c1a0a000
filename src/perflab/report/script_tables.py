"""Summary tables only scenario-file runs have: transactions, checks, task exceptions."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from perflab.report.units import format_ms

_COLS = ("p50", "p90", "p99", "max")
MAX_TRACEBACK_LINES = 12


def transactions_table(doc: dict[str, Any]) -> Table | None:
    groups = doc.get("transactions") or {}
    if not groups:
        return None
    table = Table(title="transactions and iterations", title_justify="left")
    table.add_column("name")
    for col in ("count", "per s", "failed", "dropped", *_COLS):
        table.add_column(col, justify="right")
    ordered = sorted(groups.items(), key=lambda kv: (kv[1].get("kind") != "transaction", kv[0]))
    for name, g in ordered:
        lat = g["latency_ms"]
        table.add_row(
            name,
            f"{g['count']:,}",
            f"{g['rps']:,.1f}",
            f"{g['failed']:,} ({g['error_rate'] * 100:.2f}%)",
            f"{g['dropped']:,}",
            *(format_ms(lat[c]) for c in _COLS),
        )
    return table


def checks_table(doc: dict[str, Any]) -> Table | None:
    checks = doc.get("checks") or {}
    if not checks:
        return None
    table = Table(title="checks", title_justify="left")
    table.add_column("check")
    for col in ("passed", "failed", "rate"):
        table.add_column(col, justify="right")
    for name, c in checks.items():
        style = "" if not c["fails"] else "bold red"
        table.add_row(
            name,
            f"{c['passes']:,}",
            Text(f"{c['fails']:,}", style),
            Text(f"{c['rate'] * 100:.2f}%", style),
        )
    return table


def exceptions_text(doc: dict[str, Any]) -> Text | None:
    """Each exception kind once: where, how often, and its first traceback (trimmed)."""
    exceptions = doc.get("exceptions") or []
    notes = list(doc.get("notes") or [])
    if doc.get("stop_reason"):
        notes.insert(0, f"run ended early: {doc['stop_reason']}")
    if not exceptions and not notes:
        return None
    text = Text()
    for note in notes:
        text.append(f"{note}\n", style="bold yellow")
    for e in exceptions:
        text.append(f"{e['where']} raised {e['type']} {e['count']:,} time(s)\n", style="bold red")
        lines = e.get("traceback", "").rstrip().splitlines()
        if len(lines) > MAX_TRACEBACK_LINES:
            lines = ["  ...", *lines[-MAX_TRACEBACK_LINES:]]
        for line in lines:
            text.append(f"  {line}\n", style="dim")
    return text
