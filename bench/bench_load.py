"""Side-by-side benchmark of HTTP load generators: wrk, k6, Locust and perflab.

One process starts one nginx (1 worker, pinned to core 1) and runs each generator in turn,
pinned to core 0, with 50 keep-alive connections for the same duration. For every tool it
measures requests/s and client CPU time per request, and prints perflab's ratios to each peer
next to its targets. A second part drives perflab's open model at fixed rates and checks
that it reaches them with low scheduling lag.

Why these measurements:
- RPS alone is not a fair comparison above ~150k/s, where nginx on its single core is the
  bottleneck (wrk stops there); client CPU per request shows how much headroom a generator has.
- CPU is taken from the kernel's rusage of each reaped child process tree (``os.wait4``),
  the same way for every tool, so a tool's own report of its CPU never enters the comparison.
- The machine is shared: per-core CPU is sampled before each run and the CPU not accounted to
  the generator or nginx during the run is reported, so a noisy figure can be recognised.

Usage: ``python bench/bench_load.py [--quick] [--only wrk,k6] [--json out.json]``;
see ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from itertools import pairwise
from pathlib import Path
from typing import Any

import psutil
from rich.console import Console
from rich.table import Table

SCHEMA = "perflab.bench-load/1"
CONNECTIONS = 50
GEN_CORE = 0
SERVER_CORE = 1
BUSY_PCT_WARN = 20.0
STARTUP_GRACE_S = 60.0
PEERS = ("wrk", "k6", "locust")
TOOLS = (*PEERS, "perflab", "perflab-open")
# perflab / peer targets; they apply to RPS and to requests per CPU-second alike.
TARGETS = {"wrk": 0.9, "k6": 5.0, "locust": 10.0}
DEFAULT_RATES = (20_000, 50_000, 100_000)
OPEN_ACHIEVED_MIN = 0.999
HERE = Path(__file__).resolve().parent

NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    default_type text/plain;
    keepalive_requests 1000000000;
    keepalive_timeout 300s;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 200 "Hello, world!"; }}
        location = /nginx_status {{ stub_status; }}
    }}
}}
"""

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


class Skip(Exception):
    """A tool cannot run here; the reason becomes its row, the benchmark goes on."""


@dataclass
class Child:
    """One finished child process: its output and the CPU of its whole reaped tree."""

    returncode: int
    stdout: str
    stderr: str
    wall_s: float
    user_s: float
    sys_s: float
    timed_out: bool
    orphans: int = 0
    straggler_cpu_s: float = 0.0
    steady: Steady | None = None
    exit_snapshot: tuple[float, ...] = ()


@dataclass
class Parsed:
    """What a tool's own output says about its run."""

    requests: int
    rps: float
    p50_ms: float | None = None
    p99_ms: float | None = None
    errors: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Sample:
    """One run of one tool, with the figures every tool gets."""

    tool: str
    status: str  # ok | skipped | failed
    reason: str = ""
    target_rps: float | None = None
    rps: float | None = None
    requests: int | None = None
    errors: int | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    wall_s: float | None = None
    cpu_user_s: float | None = None
    cpu_sys_s: float | None = None
    cpu_unreaped_s: float | None = None  # of processes the tool left behind, read via psutil
    cpu_us_per_req: float | None = None
    steady_cpu_pct: float | None = None
    steady_us_per_req: float | None = None
    steady: dict[str, float] | None = None
    served_rps: float | None = None  # nginx's count while load flowed (see LoadSampler)
    gen_cpu_pct: float | None = None
    nginx_cpu_pct: float | None = None
    busy_before_pct: list[float] = field(default_factory=list)
    other_cpu_pct: float | None = None
    noisy: bool = False
    warnings: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Tool:
    """How to run one generator: its command line and how to read its result."""

    name: str
    argv: Callable[[Path], list[str]]
    parse: Callable[[Child, Path], Parsed]
    target_rps: float | None = None


# ---- processes and CPU accounting ------------------------------------------------------


