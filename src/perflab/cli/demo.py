"""``perflab demo``: the whole workflow against the built-in shop target, nothing to set up."""

from __future__ import annotations

import json
import urllib.request
from typing import Annotated

import typer

from perflab import load
from perflab.cli.execute import print_process, watching
from perflab.cli.live import LiveView, human_console
from perflab.cli.run import watch_plan
from perflab.errors import TargetError
from perflab.model import (
    HttpRequest,
    LoadModel,
    LoadProfile,
    RunSpec,
    parse_stages,
    parse_threshold,
)
from perflab.report.terminal import render_summary
from perflab.store import RunWriter, new_run_dir

DEMO_STAGES = "5s:100/s,10s:300/s,5s:300/s"
DEMO_THRESHOLDS = (
    "p99<500ms",
    "error_rate<5%",
    "GET /items/{id}: p95<50ms",
    "GET /search: p99<1s",
)

EXAMPLES = """Examples:  perflab demo  ·  perflab demo --serve --port 8080, then
perflab run http://127.0.0.1:8080/items/7 --rate 200/s"""


def _login(base: str) -> str:
    body = json.dumps({"username": "user1", "password": "secret"}).encode()
    req = urllib.request.Request(
        f"{base}/login", data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return str(json.load(resp)["token"])
    except OSError as exc:
        raise TargetError(f"the demo target did not answer /login: {exc}") from exc


def demo_spec(base: str, token: str, *, stages: str = DEMO_STAGES) -> RunSpec:
    """A mixed shop workload: browsing, a long-tailed search, a flaky endpoint and a cart."""
    auth = (("Authorization", f"Bearer {token}"), ("Content-Type", "application/json"))
    requests = (
        HttpRequest(f"{base}/items?page=1", name="GET /items"),
        HttpRequest(f"{base}/items/7", name="GET /items/{id}"),
        HttpRequest(f"{base}/items/42", name="GET /items/{id}"),
        HttpRequest(f"{base}/search?q=mug", name="GET /search"),
        HttpRequest(f"{base}/recommendations", name="GET /recommendations"),
        HttpRequest(f"{base}/cart", "POST", auth, b'{"item_id": 3, "qty": 1}', "POST /cart"),
    )
    return RunSpec(
        requests=requests,
        load=LoadProfile(LoadModel.OPEN, parse_stages(stages, rates=True), start=20.0),
        name="demo",
        thresholds=tuple(parse_threshold(t) for t in DEMO_THRESHOLDS),
        timeout_s=10.0,
        tags={"demo": "shop"},
    )


def demo(
    serve: Annotated[
        bool, typer.Option(help="Only run the demo target and print its URL.")
    ] = False,
    port: Annotated[int, typer.Option(help="Port for --serve (0 = any free port).")] = 0,
    stages: Annotated[str, typer.Option(help="Load stages of the demo run.")] = DEMO_STAGES,
    as_json: Annotated[bool, typer.Option("--json", help="Print only the summary JSON.")] = False,
    quiet: Annotated[bool, typer.Option(help="No live view or summary.")] = False,
    profile: Annotated[
        bool,
        typer.Option(
            help="Also watch the demo target: memory with a leak verdict and a py-spy flame "
            "graph of the steady part, in the run and its report."
        ),
    ] = False,
) -> int:
    """Load-test a built-in shop API on 127.0.0.1 (~20 s), then print the summary."""
    from perflab.demo import DemoTarget
    from perflab.demo import serve as serve_target

    console = human_console()
    if serve:

        def ready(url: str) -> None:
            console.print(f"demo target listening on [bold]{url}[/] (Ctrl-C to stop)")
            print(url, flush=True)

        serve_target("127.0.0.1", port, ready)
        return 0
    with DemoTarget() as target:
        if not (quiet or as_json):
            console.print(f"demo target up at {target.url}; running a ramping open-model test")
        spec = demo_spec(target.url, _login(target.url), stages=stages)
        run_dir = new_run_dir(spec.name)
        watch = watch_plan(target.pid, None, 100) if profile else None
        with (
            LiveView(console, open_model=True, enabled=not (quiet or as_json)) as live,
            watching(watch, spec, run_dir) as watcher,
        ):
            doc = load.run(spec, sink=RunWriter(run_dir), on_progress=live)
    doc["path"] = str(run_dir)
    if watcher is not None and watcher.summary is not None:
        doc["process"] = watcher.summary
    if as_json:
        print(json.dumps(doc, indent=2))
    elif not quiet:
        render_summary(doc, console, path=str(run_dir))
        if watcher is not None and watcher.summary is not None:
            print_process(watcher.summary, run_dir, console)
        short = doc["id"][:8]
        console.print(
            f"next: perflab show {short}  ·  perflab report {short}  ·  perflab ui"
            "  (the dashboard on http://127.0.0.1:8089)"
        )
    return 0 if doc["status"] == "passed" else 1
