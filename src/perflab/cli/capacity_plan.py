"""``perflab capacity plan`` and ``perflab capacity little``: sizing, growth, cost, checks."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from perflab.cli.live import human_console
from perflab.errors import UsageError

if TYPE_CHECKING:
    from perflab.capacity.little import LittleCheck
    from perflab.capacity.plan import GrowthPlan, InstanceCapacity, Sizing
    from perflab.capacity.queueing import Target

EXAMPLES = """
Examples:

  perflab capacity plan --rate 500 --service-time 20ms --target "p99<100ms"

  perflab capacity plan --rate 120/s --service-time 180ms --target "pwait<20%" --json

  perflab capacity plan --rate 500 --service-time 20ms --target "p99<100ms" --html plan.html

  perflab capacity plan --history traffic.csv --per-instance-rps 800 --instances 4 \\
      --price-per-hour 0.25 --months 12

  perflab capacity plan --history traffic.csv --usl fit.json --headroom 30%

  perflab capacity plan --history traffic.csv --service-time 20ms --target "p99<200ms" \\
      --workers 8 --instances 6

Sizing (--rate): M/M/c (Erlang C). Targets: p50..p99.9 or mean of the response time
("p99<200ms"), of the wait ("wait p99<50ms"), or the probability of waiting ("pwait<20%").
Growth (--history): a CSV of timestamp,rps (hourly or daily, two weeks or more); the capacity
of one instance from --per-instance-rps, --usl (a fit's JSON or a USL data CSV) or
--service-time + --target (+ --workers). Exit codes: 0 done, 2 bad input.
"""

LITTLE_EXAMPLES = """
Examples:

  perflab capacity little                      (the 10 newest runs in the catalog)

  perflab capacity little 3f9c demo --json

Flags runs whose mean in-flight count disagrees with throughput x mean latency
(Little's law) beyond --tolerance: a measurement problem or a generator bottleneck.
"""


def _seconds(text: str, what: str) -> float:
    from perflab.model.units import parse_duration

    value = parse_duration(text, what=what)
    if value <= 0:
        raise UsageError(f"bad {what} {text!r}: must be positive")
    return value


def _percent(text: str) -> float:
    raw = text.strip().rstrip("%")
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(f"bad --headroom {text!r}: expected a percentage, e.g. 30%") from None
    fraction = value / 100.0 if text.strip().endswith("%") or value >= 1 else value
    if not 0.0 <= fraction < 1.0:
        raise UsageError(f"bad --headroom {text!r}: must lie in [0%, 100%)")
    return fraction


def _usl_capacity(path: Path) -> InstanceCapacity:
    from perflab.capacity.plan import InstanceCapacity

    if not path.exists():
        raise UsageError(f"no such file: {path}", hint="give a USL fit's JSON or its data CSV")
    if path.suffix.lower() == ".json":
        try:
            doc: Any = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"{path}: not a readable JSON file ({exc})") from exc
        fit = doc.get("fit", doc) if isinstance(doc, dict) else None
        peak = fit.get("peak_throughput") if isinstance(fit, dict) else None
        if not isinstance(peak, int | float) or not math.isfinite(peak) or peak <= 0:
            raise UsageError(
                f"{path}: no positive 'peak_throughput' in it",
                hint="write it with 'perflab capacity fit DATA.csv --json > fit.json'",
            )
        return InstanceCapacity(float(peak), f"USL peak throughput from {path}")
    from perflab.capacity.usl import fit_usl  # type: ignore[import-not-found,unused-ignore]
    from perflab.detect.series import load_csv

    rows = load_csv(path, "throughput")
    concurrency = load_csv(path, "concurrency")
    fitted = fit_usl(concurrency.values, rows.values)
    return InstanceCapacity(
        float(fitted.peak_throughput), f"USL peak throughput of a fit to {path}"
    )


def _capacity(
    per_instance_rps: float | None,
    usl: Path | None,
    service_time: float | None,
    target: Target | None,
    workers: int,
) -> InstanceCapacity:
    from perflab.capacity.plan import InstanceCapacity, queueing_capacity

    given = sum(x is not None for x in (per_instance_rps, usl, target))
    if given != 1:
        raise UsageError(
            "with --history give the capacity of one instance: --per-instance-rps R, "
            "--usl FIT.json, or --service-time with --target (one of them)"
        )
    if per_instance_rps is not None:
        if not (math.isfinite(per_instance_rps) and per_instance_rps > 0):
            raise UsageError("bad --per-instance-rps: must be a positive requests/s figure")
        return InstanceCapacity(per_instance_rps, "given (--per-instance-rps)")
    if usl is not None:
        return _usl_capacity(usl)
    if service_time is None or target is None:
        raise UsageError("--target needs --service-time (the mean service time of a request)")
    return queueing_capacity(service_time, target, workers)


def _ms(seconds: float) -> str:
    return "∞" if not math.isfinite(seconds) else f"{seconds * 1e3:,.4g} ms"


def _render_sizing(result: Sizing, console: Console) -> None:
    load = result.arrival_rate * result.service_time
    title = (
        f"M/M/c at {result.arrival_rate:,.4g} rps x {_ms(result.service_time)} = "
        f"{load:,.4g} Erlangs; target {result.target.source}"
    )
    table = Table(title=title, title_justify="left")
    for header in ("servers", "utilization", "P(wait)", "mean wait", "p99 wait", "p99 resp", ""):
        table.add_column(header, justify="right" if header else "left")
    for r in result.rows:
        mark = Text("← needed", style="bold green") if r.servers == result.servers else Text("")
        table.add_row(
            str(r.servers),
            f"{r.utilization:.1%}",
            f"{r.prob_wait:.4f}",
            _ms(r.mean_wait_s),
            _ms(r.p99_wait_s),
            _ms(r.p99_response_s),
            mark if r.meets_target else Text("misses target", style="red"),
        )
    console.print(table)
    if result.servers is not None:
        line = f"servers needed: {result.servers}"
        if result.instances is not None:
            line += f" = {result.instances} instance(s) of {result.workers_per_instance} worker(s)"
        console.print(Text(line, style="bold"))
    for note in result.notes:
        console.print(Text(note, style="yellow"))


def _render_growth(plan: GrowthPlan, console: Console) -> None:
    doc = plan.to_json()
    model, cap = doc["model"], doc["capacity"]
    held = model["held_out"]
    growth = model["growth_per_month"]
    growth_text = (
        "-"
        if growth is None
        else (
            f"{growth:+.1%}/month"
            if model["growth_unit"] == "fraction"
            else f"{growth:+,.1f} rps/month"
        )
    )
    console.print(
        f"traffic: {doc['history']['points']} {doc['history']['step']} points, recent peak "
        f"{plan.recent_peak_rps:,.0f} rps, trend {growth_text}"
    )
    if held:
        console.print(
            f"held-out last week: MAPE {held['mape']:.1%} (model) vs "
            f"{held['seasonal_naive_mape']:.1%} (seasonal naive)"
        )
    console.print(
        f"one instance: {plan.capacity.rps:,.0f} rps ({plan.capacity.basis}); usable "
        f"{cap['usable_rps_per_instance']:,.0f} rps with {plan.headroom:.0%} headroom"
    )
    if plan.instances is not None:
        when = "beyond the horizon" if plan.runs_out is None else plan.runs_out.date().isoformat()
        early = (
            "" if plan.runs_out_upper is None else f" (as early as {plan.runs_out_upper.date()})"
        )
        console.print(Text(f"{plan.instances} instance(s) run out: {when}{early}", style="bold"))
    table = Table(title="forecast peak and instances per month", title_justify="left")
    for header in ("month", "peak rps", "90% interval", "instances", "upper", "cost/month"):
        table.add_column(header, justify="left" if header == "month" else "right")
    for m in plan.months:
        cost = "-" if m.monthly_cost is None else f"{m.monthly_cost:,.2f}"
        table.add_row(
            m.month,
            f"{m.peak_rps:,.0f}",
            f"{m.peak_low:,.0f}-{m.peak_high:,.0f}",
            str(m.instances),
            str(m.instances_high),
            cost,
        )
    console.print(table)
    for note in doc["notes"]:
        console.print(Text(note, style="yellow"))


def plan(
    rate: Annotated[
        str | None, typer.Option("--rate", help="Sizing: arrival rate, e.g. 500 or 30/m.")
    ] = None,
    service_time: Annotated[
        str | None, typer.Option("--service-time", help="Mean service time, e.g. 20ms.")
    ] = None,
    target: Annotated[
        str | None,
        typer.Option("--target", help="'p99<200ms', 'wait p99<50ms', 'mean<80ms', 'pwait<20%'."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, help="Servers (worker slots) per instance."),
    ] = None,
    history: Annotated[
        Path | None, typer.Option("--history", help="Growth: CSV of timestamp,rps.")
    ] = None,
    per_instance_rps: Annotated[
        float | None, typer.Option("--per-instance-rps", help="What one instance carries.")
    ] = None,
    usl: Annotated[
        Path | None, typer.Option("--usl", help="A USL fit's JSON (or USL data CSV).")
    ] = None,
    instances: Annotated[
        int | None, typer.Option("--instances", min=1, help="The current fleet size.")
    ] = None,
    headroom: Annotated[
        str, typer.Option("--headroom", help="Capacity kept spare, e.g. 30%.")
    ] = "30%",
    price_per_hour: Annotated[
        float | None, typer.Option("--price-per-hour", min=0.0, help="Cost of an instance-hour.")
    ] = None,
    months: Annotated[int, typer.Option("--months", min=1, max=60, help="Months ahead.")] = 12,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON document only.")] = False,
    html: Annotated[
        Path | None,
        typer.Option("--html", help="Also write the plan as a self-contained HTML report."),
    ] = None,
) -> int:
    """Plan capacity: servers for a latency target (Erlang C), or instances, run-out date
    and cost as traffic grows (trend + weekly seasonality forecast)."""
    from perflab.capacity.queueing import parse_target

    parsed_target = None if target is None else parse_target(target)
    seconds = None if service_time is None else _seconds(service_time, "--service-time")
    if (rate is None) == (history is None):
        raise UsageError(
            "give --rate (servers for a target) or --history CSV (growth and cost), one of them"
        )
    console = human_console(stderr=False)
    if rate is not None:
        from perflab.capacity.plan import size
        from perflab.model.units import parse_rate

        if seconds is None or parsed_target is None:
            raise UsageError("--rate needs --service-time and --target, e.g. --target 'p99<100ms'")
        result = size(parse_rate(rate), seconds, parsed_target, workers)
        if html is not None:
            _write_html(html, f"{rate} · {service_time} · {target}", sizing=result.to_json())
        if as_json:
            sys.stdout.write(json.dumps(result.to_json(), indent=2, allow_nan=False) + "\n")
        else:
            _render_sizing(result, console)
        return 0
    from perflab.capacity.forecast import forecast
    from perflab.capacity.plan import plan_growth
    from perflab.capacity.traffic import load_history

    assert history is not None
    capacity = _capacity(per_instance_rps, usl, seconds, parsed_target, workers or 1)
    traffic = load_history(history)
    growth = plan_growth(
        forecast(traffic, months),
        traffic,
        capacity,
        headroom=_percent(headroom),
        instances=instances,
        price_per_hour=price_per_hour,
    )
    if html is not None:
        _write_html(html, history.name, growth=growth)
    if as_json:
        sys.stdout.write(json.dumps(growth.to_json(), indent=2, allow_nan=False) + "\n")
    else:
        _render_growth(growth, console)
    return 0


def _write_html(path: Path, title: str, **results: Any) -> None:
    from perflab.capacity.usl_report import render_capacity_html
    from perflab.store.atomic import write_bytes_atomic

    write_bytes_atomic(path, render_capacity_html(title, **results).encode())
    print(f"perflab: capacity report {path}", file=sys.stderr)


def check_stored_run(doc: dict[str, Any], tolerance: float | None = None) -> LittleCheck:
    """Little's law check of a loaded run (its generator rows read from its directory)."""
    from perflab.capacity.little import TOLERANCE, check_run
    from perflab.store import read_generator

    path = doc.get("path")
    rows = read_generator(Path(path)) if path else []
    return check_run(doc, rows, TOLERANCE if tolerance is None else tolerance)


def print_little_flag(doc: dict[str, Any], console: Console) -> None:
    """For ``perflab show``: one line when the run disagrees with Little's law."""
    try:
        check = check_stored_run(doc)
    except Exception:  # a damaged generator file must not break `show`
        return
    if check.flagged:
        console.print(Text(f"Little's law: {check.reason}", style="yellow"))


def little(
    runs: Annotated[
        list[str] | None, typer.Argument(help="Runs (id prefix, name or path); default recent.")
    ] = None,
    recent: Annotated[int, typer.Option("--recent", min=1, help="Newest N runs.")] = 10,
    tolerance: Annotated[
        float, typer.Option("--tolerance", min=0.0, help="Relative disagreement allowed.")
    ] = 0.15,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON document only.")] = False,
) -> int:
    """Check Little's law (in flight = throughput x latency) on stored runs."""
    from perflab.store import find_run, load_run

    if runs:
        docs = [load_run(find_run(ref)) for ref in runs]
    else:
        from perflab.store.catalog import Catalog

        with Catalog.open(None, create=False) as catalog:
            rows = catalog.list_runs(limit=recent)
        if not rows:
            raise UsageError("no runs in the catalog", hint="run 'perflab run URL' or name RUNs")
        docs = [load_run(row.path) for row in rows]
    checks = [check_stored_run(doc, tolerance) for doc in docs]
    if as_json:
        out = {"tolerance": tolerance, "runs": [c.to_json() for c in checks]}
        sys.stdout.write(json.dumps(out, indent=2, allow_nan=False) + "\n")
        return 0
    table = Table(title="Little's law: L = λW", title_justify="left")
    for header in ("run", "name", "rps", "mean ms", "λW", "L", "off", "verdict"):
        table.add_column(
            header, justify="left" if header in ("run", "name", "verdict") else "right"
        )
    for c in checks:
        measured = "-" if c.measured_inflight is None else f"{c.measured_inflight:.2f}"
        off = "-" if c.disagreement is None else f"{c.disagreement:.0%}"
        verdict = Text(c.reason, style="yellow" if c.flagged else "green")
        table.add_row(
            c.run_id[:8], c.name, f"{c.throughput_rps:,.1f}", f"{c.mean_latency_ms:.3g}",
            f"{c.expected_inflight:.2f}", measured, off, verdict,
        )  # fmt: skip
    human_console(stderr=False).print(table)
    return 0