def find_binary(name: str) -> str | None:
    """Prefer the running venv's copy (k6, locust, perflab live there), then PATH and sbin."""
    for cand in (Path(sys.executable).parent / name, HERE.parent / ".venv" / "bin" / name):
        if cand.is_file() and os.access(cand, os.X_OK):
            return str(cand)
    found = shutil.which(name)
    if found:
        return found
    sbin = Path("/usr/sbin") / name
    return str(sbin) if sbin.is_file() else None


def run_pinned(
    argv: list[str],
    core: int,
    timeout_s: float,
    cwd: Path,
    served: Callable[[], int],
    at_exit: Callable[[], tuple[float, ...]],
) -> Child:
    """Run argv pinned to one core and return its output and rusage.

    ``os.wait4`` returns the rusage of the child together with every descendant it reaped,
    so a generator's worker processes are counted as long as the generator waits for them.
    Output goes to files, not pipes, so a chatty tool never blocks on a full pipe. served
    counts the target's requests, for the LoadSampler. at_exit is called the moment the child
    is reaped, before stragglers are waited for.
    """
    out_path, err_path = cwd / "child.out", cwd / "child.err"
    env = {**os.environ, "K6_NO_USAGE_REPORT": "true", "NO_COLOR": "1"}
    with out_path.open("wb") as out, err_path.open("wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            ["taskset", "-c", str(core), *argv],
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
        sampler = LoadSampler(proc.pid, served)
        status, ru, timed_out = reap(proc.pid, t0 + timeout_s, sampler.tick)
        wall = time.perf_counter() - t0
        exit_snapshot = at_exit()
        straggler_cpu, orphans = collect_stragglers(proc.pid)
    proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped; keep Popen quiet
    return Child(
        returncode=proc.returncode,
        stdout=out_path.read_text(errors="replace"),
        stderr=err_path.read_text(errors="replace"),
        wall_s=wall,
        user_s=ru.ru_utime,
        sys_s=ru.ru_stime,
        timed_out=timed_out,
        orphans=orphans,
        straggler_cpu_s=straggler_cpu,
        exit_snapshot=exit_snapshot,
        steady=sampler.steady(),
    )


def reap(pid: int, deadline: float, tick: Callable[[float], None]) -> tuple[int, Any, bool]:
    """Wait for pid (polling, so a deadline can be enforced) and return (status, rusage,
    timed_out). On a timeout or Ctrl-C the child's whole process group is killed, since it
    runs in its own session and would not get the terminal's SIGINT."""
    timed_out = False
    try:
        while True:
            got, status, ru = os.wait4(pid, os.WNOHANG)
            if got:
                return status, ru, timed_out
            now = time.perf_counter()
            tick(now)
            if now > deadline and not timed_out:
                timed_out = True
                kill_group(pid)
            time.sleep(0.02)
    except BaseException:
        kill_group(pid)
        os.wait4(pid, 0)
        raise


def tree_cpu_s(pid: int) -> float | None:
    """CPU so far of a live process, its live descendants and the ones it has reaped."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return None
    total = 0.0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
    return total


@dataclass
class Steady:
    """The generator's cost while load was flowing, start-up and teardown left out."""

    window_s: float
    cpu_pct: float
    served_rps: float  # counted by nginx, independent of the tool's own report
    us_per_req: float


class LoadSampler:
    """Samples the generator tree's CPU and nginx's served-request count every 0.25 s.

    rusage covers the whole run, start-up included (Locust's imports alone cost ~0.85 s of
    CPU here, perflab's worker spawn more); the samples show where load actually flowed, so
    CPU per request can also be taken over that stretch only, for every tool alike.
    """

    PERIOD_S = 0.25

    def __init__(self, pid: int, served: Callable[[], int]) -> None:
        self.pid, self.served = pid, served
        self.points: list[tuple[float, float, int]] = []  # (time, tree CPU s, served)
        self.next_at = 0.0

    def tick(self, now: float) -> None:
        if now < self.next_at:
            return
        self.next_at = now + self.PERIOD_S
        cpu = tree_cpu_s(self.pid)
        if cpu is not None:
            self.points.append((now, cpu, self.served()))

    def steady(self) -> Steady | None:
        """Over the intervals where nginx served >= half its peak rate, less one interval at
        each end (partly idle); None when under 2 intervals remain."""
        pts = self.points
        # Each interval's count includes the one status request that ended it.
        rates = [(b[2] - a[2] - 1) / (b[0] - a[0]) for a, b in pairwise(pts)]
        if not rates or max(rates) <= 0:
            return None
        busy = [i for i, r in enumerate(rates) if r >= 0.5 * max(rates)]
        first, last = busy[0] + 1, busy[-1] - 1
        if last - first + 1 < 2:
            return None
        (t_a, c_a, n_a), (t_b, c_b, n_b) = pts[first], pts[last + 1]
        served = n_b - n_a - (last + 1 - first)
        if served <= 0:
            return None
        return Steady(t_b - t_a, 100 * (c_b - c_a) / (t_b - t_a), served / (t_b - t_a),
                      (c_b - c_a) * 1e6 / served)  # fmt: skip


def group_members(pgid: int) -> list[psutil.Process]:
    """Live processes of a process group, its leader excluded."""
    members = []
    for p in psutil.process_iter():
        with contextlib.suppress(psutil.Error, OSError):
            if p.pid != pgid and os.getpgid(p.pid) == pgid:
                members.append(p)
    return members


def kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def collect_stragglers(pgid: int, grace_s: float = 2.0) -> tuple[float, int]:
    """CPU of group members still alive after the leader was reaped, and how many had to be
    killed after grace_s.

    Their CPU never reaches our rusage (they are re-parented, not reaped by the tool), so it
    is read here and added. Python's multiprocessing resource tracker is the usual one: it
    exits by itself moments after its parent; a process still there after the grace is a
    leak worth a warning.
    """
    members = group_members(pgid)
    cpu = 0.0
    for p in members:
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            cpu += t.user + t.system + t.children_user + t.children_system
    _, alive = psutil.wait_procs(members, timeout=grace_s) if members else ([], [])
    kill_group(pgid)
    return cpu, len(alive)


def busy_per_core(interval_s: float = 1.0) -> list[float]:
    """Per-core busy % over interval_s; taken while nothing of ours runs, so it is noise."""
    return [float(p) for p in psutil.cpu_percent(interval=interval_s, percpu=True)]


def machine_busy_s() -> float:
    """Busy CPU-seconds of the whole machine so far (all cores; idle and iowait excluded)."""
    t = psutil.cpu_times()
    total = sum(t) - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0)
    return float(total - t.idle - getattr(t, "iowait", 0.0))


