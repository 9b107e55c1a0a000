"""``perflab replay``: re-send recorded traffic (an access log or a HAR file) to a target."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from perflab import load
from perflab.cli.execute import execute
from perflab.cli.exporters import ExportPlan, LingerOption, OtlpOption, PrometheusOption
from perflab.cli.live import human_console
from perflab.cli.runspec import parse_tags
from perflab.cli.ui import UiLingerOption, UiOption, UiPlan
from perflab.errors import UsageError
from perflab.load.http.url import parse_url
from perflab.load.replay import ParsedReplay, parse_speed, rates, read_replay
from perflab.model import (
    HttpRequest,
    LoadModel,
    LoadProfile,
    RunSpec,
    Stage,
    parse_duration,
    parse_rate,
    parse_threshold,
)
from perflab.model.units import format_duration

EXAMPLES = """
Examples:

  perflab replay /var/log/nginx/access.log --target http://127.0.0.1:8080

  perflab replay access.log.1.gz --target https://staging.example.com --speed 10x --limit 50000

  perflab replay session.har --target http://127.0.0.1:8080 --rate 100/s --threshold "p99<300ms"

Common and combined log formats (nginx, Apache) and HAR files are recognised from the content;
.gz files are read as they are. Requests keep their method, path and query (HAR: also headers
and body, Authorization and cookies included, which never appear in results). Lines that
cannot be replayed are counted and reported, with their line numbers.
"""

END_MARGIN_S = 0.5  # the run's window extends past the last request's offset by this much
PER_WORKER_RPS = 5000.0  # --workers 0: one worker per this much peak rate, at most one per core


def replay(
    source: Annotated[
        str, typer.Argument(help="Access log (common/combined, optionally .gz) or HAR file.")
    ],
    target: Annotated[
        str, typer.Option(help="Where to send: scheme://host[:port]; the paths come from SOURCE.")
    ],
    speed: Annotated[
        str | None, typer.Option(help="Replay faster or slower: 2x, 0.5x (default 1x).")
    ] = None,
    rate: Annotated[
        str | None,
        typer.Option(help="Ignore the recorded timing: send at this rate, in order (100/s)."),
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Replay only the first N requests.")] = None,
    max_inflight: Annotated[
        int, typer.Option(help="Cap on requests in flight; over it they are dropped and counted.")
    ] = 1000,
    connections: Annotated[
        int | None, typer.Option(help="Cap on connections (default: as needed).")
    ] = None,
    threshold: Annotated[
        list[str] | None,
        typer.Option("--threshold", help='Pass/fail, e.g. "p99<300ms", "GET /items/{id}: p95<1s".'),
    ] = None,
    abort_on_fail: Annotated[bool, typer.Option(help="Stop early when a threshold fails.")] = False,
    workers: Annotated[
        int, typer.Option(help="Worker processes (0 = sized to the peak rate, up to one per core).")
    ] = 0,
    out: Annotated[
        Path | None, typer.Option(help="Run directory (default ./perflab-runs/…).")
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="Name of the run (default: replay-HOST).")
    ] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="KEY=VALUE label.")] = None,
    timeout: Annotated[str, typer.Option(help="Total timeout per request.")] = "60s",
    connect_timeout: Annotated[str, typer.Option(help="TCP connect timeout.")] = "10s",
    insecure: Annotated[bool, typer.Option(help="Skip TLS certificate verification.")] = False,
    cacert: Annotated[str | None, typer.Option(help="CA bundle for HTTPS.")] = None,
    prometheus: PrometheusOption = None,
    prometheus_linger: LingerOption = "0s",
    otlp: OtlpOption = None,
    ui: UiOption = None,
    ui_linger: UiLingerOption = "0s",
    as_json: Annotated[bool, typer.Option("--json", help="Print only the summary JSON.")] = False,
    quiet: Annotated[bool, typer.Option(help="No plan, live view or summary (CI).")] = False,
) -> int:
    """Replay SOURCE's requests against --target on their recorded timing (or re-timed)."""
    origin = _origin(target)
    if speed is not None and rate is not None:
        raise UsageError("give either --speed or --rate, not both")
    factor = parse_speed(speed) if speed is not None else None
    parsed = read_replay(
        source,
        speed=factor or 1.0,
        rate=parse_rate(rate) if rate is not None else None,
        limit=limit,
    )
    spec = _spec(
        parsed,
        origin,
        max_inflight=max_inflight,
        connections=connections,
        thresholds=threshold or [],
        abort_on_fail=abort_on_fail,
        workers=workers,
        name=name,
        tags=tag or [],
        timeout=timeout,
        connect_timeout=connect_timeout,
        insecure=insecure,
        cacert=cacert,
    )
    exports = ExportPlan.parse(prometheus, prometheus_linger, otlp)
    dashboard = UiPlan.parse(ui, ui_linger)
    console = human_console()
    if not quiet:
        _describe(console, parsed, speed=factor, rate=rate)
    load.check_reachable(parse_url(origin).origin, spec.connect_timeout_s)
    with exports.start() as sinks, dashboard.start() as ui_sinks:
        extra = [*sinks, *ui_sinks]
        return execute(spec, console, out=out, as_json=as_json, quiet=quiet, extra_sinks=extra)


