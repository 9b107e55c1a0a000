"""The printed tables."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from loadbench.model import CONNECTIONS, GEN_CORE, OPEN_ACHIEVED_MIN, SERVER_CORE


def fmt(v: float | None, spec: str = ",.0f") -> str:
    return "-" if v is None else format(v, spec)


def ok_mark(v: float | None, met: bool, spec: str = ".2f", suffix: str = "x") -> str:
    """A figure in green when it meets its target, red when not."""
    return "-" if v is None else f"[{'green' if met else 'red'}]{v:{spec}}{suffix}"


def new_table(title: str, cols: str) -> Table:
    """A table whose first and last columns are text, the others right-aligned numbers."""
    names = cols.split("|")
    t = Table(title=title)
    for i, col in enumerate(names):
        text = i in (0, len(names) - 1)
        t.add_column(
            col,
            justify="left" if text else "right",
            no_wrap=not text,
            min_width=8 if text else None,
        )
    return t


def closed_table(summary: dict[str, dict[str, Any]], secs: int) -> Table:
    """One row per closed-model tool; the CPU columns show which side was the bottleneck,
    and user + kernel shows where a tool's CPU goes: kernel time is mostly the sockets, user
    time the tool's own code and runtime (of the reaped process tree: what a tool leaves
    running is in ``CPU µs/req`` only)."""
    t = new_table(
        f"Closed model: {CONNECTIONS} connections, {secs} s, generator on core {GEN_CORE}, "
        f"nginx on core {SERVER_CORE}",
        "tool|req/s|CPU µs/req|user+kernel|steady µs/req|client CPU %|nginx CPU %|p50 ms|p99 ms|"
        "other CPU %|steal %|note",
    )
    for name, r in summary.items():
        if "@" in name:
            continue
        if r["status"] != "ok":
            t.add_row(name, *["-"] * (len(t.columns) - 2), r["status"])
            continue
        t.add_row(
            name,
            fmt(r["rps"]),
            fmt(r["cpu_us_per_req"], ".2f"),
            f"{fmt(r['user_us_per_req'], '.2f')}+{fmt(r['sys_us_per_req'], '.2f')}",
            fmt(r["steady_us_per_req"], ".2f"),
            fmt(r["gen_cpu_pct"]),
            fmt(r["nginx_cpu_pct"]),
            fmt(r["p50_ms"], ".2f"),
            fmt(r["p99_ms"], ".2f"),
            fmt(r["other_cpu_pct"]),
            fmt(r["steal_max_pct"], ".1f"),
            row_note(name, r),
        )
    return t


def row_note(name: str, r: dict[str, Any]) -> str:
    """Short flags for a summary row; the details are in the warnings under the tables."""
    notes = []
    if r.get("noisy"):
        notes.append("[yellow]NOISY[/]")
    elif r["runs"] > 1:
        notes.append(f"{r['quiet_runs']}/{r['runs']} quiet")
    if r.get("saturated"):
        notes.append("saturated")
    if name == "locust":
        notes.append(f"own: {fmt(r.get('rps_aggregate'))}")
    return ", ".join(notes)


def open_table(summary: dict[str, dict[str, Any]], secs: int, connections: int) -> Table:
    """perflab's open model: did it reach each target rate, and how late did it send."""
    pool = f"{connections} connections" if connections else "connections as needed"
    t = new_table(
        f"perflab open model, {pool}, {secs} s "
        f"(achieved/target should be >= {OPEN_ACHIEVED_MIN}; "
        "nginx/s: served while load flowed; lag: generator.sched_lag_us)",
        "tool|target/s|achieved/s|nginx/s|ach/target|lag p50 µs|lag p99 µs|p99 ms|µs/req|"
        "client CPU %|steal %|note",
    )
    for name, r in summary.items():
        if "@" not in name:
            continue
        tool = name.partition("@")[0]
        if r["status"] != "ok":
            t.add_row(tool, fmt(r["target_rps"]), *["-"] * (len(t.columns) - 3), r["status"])
            continue
        ach = r["rps"] / r["target_rps"]
        t.add_row(
            tool,
            fmt(r["target_rps"]),
            fmt(r["rps"]),
            fmt(r["served_rps"]),
            f"[{'green' if ach >= OPEN_ACHIEVED_MIN else 'red'}]{ach:.4f}",
            fmt(r.get("sched_lag_p50_us")),
            fmt(r.get("sched_lag_p99_us")),
            fmt(r["p99_ms"], ".2f"),
            fmt(r["cpu_us_per_req"], ".2f"),
            fmt(r["gen_cpu_pct"]),
            fmt(r["steal_max_pct"], ".1f"),
            row_note(name, r),
        )
    return t


def ratio_table(rat: dict[str, dict[str, Any]], mine: str = "perflab") -> Table:
    """``mine`` against each peer, green where the target is met."""
    t = new_table(
        f"{mine} / peer, median over rounds (CPU efficiency = peer µs/req ÷ {mine} µs/req)",
        "peer|RPS|CPU efficiency|steady CPU efficiency|target|rounds",
    )
    for peer, r in rat.items():
        t.add_row(
            peer,
            ok_mark(r["rps_ratio"], r["rps_met"]),
            ok_mark(r["cpu_efficiency_ratio"], r["cpu_efficiency_met"]),
            ok_mark(r["steady_cpu_efficiency_ratio"], r["steady_cpu_efficiency_met"]),
            f">= {r['target']}x",
            f"{r['rounds']}" + (" [yellow]NOISY[/]" if r["noisy"] else " quiet"),
        )
    return t


def render(
    summary: dict[str, dict[str, Any]],
    rat: dict[str, dict[str, Any]],
    secs: int,
    warnings: list[str],
    open_connections: int,
) -> None:
    """The closed-model comparison, the ratios, then perflab's open model."""
    con = Console(width=max(Console().width, 132))  # a pipe gets 80 columns: too narrow
    closed, opened = closed_table(summary, secs), open_table(summary, secs, open_connections)
    if closed.row_count:
        con.print(closed)
    if rat:
        con.print(ratio_table(rat))
    elif "perflab" in summary:
        con.print("[yellow]no ratios: perflab or its peers have no figures[/]")
    if opened.row_count:
        con.print(opened)
    reasons = {r["reason"] for r in summary.values() if r["status"] != "ok"}
    for name, r in summary.items():
        if r["status"] != "ok" and r["reason"] in reasons:
            reasons.discard(r["reason"])
            con.print(f"[red]{name} {r['status']}[/]: {r['reason']}")
    if warnings:
        con.print("[yellow]Warnings (treat these figures as noise; rerun when quiet):[/]")
        for w in warnings:
            con.print(f"  [yellow]- {w}[/]")