def own_cpu_s() -> float:
    """CPU of this script itself, so it is not blamed on other tenants."""
    t = psutil.Process().cpu_times()
    return float(t.user + t.system)


# ---- the target -------------------------------------------------------------------------


def free_port() -> int:
    """An ephemeral port that is free now (nginx binds it right after; retried on a race)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Nginx:
    """nginx in a temp dir, 1 worker pinned to SERVER_CORE, in the foreground as our child."""

    def __init__(self, workdir: Path) -> None:
        binary = find_binary("nginx")
        if binary is None:
            raise SystemExit("nginx not found: run bench/setup.sh (apt-get install nginx-light)")
        self.binary = binary
        self.dir = workdir / "nginx"
        self.dir.mkdir()
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Nginx:
        for _ in range(5):
            self.port = free_port()
            conf = self.dir / "nginx.conf"
            conf.write_text(NGINX_CONF.format(tmp=self.dir, port=self.port))
            # fmt: off
            argv = ["taskset", "-c", str(SERVER_CORE), self.binary, "-p", str(self.dir),
                    "-c", str(conf), "-e", str(self.dir / "error.log")]
            # fmt: on
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            if self._wait_ready():
                return self
            assert self.proc.stderr is not None
            err = self.proc.stderr.read().decode(errors="replace")
            if "Address already in use" not in err:
                raise SystemExit(f"nginx did not start: {err.strip()}")
        raise SystemExit("nginx did not start: no free port after 5 tries")

    def _wait_ready(self) -> bool:
        assert self.proc is not None
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
            ):
                return True
            time.sleep(0.02)
        self.proc.kill()
        self.proc.wait()
        return False

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful: master reaps its worker
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def served(self) -> int:
        """Requests nginx has served so far (stub_status; this request included)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
            sock.sendall(b"GET /nginx_status HTTP/1.0\r\n\r\n")
            data = b""
            while chunk := sock.recv(4096):
                data += chunk
        m = re.search(rb"\n\s*\d+\s+\d+\s+(\d+)\s*\n", data)
        if m is None:
            raise RuntimeError(f"unexpected stub_status reply: {data[-200:]!r}")
        return int(m.group(1))

    def cpu_s(self) -> float:
        """CPU of master and worker so far; deltas around a run give nginx's share."""
        assert self.proc is not None
        master = psutil.Process(self.proc.pid)
        total = 0.0
        for p in (master, *master.children(recursive=True)):
            with contextlib.suppress(psutil.NoSuchProcess):
                t = p.cpu_times()
                total += t.user + t.system
        return total


