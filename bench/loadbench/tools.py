"""Each generator's command line and the parser of its output."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
from collections.abc import Callable
from functools import partial
from pathlib import Path

from loadbench.model import CONNECTIONS, Child, Parsed, Skip, Tool
from loadbench.procs import find_binary

K6_SCRIPT = """\
import http from 'k6/http';
export const options = {{
  discardResponseBodies: true,
  scenarios: {{ load: {{ executor: 'constant-vus', vus: {vus}, duration: '{duration}s' }} }},
}};
export default function () {{ http.get('{url}'); }}
"""

# The hooks record the request count when spawning completes, so the steady-state rate can
# exclude Locust's ramp-up; they cost two calls per run.
LOCUSTFILE = """\
import json, time
from locust import FastHttpUser, constant, events, task

_mark = {{}}
_env = []


class Hello(FastHttpUser):
    wait_time = constant(0)

    @task
    def get(self):
        self.client.get("/")


@events.test_start.add_listener
def _start(environment, **_kw):
    _env.append(environment)
    _mark["t_start"] = time.perf_counter()


@events.spawning_complete.add_listener
def _spawned(user_count, **_kw):
    _mark["t_ramp"] = time.perf_counter()
    _mark["n_ramp"] = _env[0].stats.total.num_requests


@events.test_stop.add_listener
def _stop(environment, **_kw):
    total = environment.stats.total
    _mark.update(
        t_stop=time.perf_counter(),
        n_stop=total.num_requests,
        failures=total.num_failures,
        p50_ms=total.get_response_time_percentile(0.5),
        p99_ms=total.get_response_time_percentile(0.99),
    )
    with open({out!r}, "w") as f:
        json.dump(_mark, f)
"""


_UNIT_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def parse_wrk(child: Child, _workdir: Path) -> Parsed:
    """wrk's text report: total requests, Requests/sec, the --latency distribution, errors."""
    out = child.stdout
    m_req = re.search(r"^\s*(\d+) requests in", out, re.M)
    m_rps = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    if not (m_req and m_rps):
        raise ValueError("no 'requests in' / 'Requests/sec' line in wrk output")
    lat = {
        float(q): float(v) * _UNIT_MS[u]
        for q, v, u in re.findall(r"^\s+([\d.]+)%\s+([\d.]+)(us|ms|s|m|h)\s*$", out, re.M)
    }
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    m_non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors += int(m_non2xx.group(1)) if m_non2xx else 0
    return Parsed(int(m_req.group(1)), float(m_rps.group(1)), lat.get(50.0), lat.get(99.0), errors)


def parse_k6(_child: Child, workdir: Path) -> Parsed:
    """k6's --summary-export: http_reqs count and rate, duration percentiles, failures."""
    metrics = json.loads((workdir / "k6-summary.json").read_text())["metrics"]
    reqs, dur = metrics["http_reqs"], metrics["http_req_duration"]
    failed = metrics.get("http_req_failed", {}).get("passes", 0)  # "passes" = failed == true
    return Parsed(
        int(reqs["count"]), float(reqs["rate"]), dur.get("p(50)"), dur.get("p(99)"), int(failed)
    )


def parse_locust(_child: Child, workdir: Path) -> Parsed:
    """Steady-state rate from the locustfile's hooks; Locust's own aggregate from --csv.

    The reported rps counts only requests after spawning completed, over the time after it,
    so the ramp-up second does not pull Locust's figure down. CPU per request still divides
    all CPU (imports, ramp) by all requests, as for every other tool.
    """
    mark = json.loads((workdir / "locust-marks.json").read_text())
    window = mark["t_stop"] - mark.get("t_ramp", mark["t_start"])
    steady = (mark["n_stop"] - mark.get("n_ramp", 0)) / window
    with (workdir / "locust_stats.csv").open() as f:
        agg = next(r for r in csv.DictReader(f) if r["Name"] == "Aggregated")
    extra = {
        "rps_aggregate": float(agg["Requests/s"]),
        "ramp_s": round(mark.get("t_ramp", mark["t_start"]) - mark["t_start"], 3),
        "steady_window_s": round(window, 3),
    }
    return Parsed(
        int(mark["n_stop"]), steady, mark["p50_ms"], mark["p99_ms"], int(mark["failures"]), extra
    )


def parse_perflab(child: Child, _workdir: Path) -> Parsed:
    """perflab's --json document: totals and the generator's self-checks."""
    doc = json.loads(child.stdout)
    totals, gen = doc["totals"], doc.get("generator", {})
    lat = totals.get("latency_ms", {})
    lag = gen.get("sched_lag_us", {})
    extra = {
        "gen_cpu_pct_self": gen.get("cpu_pct"),
        "sched_lag_p50_us": lag.get("p50"),
        "sched_lag_p99_us": lag.get("p99"),
        "saturated": gen.get("saturated"),
        "dropped": totals.get("dropped"),
    }
    return Parsed(
        int(totals["requests"]),
        float(totals["rps"]),
        lat.get("p50"),
        lat.get("p99"),
        int(totals.get("errors", 0)),
        extra,
    )