def _origin(target: str) -> str:
    """``--target`` as an origin URL; a path there would be silently ignored, so refuse it."""
    parsed = parse_url(target)
    if parsed.path != "/":
        raise UsageError(
            f"--target {target!r} has a path or query; give only scheme://host[:port], "
            "the paths come from the replayed file"
        )
    return f"{parsed.origin}/"


def _spec(
    parsed: ParsedReplay,
    origin: str,
    *,
    max_inflight: int,
    connections: int | None,
    thresholds: list[str],
    abort_on_fail: bool,
    workers: int,
    name: str | None,
    tags: list[str],
    timeout: str,
    connect_timeout: str,
    insecure: bool,
    cacert: str | None,
) -> RunSpec:
    """The run: the open model on the plan's own offsets; the stage only bounds and labels it.

    The stage's target is the plan's mean rate (shown in the live view); its duration covers
    the last offset plus a margin, since the engine drops arrivals due after the end.
    """
    plan = parsed.plan
    mean, peak = rates(plan)
    if workers == 0:
        workers = max(1, min(os.cpu_count() or 1, math.ceil(peak / PER_WORKER_RPS)))
    spec = RunSpec(
        requests=(HttpRequest(url=origin),),
        load=LoadProfile(
            LoadModel.OPEN,
            (Stage(plan.duration_s + END_MARGIN_S, mean),),
            start=mean,
            max_inflight=max_inflight,
            connections=connections,
        ),
        name=name or f"replay-{parse_url(origin).origin.host}",
        workers=workers,
        thresholds=tuple(parse_threshold(t) for t in thresholds),
        abort_on_fail=abort_on_fail,
        timeout_s=parse_duration(timeout, what="--timeout"),
        connect_timeout_s=parse_duration(connect_timeout, what="--connect-timeout"),
        insecure=insecure,
        ca_file=cacert,
        tags=parse_tags(tags),
        replay=plan,
    )
    scoped = [t for t in spec.thresholds if t.scope is not None]
    if scoped:
        known = {e.name for e in plan.entries}
        for th in scoped:
            if th.scope not in known:
                listed = ", ".join(sorted(known)[:10]) + (" …" if len(known) > 10 else "")
                raise UsageError(
                    f"threshold {th.source!r} names request {th.scope!r}; this replay has: "
                    + listed
                )
    spec.validate()
    return spec


def _describe(
    console: Console, parsed: ParsedReplay, *, speed: float | None, rate: str | None
) -> None:
    """What is about to be replayed, and what was left out, before anything is sent."""
    plan = parsed.plan
    mean, peak = rates(plan)
    timing = (
        f"re-timed to {rate}"
        if rate is not None
        else f"at {speed:g}x speed"
        if speed is not None
        else "on the recorded timing"
    )
    names = len({e.name for e in plan.entries})
    unit = parsed.unit
    units = "entries" if unit == "entry" else "lines"
    what = "HAR" if parsed.format == "har" else f"{parsed.format} log format"
    console.print(
        f"replay: {len(plan.entries):,} requests from {plan.source} ({what}, {plan.lines:,} "
        f"{units}) over {format_duration(round(plan.duration_s, 3))} {timing}: mean "
        f"{mean:,.1f}/s, peak {peak:,.0f}/s, {names:,} request name{'s' if names != 1 else ''}",
        highlight=False,
        markup=False,
    )
    if plan.skipped:
        first = "; ".join(f"{unit} {n}: {why}" for n, why in plan.skipped[:5])
        more = ", …" if len(plan.skipped) > 5 else ""
        console.print(
            f"skipped {len(plan.skipped):,} {units} that cannot be replayed ({first}{more})",
            highlight=False,
            markup=False,
        )
    for note in parsed.notes:
        console.print(f"note: {note}", highlight=False, markup=False)
