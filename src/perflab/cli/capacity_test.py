"""``perflab capacity test``: concurrency steps with a USL fit, and the SLO breaking point."""

from __future__ import annotations

import json
import math
import signal
import sys
import uuid
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from perflab import load
from perflab.capacity.livetest import LiveTestPlan, LiveTestResult, Report, run_live_test
from perflab.capacity.probe import Load, ProbeResult, ProbeRunner, check_loopback, with_load
from perflab.capacity.search import Slo, confidence_statement, parse_slo
from perflab.capacity.steady import SteadyRule
from perflab.cli.execute import index_run
from perflab.cli.live import human_console
from perflab.cli.runspec import DEFAULT_MAX_INFLIGHT, build_spec
from perflab.errors import UsageError
from perflab.load.http.url import parse_url
from perflab.load.script.plan import Overrides, script_spec
from perflab.model import LoadModel, RunSpec, parse_duration, parse_rate
from perflab.model.units import format_duration
from perflab.store.atomic import write_bytes_atomic
from perflab.store.rundir import DEFAULT_ROOT

EXAMPLES = """
Examples:

  perflab capacity test http://127.0.0.1:8080/ --steps 1,2,4,8,16,32

  perflab capacity test http://127.0.0.1:8080/ --slo "p99<200ms" --slo "error_rate<0.5%"

  perflab capacity test journey.py --base-url http://127.0.0.1:8000 --max-concurrency 32 --json

  perflab capacity test http://127.0.0.1:8080/ --steps 4 --slo "p99<100ms" --probe-time 5s

  perflab capacity test http://127.0.0.1:8080/ --slo "p99<50ms" --html capacity.html
    (steps, USL fit with knee and peak, SLO probes: one offline page)
"""


def _sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # a CI runner's stop is an interrupt: keep what was measured


def parse_levels(steps: str | None, max_concurrency: int) -> tuple[int, ...]:
    """``"1,2,4"`` as concurrency levels; None doubles from 1 up to ``max_concurrency``."""
    if max_concurrency < 1:
        raise UsageError("--max-concurrency must be at least 1")
    if steps is None:
        levels, n = [], 1
        while n <= max_concurrency:
            levels.append(n)
            n *= 2
        return tuple(levels)
    try:
        levels = [int(part) for part in steps.split(",") if part.strip()]
    except ValueError:
        raise UsageError(
            f"bad --steps {steps!r}: expected concurrency levels such as 1,2,4,8"
        ) from None
    if not levels or any(n < 1 for n in levels) or levels != sorted(set(levels)):
        raise UsageError(f"bad --steps {steps!r}: expected increasing positive integers")
    if levels[-1] > max_concurrency:
        raise UsageError(f"--steps goes to {levels[-1]}, over --max-concurrency {max_concurrency}")
    return tuple(levels)


def _fraction(text: str, what: str) -> float:
    body = text.strip().removesuffix("%")
    try:
        value = float(body) / (100.0 if text.strip().endswith("%") else 1.0)
    except ValueError:
        raise UsageError(f"bad {what} {text!r}: expected a percentage, e.g. 5%") from None
    if not math.isfinite(value) or value < 0:
        raise UsageError(f"bad {what} {text!r}: expected a percentage, e.g. 5%")
    return value