def require(name: str) -> str:
    """The binary's path, or Skip with the fix."""
    path = find_binary(name)
    if path is None:
        raise Skip(f"{name} not found (run bench/setup.sh)")
    return path


_perflab_probe: dict[str, str | Skip] = {}


def perflab_ready() -> str:
    """perflab's path once its CLI answers `run --help`, else Skip (probed once per process:
    the CLI was still being built when this script was written)."""
    if not _perflab_probe:
        try:
            path = require("perflab")
            probe = subprocess.run(
                [path, "run", "--help"], capture_output=True, text=True, timeout=60
            )
            if probe.returncode != 0:
                lines = (probe.stderr or probe.stdout).strip().splitlines() or ["no output"]
                raise Skip(f"`perflab run --help` failed: {lines[-1][:120]}")
            _perflab_probe["result"] = path
        except subprocess.SubprocessError as exc:
            _perflab_probe["result"] = Skip(f"`perflab run --help` did not answer: {exc}")
        except Skip as exc:
            _perflab_probe["result"] = exc
    result = _perflab_probe["result"]
    if isinstance(result, Skip):
        raise result
    return result


def k6_argv(url: str, secs: int, w: Path) -> list[str]:
    """constant-vus with one VU per connection; bodies discarded, as k6 advises for load."""
    (w / "script.js").write_text(K6_SCRIPT.format(vus=CONNECTIONS, duration=secs, url=url))
    # fmt: off
    return [require("k6"), "run", "--no-usage-report", "--no-color", "--quiet",
            "--no-thresholds", "--summary-trend-stats", "p(50),p(99)",
            "--summary-export", str(w / "k6-summary.json"), str(w / "script.js")]
    # fmt: on


def locust_argv(url: str, secs: int, w: Path) -> list[str]:
    """Headless, one process, all users spawned in the first second."""
    (w / "locustfile.py").write_text(LOCUSTFILE.format(out=str(w / "locust-marks.json")))
    # fmt: off
    return [require("locust"), "-f", str(w / "locustfile.py"), "--headless", "--only-summary",
            "-u", str(CONNECTIONS), "-r", str(CONNECTIONS), "--run-time", f"{secs}s",
            "--host", url.rstrip("/"), "--csv", str(w / "locust"), "--loglevel", "WARNING"]
    # fmt: on


def make_tools(
    url: str, secs: int, only: set[str], rates: list[int], open_connections: int = CONNECTIONS
) -> list[Tool]:
    """The tools to run, in order; each binary is resolved when its Tool runs, not here.

    ``open_connections`` caps the open model's pool (0: perflab's default, which grows as
    needed): wrk2, the open-model reference, always runs a fixed number (``-c``)."""
    d = f"{secs}s"
    wrk = ["-t1", f"-c{CONNECTIONS}", f"-d{d}", "--latency"]
    perflab = ["run", url, "--duration", d, "--workers", "1", "--json", "--quiet"]
    tools: list[Tool] = []
    if "wrk" in only:
        tools.append(Tool("wrk", lambda w: [require("wrk"), *wrk, url], parse_wrk))
    if "k6" in only:
        tools.append(Tool("k6", partial(k6_argv, url, secs), parse_k6))
    if "locust" in only:
        tools.append(Tool("locust", partial(locust_argv, url, secs), parse_locust))
    if "perflab" in only:
        vus = [*perflab, "--vus", str(CONNECTIONS)]
        tools.append(Tool("perflab", lambda w: [perflab_ready(), *vus], parse_perflab))
    if "perflab-open" not in only:
        return tools

    def open_argv(binary: Callable[[], str], args: list[str]) -> Callable[[Path], list[str]]:
        return lambda w: [binary(), *args]

    capped = ["--connections", str(open_connections)] if open_connections else []
    for r in rates:
        argv = open_argv(perflab_ready, [*perflab, "--rate", f"{r}/s", *capped])
        tools.append(Tool(f"perflab@{r}/s", argv, parse_perflab, target_rps=r))
    # wrk2 (constant-throughput wrk) is not in Debian; a reference only where installed.
    if shutil.which("wrk2"):
        fixed = ["-t1", f"-c{open_connections or CONNECTIONS}", f"-d{d}", "--latency"]
        for r in rates:
            argv = open_argv(lambda: "wrk2", [*fixed, f"-R{r}", url])
            tools.append(Tool(f"wrk2@{r}/s", argv, parse_wrk, target_rps=r))
    return tools