# ---- the tools ----------------------------------------------------------------------------

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


def make_tools(url: str, secs: int, only: set[str], rates: list[int]) -> list[Tool]:
    """The tools to run, in order; each binary is resolved when its Tool runs, not here."""
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

    for r in rates:
        argv = open_argv(perflab_ready, [*perflab, "--rate", f"{r}/s"])
        tools.append(Tool(f"perflab@{r}/s", argv, parse_perflab, target_rps=r))
    # wrk2 (constant-throughput wrk) is not in Debian; a reference only where installed.
    if shutil.which("wrk2"):
        for r in rates:
            argv = open_argv(lambda: "wrk2", [*wrk, f"-R{r}", url])
            tools.append(Tool(f"wrk2@{r}/s", argv, parse_wrk, target_rps=r))
    return tools


# ---- one measured run ------------------------------------------------------------------------


def wait_quiet(max_wait_s: float) -> list[float]:
    """Sample per-core CPU (1 s); if busy, keep sampling up to max_wait_s for a quiet moment."""
    deadline = time.monotonic() + max_wait_s
    busy = busy_per_core()
    while max(busy) > BUSY_PCT_WARN and time.monotonic() < deadline:
        busy = busy_per_core()
    return busy


def measure(tool: Tool, nginx: Nginx, secs: int, workdir: Path, wait_s: float) -> Sample:
    """Run one tool once and derive the uniform figures; never raises for a tool's failure."""
    w = workdir / tool.name.replace("/", "_")
    w.mkdir(exist_ok=True)
    try:
        argv = tool.argv(w)
    except Skip as exc:
        return Sample(tool.name, "skipped", str(exc), target_rps=tool.target_rps)
    busy = wait_quiet(wait_s)

    def snapshot() -> tuple[float, ...]:
        return nginx.cpu_s(), machine_busy_s(), own_cpu_s()

    ng0, m0, own0 = snapshot()
    child = run_pinned(argv, GEN_CORE, secs + STARTUP_GRACE_S, w, nginx.served, snapshot)
    ng1, m1, own1 = child.exit_snapshot
    sample = Sample(tool.name, "ok", target_rps=tool.target_rps, busy_before_pct=busy)
    if child.timed_out or child.returncode != 0:
        tail = (child.stderr.strip() or child.stdout.strip()).splitlines()[-1:] or ["no output"]
        why = "timed out" if child.timed_out else f"exit {child.returncode}"
        sample.status, sample.reason = "failed", f"{why}: {tail[0][:160]}"
        return sample
    try:
        parsed = tool.parse(child, w)
    except (OSError, ValueError, KeyError, StopIteration) as exc:
        sample.status, sample.reason = "failed", f"cannot read its result: {exc!r}"[:200]
        return sample
    cpu = child.user_s + child.sys_s + child.straggler_cpu_s
    gen_ng = cpu + (ng1 - ng0) + (own1 - own0)
    sample.rps, sample.requests, sample.errors = parsed.rps, parsed.requests, parsed.errors
    sample.p50_ms, sample.p99_ms, sample.extra = parsed.p50_ms, parsed.p99_ms, parsed.extra
    sample.wall_s, sample.cpu_user_s, sample.cpu_sys_s = child.wall_s, child.user_s, child.sys_s
    sample.cpu_unreaped_s = child.straggler_cpu_s
    sample.cpu_us_per_req = cpu * 1e6 / parsed.requests if parsed.requests else None
    sample.gen_cpu_pct = 100 * cpu / child.wall_s
    sample.nginx_cpu_pct = 100 * (ng1 - ng0) / child.wall_s
    if child.steady is not None:
        sample.steady = asdict(child.steady)
        sample.steady_us_per_req = child.steady.us_per_req
        sample.steady_cpu_pct = child.steady.cpu_pct
        sample.served_rps = child.steady.served_rps
    sample.other_cpu_pct = max(0.0, 100 * ((m1 - m0) - gen_ng) / child.wall_s)
    if child.orphans:
        sample.warnings.append(
            f"left {child.orphans} process(es) running >2 s after it exited (killed); "
            "their CPU up to its exit is counted"
        )
    add_warnings(sample)
    return sample