def capacity_test(
    target: Annotated[
        str, typer.Argument(help="URL on a loopback address, or a scenario file (.py).")
    ],
    steps: Annotated[
        str | None,
        typer.Option(help="Concurrency levels, e.g. 1,2,4,8 (default: doubling to the max)."),
    ] = None,
    max_concurrency: Annotated[int, typer.Option(help="Highest number of VUs.")] = 64,
    slo: Annotated[
        list[str] | None,
        typer.Option("--slo", help='Search the highest rate meeting it, e.g. "p99<200ms".'),
    ] = None,
    max_error_rate: Annotated[
        str, typer.Option(help="Error rate a probe may have (always checked with --slo).")
    ] = "1%",
    start_rate: Annotated[
        str | None, typer.Option(help="First probed rate (default: half the best step's).")
    ] = None,
    max_rate: Annotated[str, typer.Option(help="Never offer more than this.")] = "10000/s",
    tolerance: Annotated[str, typer.Option(help="Bisect until the bracket is this narrow.")] = "5%",
    probe_time: Annotated[str, typer.Option(help="Shortest SLO probe.")] = "10s",
    max_probe_time: Annotated[
        str, typer.Option(help="Longest SLO probe (low rates run longer to see the tail).")
    ] = "60s",
    min_hold: Annotated[str, typer.Option(help="Shortest hold of a step.")] = "5s",
    max_hold: Annotated[str, typer.Option(help="Longest hold of a step.")] = "30s",
    window: Annotated[str, typer.Option(help="Seconds judged for steadiness.")] = "4s",
    max_time: Annotated[str, typer.Option(help="Budget for the whole test.")] = "10m",
    workers: Annotated[int, typer.Option(help="Worker processes (0 = one per core).")] = 0,
    max_inflight: Annotated[
        int, typer.Option(help="Open model: cap on requests in flight (over it: dropped).")
    ] = DEFAULT_MAX_INFLIGHT,
    out: Annotated[
        Path | None, typer.Option(help="Folder for the probes' run directories.")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Base name of the runs.")] = None,
    method: Annotated[str, typer.Option("-X", "--method", help="HTTP method.")] = "GET",
    header: Annotated[
        list[str] | None, typer.Option("-H", "--header", help='"Name: value", like curl.')
    ] = None,
    data: Annotated[str | None, typer.Option(help="Request body, or @file.")] = None,
    timeout: Annotated[str, typer.Option(help="Total timeout per request.")] = "30s",
    base_url: Annotated[
        str | None, typer.Option(help="Scenario files: the target's base URL.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print only the result JSON.")] = False,
    html: Annotated[
        Path | None,
        typer.Option("--html", help="Also write the capacity report (self-contained HTML)."),
    ] = None,
) -> int:
    """Step the concurrency until throughput is steady, fit the USL, and with --slo find the
    highest arrival rate that still meets it. Every step and probe is a stored run."""
    levels = parse_levels(steps, max_concurrency)
    slo_spec = parse_slo(slo, _fraction(max_error_rate, "--max-error-rate")) if slo else None
    hold = (parse_duration(min_hold), parse_duration(max_hold), parse_duration(window))
    try:
        rule = SteadyRule(
            window_s=round(hold[2]), min_hold_s=round(hold[0]), max_hold_s=round(hold[1])
        )
    except ValueError as exc:
        raise UsageError(f"bad --min-hold/--max-hold/--window: {exc}") from None
    plan = LiveTestPlan(
        levels=levels,
        rule=rule,
        slo=slo_spec,
        probe_time_s=parse_duration(probe_time, what="--probe-time"),
        max_probe_time_s=parse_duration(max_probe_time, what="--max-probe-time"),
        start_rate=parse_rate(start_rate) if start_rate else None,
        max_rate=parse_rate(max_rate),
        tolerance=_fraction(tolerance, "--tolerance"),
        max_time_s=parse_duration(max_time, what="--max-time"),
    )
    if plan.start_rate is not None and not 0 < plan.start_rate <= plan.max_rate:
        raise UsageError("--start-rate must be positive and at most --max-rate")
    base = _base_spec(target, workers, max_inflight, name, method, header, data, timeout, base_url)
    origin = parse_url(base.requests[0].url).origin
    check_loopback(origin.host)
    load.check_reachable(origin, base.connect_timeout_s)
    console = human_console()
    runner = _runner(base, out or DEFAULT_ROOT)
    previous = signal.signal(signal.SIGTERM, _sigterm)
    try:
        result = run_live_test(runner, plan, report=None if as_json else _reporter(console))
    finally:
        signal.signal(signal.SIGTERM, previous)
    doc = result.to_json()
    if html is not None:  # also after an interrupt: the finished steps are worth a page
        from perflab.capacity.usl_report import render_capacity_html

        write_bytes_atomic(html, render_capacity_html(target, live=doc).encode())
        print(f"perflab: capacity report {html}", file=sys.stderr)
    if as_json:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        _render(result, console)
    if result.interrupted:
        print("perflab: interrupted; the steps and probes so far are stored", file=sys.stderr)
        return 130
    return 1 if result.slo_unmet else 0


def _base_spec(
    target: str,
    workers: int,
    max_inflight: int,
    name: str | None,
    method: str,
    header: list[str] | None,
    data: str | None,
    timeout: str,
    base_url: str | None,
) -> RunSpec:
    if target.endswith(".py"):
        overrides = Overrides(
            base_url=base_url, vus=1, duration="1s", name=name, workers=workers, timeout=timeout,
            max_inflight=max_inflight,
        )  # fmt: skip
        return script_spec(target, overrides)
    return build_spec(
        target, rate=None, vus=1, duration="1s", iterations=None, stages=None,
        max_inflight=max_inflight, connections=None, thresholds=[], abort_on_fail=False,
        workers=workers, name=name, tags=[], method=method, headers=header or [], data=data,
        timeout=timeout, connect_timeout="10s", insecure=False, cacert=None,
    )  # fmt: skip


def _runner(base: RunSpec, root: Path) -> ProbeRunner:
    session = uuid.uuid4().hex[:8]

    def make_spec(probe: Load, index: int) -> RunSpec:
        closed = probe.model is LoadModel.CLOSED
        kind = "step" if closed else "probe"
        level = f"c{probe.level:g}" if closed else f"r{probe.level:.4g}"
        tags = {"capacity": kind, "capacity.session": session, "capacity.level": level}
        return with_load(base, probe, name=f"{base.name}-{level}", tags=tags)

    return ProbeRunner(make_spec, root=root, on_stored=index_run)


def _reporter(console: Console) -> Report:
    def report(text: str, result: ProbeResult | None) -> None:
        if result is None:
            console.print(f"[dim]…[/] {text}", highlight=False)
            return
        steady = ""
        if result.steadiness is not None:
            steady = " steady" if result.steadiness.steady else " [yellow]not steady[/]"
        verdict = f" {text}" if text else ""
        console.print(
            f"  {result.load.label:>10}: {result.throughput:8.1f} req/s  p50 "
            f"{result.p50_ms:7.1f} ms  p99 {result.p99_ms:7.1f} ms  errors "
            f"{result.error_rate:.2%}  ({format_duration(result.held_s)}{steady})"
            f"{verdict}  run {result.run_id[:8]}",
            highlight=False,
        )

    return report


def _render(result: LiveTestResult, console: Console) -> None:
    table = Table(title="capacity test", show_lines=False)
    for column in ("load", "throughput/s", "p50 ms", "p99 ms", "errors", "held", "run"):
        table.add_column(column, justify="right")
    for r in [*result.steps, *result.probes]:
        table.add_row(
            r.load.label, f"{r.throughput:.1f}", f"{r.p50_ms:.1f}", f"{r.p99_ms:.1f}",
            f"{r.error_rate:.2%}", format_duration(r.held_s), r.run_id[:8],
        )  # fmt: skip
    console.print(table)
    if result.usl is not None:
        usl = result.usl
        console.print(
            f"USL: sigma {usl['sigma']:.4g}, kappa {usl['kappa']:.4g}, lambda "
            f"{usl['lambda']:.4g}/s; predicted peak {usl['peak_throughput']:.4g}/s at "
            f"{usl['peak_concurrency']:.3g} VUs; knee at "
            f"{result.knee_concurrency or math.nan:.3g} VUs",
            highlight=False,
        )
    elif result.usl_error:
        console.print(f"USL: not fitted ({result.usl_error})", highlight=False)
    for note in result.notes:
        console.print(f"note: {note}", highlight=False)
    if result.search is not None and result.plan.slo is not None:
        _render_search(result, result.plan.slo, console)


def _render_search(result: LiveTestResult, slo: Slo, console: Console) -> None:
    found = result.search
    assert found is not None
    if found.max_rate is None:
        console.print(f"[red]SLO {slo.source} not met at any probed rate[/]", highlight=False)
    else:
        console.print(
            f"[bold]max rate meeting {slo.source}: {found.max_rate:.4g}/s[/]", highlight=False
        )
    console.print(confidence_statement(found), highlight=False)
