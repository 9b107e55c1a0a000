"""``perflab run``: a load test against a URL."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import psutil
import typer

from perflab import load
from perflab.cli.execute import execute
from perflab.cli.exporters import ExportPlan, LingerOption, OtlpOption, PrometheusOption
from perflab.cli.live import human_console
from perflab.cli.runspec import DEFAULT_MAX_INFLIGHT, build_spec, parse_tags
from perflab.cli.ui import UiLingerOption, UiOption, UiPlan
from perflab.errors import TargetError, UsageError
from perflab.load.http.url import parse_url
from perflab.load.script.plan import Overrides, script_spec
from perflab.model import parse_duration

if TYPE_CHECKING:
    from perflab.profile.watch import WatchPlan

EXAMPLES = """
Examples:

  perflab run http://127.0.0.1:8080/ --rate 500/s --duration 30s --threshold "p99<300ms"

  perflab run http://127.0.0.1:8080/items --vus 50 --duration 1m --json

  perflab run http://127.0.0.1:8080/ --stages "30s:100/s,1m:500/s,30s:0/s" --max-inflight 200

  perflab run https://localhost:8443/api -X POST -H "Authorization: Bearer $T" --data @body.json

  perflab run http://127.0.0.1:8080/ --http2 --vus 100 --duration 30s

  perflab run examples/checkout_journey.py --base-url http://127.0.0.1:8000 --duration 1m

  perflab run http://127.0.0.1:8080/ --rate 200/s --duration 10m --prometheus :9464

  perflab run http://127.0.0.1:8080/ --rate 300/s --duration 2m --profile-pid 4242
    (the target's memory each second with a leak verdict, and a flame graph of the steady part)
"""


def run(
    target: Annotated[
        str, typer.Argument(help="URL to load (http:// or https://), or a scenario file (.py).")
    ],
    rate: Annotated[str | None, typer.Option(help="Open model: arrival rate, e.g. 500/s.")] = None,
    vus: Annotated[
        int | None, typer.Option(help="Closed model: virtual users (default 10).")
    ] = None,
    duration: Annotated[
        str | None, typer.Option(help="How long, e.g. 30s, 2m (default 10s).")
    ] = None,
    iterations: Annotated[int | None, typer.Option(help="Stop after this many requests.")] = None,
    stages: Annotated[
        str | None,
        typer.Option(help='Ramps: "30s:100/s,1m:500/s" (rates) or "30s:10,1m:50" (VUs).'),
    ] = None,
    max_inflight: Annotated[
        int | None,
        typer.Option(
            help="Open model: cap on requests (scenario files: users) in flight; over it "
            "arrivals are dropped and counted. Default 1000."
        ),
    ] = None,
    connections: Annotated[
        int | None,
        typer.Option(help="Cap on connections (default: as needed; closed model: one per VU)."),
    ] = None,
    threshold: Annotated[
        list[str] | None, typer.Option("--threshold", help='Pass/fail, e.g. "p99<300ms".')
    ] = None,
    abort_on_fail: Annotated[bool, typer.Option(help="Stop early when a threshold fails.")] = False,
    workers: Annotated[int, typer.Option(help="Worker processes (0 = one per core).")] = 0,
    out: Annotated[
        Path | None, typer.Option(help="Run directory (default ./perflab-runs/…).")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Name of the run (default: the host).")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="KEY=VALUE label.")] = None,
    method: Annotated[str, typer.Option("-X", "--method", help="HTTP method.")] = "GET",
    header: Annotated[
        list[str] | None, typer.Option("-H", "--header", help='"Name: value", like curl.')
    ] = None,
    data: Annotated[str | None, typer.Option(help="Request body, or @file.")] = None,
    timeout: Annotated[str | None, typer.Option(help="Total timeout per request (60s).")] = None,
    base_url: Annotated[
        str | None,
        typer.Option(help="Scenario files: the target's base URL (or $PERFLAB_BASE_URL)."),
    ] = None,
    connect_timeout: Annotated[str, typer.Option(help="TCP connect timeout.")] = "10s",
    insecure: Annotated[bool, typer.Option(help="Skip TLS certificate verification.")] = False,
    http2: Annotated[
        bool,
        typer.Option(
            "--http2",
            help="HTTP/2: h2c for http:// (prior knowledge), ALPN h2 for https://; streams "
            "multiplex over one connection per worker (--connections N for more).",
        ),
    ] = False,
    cacert: Annotated[str | None, typer.Option(help="CA bundle for HTTPS.")] = None,
    prometheus: PrometheusOption = None,
    prometheus_linger: LingerOption = "0s",
    otlp: OtlpOption = None,
    ui: UiOption = None,
    ui_linger: UiLingerOption = "0s",
    profile_pid: Annotated[
        int | None,
        typer.Option(
            help="Watch this target process: memory every second (leak verdict) and a py-spy "
            "CPU profile of the run's steady part, stored with the run and in its report."
        ),
    ] = None,
    monitor_pid: Annotated[
        int | None, typer.Option(help="Watch only the memory of this process (no profiler).")
    ] = None,
    profile_rate: Annotated[int, typer.Option(help="Samples per second of the profile.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print only the summary JSON.")] = False,
    quiet: Annotated[bool, typer.Option(help="No live view or summary (CI).")] = False,
) -> int:
    """Load-test TARGET; latency is measured from each request's intended start."""
    watch = watch_plan(profile_pid, monitor_pid, profile_rate)
    if target.endswith(".py"):
        spec = script_spec(
            target,
            Overrides(
                base_url=base_url,
                rate=rate,
                vus=vus,
                duration=duration,
                stages=stages,
                iterations=iterations,
                max_inflight=max_inflight,
                connections=connections,
                thresholds=threshold or [],
                name=name,
                workers=workers,
                tags=parse_tags(tag or []),
                abort_on_fail=abort_on_fail,
                timeout=timeout,
                connect_timeout_s=parse_duration(connect_timeout, what="--connect-timeout"),
                insecure=insecure,
                ca_file=cacert,
                http2=http2,
            ),
        )
    else:
        spec = build_spec(
            target,
            rate=rate,
            vus=vus,
            duration=duration,
            iterations=iterations,
            stages=stages,
            max_inflight=max_inflight or DEFAULT_MAX_INFLIGHT,
            connections=connections,
            thresholds=threshold or [],
            abort_on_fail=abort_on_fail,
            workers=workers,
            name=name,
            tags=tag or [],
            method=method,
            headers=header or [],
            data=data,
            timeout=timeout or "60s",
            connect_timeout=connect_timeout,
            insecure=insecure,
            cacert=cacert,
            http2=http2,
        )
    exports = ExportPlan.parse(prometheus, prometheus_linger, otlp)
    dashboard = UiPlan.parse(ui, ui_linger)
    console = human_console()
    load.check_reachable(parse_url(spec.requests[0].url).origin, spec.connect_timeout_s)
    with exports.start() as sinks, dashboard.start() as ui_sinks:
        extra = [*sinks, *ui_sinks]
        return execute(
            spec, console, out=out, as_json=as_json, quiet=quiet, extra_sinks=extra, watch=watch
        )


def watch_plan(profile_pid: int | None, monitor_pid: int | None, rate: int) -> WatchPlan | None:
    """The target-process watch the flags ask for (checked before any load is sent)."""
    if profile_pid is not None and monitor_pid is not None:
        raise UsageError("give --profile-pid (memory and CPU) or --monitor-pid (memory), not both")
    pid = profile_pid if profile_pid is not None else monitor_pid
    if pid is None:
        return None
    from perflab.profile.sampler import check_options
    from perflab.profile.watch import WatchPlan

    if profile_pid is not None:
        check_options(None, rate)
    if not psutil.pid_exists(pid):  # before the run directory exists: nothing half-made
        raise TargetError(f"no process with PID {pid}")
    return WatchPlan(pid=pid, profile=profile_pid is not None, rate_hz=rate)
