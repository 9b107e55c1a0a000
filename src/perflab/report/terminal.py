"""The run summary as terminal tables (rich). Renders a run document; never a live engine."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from perflab.report.script_tables import checks_table, exceptions_text, transactions_table
from perflab.report.units import format_ms

_COLS = ("p50", "p90", "p99", "p99.9", "max")
_STATUS_STYLE = {
    "passed": "bold green",
    "failed": "bold red",
    "aborted": "bold red",
    "interrupted": "bold yellow",
    "error": "bold red",
    "running": "cyan",
}


def latency_table(doc: dict[str, Any]) -> Table:
    corrected = doc.get("config", {}).get("model") == "open"
    title = "latency from intended start (corrected)" if corrected else "latency"
    table = Table(title=title, title_justify="left", expand=False)
    table.add_column("request")
    for col in ("requests", "rps", "errors", "dropped"):
        table.add_column(col, justify="right")
    for col in _COLS:
        table.add_column(col, justify="right")
    if corrected:
        table.add_column("service p99", justify="right")
    rows = list(doc.get("by_name", {}).items())
    if len(rows) != 1:
        rows.append(("all", doc.get("totals", {})))
    for name, s in rows:
        if not s:
            continue
        lat = s["latency_ms"]
        cells = [
            name,
            f"{s['requests']:,}",
            f"{s['rps']:,.1f}",
            f"{s['errors']:,} ({s['error_rate'] * 100:.2f}%)",
            f"{s['dropped']:,}",
            *(format_ms(lat[c]) for c in _COLS),
        ]
        if corrected:
            cells.append(format_ms(s["service_ms"]["p99"]))
        table.add_row(*cells)
    return table


def errors_table(doc: dict[str, Any]) -> Table | None:
    kinds = doc.get("totals", {}).get("errors_by_kind") or {}
    if not kinds:
        return None
    table = Table(title="errors by kind", title_justify="left")
    table.add_column("kind")
    table.add_column("count", justify="right")
    for kind, n in kinds.items():
        table.add_row(kind, f"{n:,}")
    return table


def _observed(metric: str, value: float | None) -> str:
    if value is None:
        return "no data"
    if metric in ("error_rate", "checks"):
        return f"{value * 100:.2f}%"
    if metric.startswith("p") or metric in ("max", "mean", "min"):
        return format_ms(value)
    return f"{value:,.4g}"


def thresholds_table(doc: dict[str, Any]) -> Table | None:
    results = doc.get("thresholds") or []
    if not results:
        return None
    table = Table(title="thresholds", title_justify="left")
    for col in ("threshold", "observed", "verdict"):
        table.add_column(col)
    for r in results:
        observed = _observed(r["metric"], r["observed"])
        verdict = Text("pass", "green") if r["passed"] else Text("FAIL", "bold red")
        table.add_row(r["threshold"], observed, verdict)
    return table


def generator_text(doc: dict[str, Any]) -> Text:
    g = doc.get("generator") or {}
    lag = g.get("sched_lag_us") or {}
    loop = g.get("loop_lag_us") or {}
    parts = [f"generator: {g.get('workers', '?')} worker(s), cpu {g.get('cpu_pct', 0):.0f}%"]
    if lag.get("count"):
        parts.append(f"scheduling lag p50 {lag['p50']:.0f}µs p99 {lag['p99']:.0f}µs")
    if loop.get("count"):
        parts.append(f"loop lag p99 {loop['p99']:.0f}µs")
    parts.append(f"max connections {g.get('max_connections', 0)}")
    if g.get("steal_pct") is not None:
        parts.append(f"host steal {g['steal_pct']:.1f}%")
    if g.get("socket_errors"):
        parts.append(
            "socket errors " + ", ".join(f"{k}={v}" for k, v in g["socket_errors"].items())
        )
    text = Text(", ".join(parts))
    if g.get("saturated"):
        text.append(
            "\nGENERATOR SATURATED: "
            + "; ".join(g["saturation_reasons"])
            + " - latencies may describe perflab, not the target",
            style="bold yellow",
        )
    for note in g.get("host_noise") or []:
        text.append(f"\nNOISY HOST: {note}", style="bold yellow")
    for err in g.get("worker_errors") or []:
        text.append(f"\n{err}", style="red")
    return text


def render_summary(doc: dict[str, Any], console: Console, *, path: str | None = None) -> None:
    status = doc.get("status", "?")
    head = Text.assemble(
        ("run ", "bold"),
        (doc.get("name", ""), "bold"),
        f"  id {str(doc.get('id', ''))[:12]}  ",
        (status.upper(), _STATUS_STYLE.get(status, "bold")),
        f"  {doc.get('duration_s', 0):.1f}s",
    )
    parts: list[Any] = [head, latency_table(doc)]
    for extra in (
        transactions_table(doc),
        checks_table(doc),
        errors_table(doc),
        exceptions_text(doc),
        thresholds_table(doc),
    ):
        if extra is not None:
            parts.append(extra)
    parts.append(generator_text(doc))
    if path:
        parts.append(Text(f"saved to {path}", style="dim"))
    console.print(Group(*parts))