def add_warnings(s: Sample) -> None:
    """Flag the figures a reader should not trust: a busy machine, a tool's rate that nginx
    does not confirm, failing requests."""
    if s.busy_before_pct and max(s.busy_before_pct) > BUSY_PCT_WARN:
        cores = ", ".join(f"{b:.0f}%" for b in s.busy_before_pct)
        s.warnings.append(f"machine busy before the run (per core: {cores}): figures are noise")
        s.noisy = True
    if s.other_cpu_pct is not None and s.other_cpu_pct > BUSY_PCT_WARN:
        s.warnings.append(f"{s.other_cpu_pct:.0f}% of a core used by other processes during run")
        s.noisy = True
    if s.steady and s.rps and abs(s.steady["served_rps"] / s.rps - 1) > 0.1:
        s.warnings.append(
            f"nginx served {s.steady['served_rps']:,.0f} req/s while load flowed; the tool "
            f"reports {s.rps:,.0f}"
        )
    if s.errors and s.requests and s.errors / s.requests > 0.001:
        s.warnings.append(f"{s.errors} failed requests")


# ---- summary and output ---------------------------------------------------------------------


SUMMARY_FIELDS = (
    "rps",
    "cpu_us_per_req",
    "steady_us_per_req",
    "gen_cpu_pct",
    "nginx_cpu_pct",
    "p50_ms",
    "p99_ms",
    "other_cpu_pct",
    "served_rps",
)
EXTRA_FIELDS = ("sched_lag_p50_us", "sched_lag_p99_us", "rps_aggregate", "dropped")


def median(values: list[Any]) -> float | None:
    vals = [v for v in values if v is not None]
    return float(statistics.median(vals)) if vals else None


def summarize(runs: dict[str, list[Sample]]) -> dict[str, dict[str, Any]]:
    """Per tool: medians of each figure, or the reason it has none.

    Medians are over the quiet runs (no noise warning) when there is at least one, else over
    all ok runs with ``noisy: true``: on a shared machine one quiet run says more than the
    median of three disturbed ones. Rounds are interleaved, so a noisy spell hits several
    tools once rather than one tool every time.
    """
    out: dict[str, dict[str, Any]] = {}
    for name, samples in runs.items():
        ok = [s for s in samples if s.status == "ok"]
        quiet = [s for s in ok if not s.noisy]
        row: dict[str, Any] = {
            "runs": len(samples),
            "ok_runs": len(ok),
            "quiet_runs": len(quiet),
            "target_rps": samples[0].target_rps,
        }
        if not ok:
            row["status"], row["reason"] = samples[-1].status, samples[-1].reason
            out[name] = row
            continue
        use = quiet or ok
        row["status"], row["noisy"] = "ok", not quiet
        for attr in SUMMARY_FIELDS:
            row[attr] = median([getattr(s, attr) for s in use])
        for key in EXTRA_FIELDS:
            row[key] = median([s.extra.get(key) for s in use])
        row["saturated"] = any(s.extra.get("saturated") for s in use)
        out[name] = row
    return out


RATIO_FIELDS = {  # ratio name -> (Sample field, True when perflab / peer, else peer / perflab)
    "rps_ratio": ("rps", True),
    "cpu_efficiency_ratio": ("cpu_us_per_req", False),
    "steady_cpu_efficiency_ratio": ("steady_us_per_req", False),
}


def ratios(runs: dict[str, list[Sample]]) -> dict[str, dict[str, Any]]:
    """perflab against each peer: RPS, and requests per CPU-second (whole run and steady).

    Each ratio is the median of per-round ratios (perflab's run i against the peer's run i),
    over the rounds where both runs were quiet if there are any: the host's speed drifts
    between rounds, and pairing cancels much of that drift.
    """
    mine = runs.get("perflab", [])
    out: dict[str, dict[str, Any]] = {}
    for peer, target in TARGETS.items():
        pairs = [(a, b) for a, b in zip(mine, runs.get(peer, []), strict=False)
                 if a.status == b.status == "ok"]  # fmt: skip
        quiet = [(a, b) for a, b in pairs if not (a.noisy or b.noisy)]
        use = quiet or pairs
        if not use:
            continue
        row: dict[str, Any] = {"target": target, "rounds": len(use), "noisy": not quiet}
        for name, (attr, forward) in RATIO_FIELDS.items():
            vals = []
            for a, b in use:
                x, y = getattr(a, attr), getattr(b, attr)
                if x and y:
                    vals.append(x / y if forward else y / x)
            row[name] = median(vals)
            row[name.replace("ratio", "met")] = row[name] is not None and row[name] >= target
        out[peer] = row
    return out


def fmt(v: float | None, spec: str = ",.0f") -> str:
    return "-" if v is None else format(v, spec)


def ok_mark(v: float | None, met: bool) -> str:
    return "-" if v is None else f"[{'green' if met else 'red'}]{v:.2f}x"


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
    """One row per closed-model tool; the CPU columns show which side was the bottleneck."""
    t = new_table(
        f"Closed model: {CONNECTIONS} connections, {secs} s, generator on core {GEN_CORE}, "
        f"nginx on core {SERVER_CORE}",
        "tool|req/s|CPU µs/req|steady µs/req|client CPU %|nginx CPU %|p50 ms|p99 ms|"
        "other CPU %|note",
    )
    for name, r in summary.items():
        if "@" in name:
            continue
        if r["status"] != "ok":
            t.add_row(name, *["-"] * 8, r["status"])
            continue
        t.add_row(
            name,
            fmt(r["rps"]),
            fmt(r["cpu_us_per_req"], ".2f"),
            fmt(r["steady_us_per_req"], ".2f"),
            fmt(r["gen_cpu_pct"]),
            fmt(r["nginx_cpu_pct"]),
            fmt(r["p50_ms"], ".2f"),
            fmt(r["p99_ms"], ".2f"),
            fmt(r["other_cpu_pct"]),
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


def open_table(summary: dict[str, dict[str, Any]], secs: int) -> Table:
    """perflab's open model: did it reach each target rate, and how late did it send."""
    t = new_table(
        f"perflab open model, {secs} s (achieved/target should be >= {OPEN_ACHIEVED_MIN}; "
        "nginx/s: served while load flowed; lag: generator.sched_lag_us)",
        "tool|target/s|achieved/s|nginx/s|ach/target|lag p50 µs|lag p99 µs|p99 ms|µs/req|"
        "client CPU %|note",
    )
    for name, r in summary.items():
        if "@" not in name:
            continue
        tool = name.partition("@")[0]
        if r["status"] != "ok":
            t.add_row(tool, fmt(r["target_rps"]), *["-"] * 8, r["status"])
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
            row_note(name, r),
        )
    return t


def ratio_table(rat: dict[str, dict[str, Any]]) -> Table:
    """perflab against each peer, green where the target is met."""
    t = new_table(
        "perflab / peer, median over rounds (CPU efficiency = peer µs/req ÷ perflab µs/req)",
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
) -> None:
    """The closed-model comparison, the ratios, then perflab's open model."""
    con = Console(width=max(Console().width, 132))  # a pipe gets 80 columns: too narrow
    closed, opened = closed_table(summary, secs), open_table(summary, secs)
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


def write_json(path: Path, doc: dict[str, Any]) -> None:
    """Atomic: a crash never leaves a half-written file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    os.replace(tmp, path)


def tool_version(argv: list[str]) -> str | None:
    """First line a tool prints about its version, or None when it is missing or broken."""
    path = find_binary(argv[0])
    if path is None:
        return None
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        r = subprocess.run([path, *argv[1:]], capture_output=True, text=True, timeout=30)
        lines = (r.stdout + r.stderr).strip().splitlines()
        # wrk -v exits 1; a crash prints a traceback: keep a first line only if it has a version.
        return lines[0][:120] if lines and re.search(r"\d+\.\d+", lines[0]) else None
    return None


def environment() -> dict[str, Any]:
    """What a reader needs to compare this file with another machine's or another day's."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": cpu,
        "cpu_count": psutil.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "tools": {
            "nginx": tool_version(["nginx", "-v"]),
            "wrk": tool_version(["wrk", "-v"]),
            "k6": tool_version(["k6", "version"]),
            "locust": tool_version(["locust", "--version"]),
            "perflab": tool_version(["perflab", "--version"]),
        },
    }


# ---- CLI ------------------------------------------------------------------------------------


def parse_duration(text: str) -> int:
    """Whole seconds from '10', '10s' or '1m': every tool takes whole seconds."""
    m = re.fullmatch(r"(\d+)(s|m)?", text.strip())
    if not m or int(m.group(1)) == 0:
        raise argparse.ArgumentTypeError(f"bad duration {text!r} (use e.g. 10s or 1m)")
    return int(m.group(1)) * (60 if m.group(2) == "m" else 1)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=parse_duration, help="per run (default 10s)")
    p.add_argument("--quick", action="store_true", help="3 s runs (unless --duration is given)")
    p.add_argument(
        "--only", default=",".join(TOOLS), help=f"comma-separated subset of {','.join(TOOLS)}"
    )
    p.add_argument(
        "--rates", default=",".join(map(str, DEFAULT_RATES)), help="open-model target rates, req/s"
    )
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="rounds over all tools, interleaved; tables show medians",
    )
    p.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="S",
        help="before each run, wait up to S s for the machine to be quiet",
    )
    p.add_argument("--json", type=Path, metavar="PATH", help="also write all figures here")
    args = p.parse_args(argv)
    args.only_set = {t.strip() for t in args.only.split(",") if t.strip()}
    unknown = args.only_set - set(TOOLS)
    if unknown:
        p.error(f"unknown tool(s) {', '.join(sorted(unknown))}; choose from {', '.join(TOOLS)}")
    args.secs = args.duration or (3 if args.quick else 10)
    args.rate_list = [int(r) for r in args.rates.split(",") if r.strip()]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if psutil.cpu_count() < 2 or not shutil.which("taskset"):
        print("error: needs 2 cores and taskset (util-linux)", file=sys.stderr)
        return 2
    runs: dict[str, list[Sample]] = {}
    err = Console(stderr=True)
    with tempfile.TemporaryDirectory(prefix="perflab-bench-") as tmp, Nginx(Path(tmp)) as nginx:
        tools = make_tools(nginx.url, args.secs, args.only_set, args.rate_list)
        for rnd in range(args.repeat):
            for tool in tools:
                err.print(f"[dim]round {rnd + 1}/{args.repeat}: {tool.name} ...[/]")
                s = measure(tool, nginx, args.secs, Path(tmp), args.wait_idle)
                runs.setdefault(tool.name, []).append(s)
                for w in s.warnings:
                    err.print(f"[yellow]warning: {tool.name}: {w}[/]")
    summary = summarize(runs)
    rat = ratios(runs)
    warnings = [f"{name}: {w}" for name, ss in runs.items() for s in ss for w in s.warnings]
    render(summary, rat, args.secs, warnings)
    if args.json:
        write_json(
            args.json,
            {
                "schema": SCHEMA,
                "duration_s": args.secs,
                "connections": CONNECTIONS,
                "cores": {"generator": GEN_CORE, "nginx": SERVER_CORE},
                "targets": TARGETS,
                "environment": environment(),
                "summary": summary,
                "ratios": rat,
                "runs": {k: [asdict(s) for s in v] for k, v in runs.items()},
            },
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
