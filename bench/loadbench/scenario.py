"""The scenario benchmark's tools: one user type with one GET task, in perflab, k6 and Locust,
for throughput (busy users) and for memory (idle users parked in think time)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from loadbench.model import CONNECTIONS, GEN_CORE, Skip, Tool
from loadbench.nginx import Nginx
from loadbench.tools import parse_perflab, perflab_ready, require

# The perflab side of "the equivalent script": k6's default function calling http.get and
# Locust's FastHttpUser with one @task are the peers (loadbench/tools.py).
SCENARIO = """\
from perflab.scenario import User, constant, task


class Hello(User):
    think_time = constant({think})

    @task
    async def get(self, s):
        await s.get("/")
"""

K6_IDLE = """\
import http from 'k6/http';
import {{ sleep }} from 'k6';
export const options = {{
  discardResponseBodies: true,
  scenarios: {{ idle: {{ executor: 'constant-vus', vus: {vus}, duration: '10m' }} }},
}};
export default function () {{ http.get('{url}'); sleep(3600); }}
"""

LOCUST_IDLE = """\
from locust import FastHttpUser, constant, task


class Idle(FastHttpUser):
    wait_time = constant(3600)

    @task
    def get(self):
        self.client.get("/")
"""


def scenario_tool(url: str, secs: int) -> Tool:
    """perflab running a scenario file: 50 users, closed model, one worker."""

    def argv(w: Path) -> list[str]:
        (w / "hello.py").write_text(SCENARIO.format(think=0))
        # fmt: off
        return [perflab_ready(), "run", str(w / "hello.py"), "--base-url", url.rstrip("/"),
                "--vus", str(CONNECTIONS), "--duration", f"{secs}s", "--workers", "1",
                "--json", "--quiet"]
        # fmt: on

    return Tool("perflab-scenario", argv, parse_perflab)


def idle_argv(tool: str, url: str, users: int, w: Path) -> list[str]:
    """The command that parks ``users`` users in a one-hour think time after one request."""
    base = url.rstrip("/")
    if tool == "perflab":
        (w / "idle.py").write_text(SCENARIO.format(think=3600))
        # fmt: off
        return [perflab_ready(), "run", str(w / "idle.py"), "--base-url", base,
                "--vus", str(users), "--duration", "10m", "--workers", "1", "--quiet",
                "--out", str(w / "run")]
        # fmt: on
    if tool == "k6":
        (w / "idle.js").write_text(K6_IDLE.format(vus=users, url=url))
        return [require("k6"), "run", "--no-usage-report", "--quiet", "--no-summary", "idle.js"]
    if tool == "locust":
        (w / "idle_locust.py").write_text(LOCUST_IDLE)
        # fmt: off
        return [require("locust"), "-f", "idle_locust.py", "--headless", "--only-summary",
                "-u", str(users), "-r", str(users), "--run-time", "10m", "--host", base,
                "--loglevel", "ERROR"]
        # fmt: on
    raise ValueError(tool)


@dataclass
class IdleSample:
    """One tool holding ``users`` idle users: the memory of its whole process tree."""

    tool: str
    users: int
    status: str  # ok | skipped | failed
    reason: str = ""
    rss_mb: float | None = None
    uss_mb: float | None = None
    connected: int = 0
    ready_s: float | None = None


def tree_memory(pid: int) -> tuple[float, float]:
    """RSS and USS (MB) of a process and all its descendants: USS leaves out shared pages
    (libraries mapped by several workers), RSS is what `top` shows."""
    rss = uss = 0
    with contextlib.suppress(psutil.Error):
        root = psutil.Process(pid)
        for p in (root, *root.children(recursive=True)):
            with contextlib.suppress(psutil.Error):
                info = p.memory_full_info()
                rss += info.rss
                uss += info.uss
    return rss / 2**20, uss / 2**20


def measure_idle(tool: str, nginx: Nginx, users: int, w: Path, timeout_s: float) -> IdleSample:
    """Start the tool, wait until nginx sees every user's connection and the tree's memory
    stops growing, then take the peak of a few samples and stop the tool.

    A user counts as idle once its first request is answered and it sleeps; its connection
    is kept (keep-alive), so the figure includes what one virtual user really costs.
    """
    w.mkdir(parents=True, exist_ok=True)
    try:
        argv = idle_argv(tool, nginx.url, users, w)
    except Skip as exc:
        return IdleSample(tool, users, "skipped", str(exc))
    base_conns = nginx.active() - 1  # minus the status probe itself
    env = {**os.environ, "K6_NO_USAGE_REPORT": "true", "NO_COLOR": "1"}
    with (w / "idle.out").open("wb") as out:
        proc = subprocess.Popen(
            ["taskset", "-c", str(GEN_CORE), *argv],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=w,
            env=env,
            start_new_session=True,
        )
    t0 = time.monotonic()
    sample = IdleSample(tool, users, "ok")
    try:
        while time.monotonic() - t0 < timeout_s:
            if proc.poll() is not None:
                tail = (w / "idle.out").read_text(errors="replace").strip().splitlines()[-1:]
                sample.status = "failed"
                sample.reason = f"exit {proc.returncode}: {(tail or ['no output'])[0][:160]}"
                return sample
            sample.connected = nginx.active() - base_conns - 1
            if sample.connected >= users:
                break
            time.sleep(0.2)
        else:
            sample.status = "failed"
            sample.reason = f"only {sample.connected}/{users} users connected in {timeout_s:.0f}s"
            return sample
        sample.ready_s = round(time.monotonic() - t0, 2)
        # Memory settles a moment after the last connection (buffers, GC): sample until two
        # consecutive readings agree within 1 %, then keep the largest of them.
        prev, peak = tree_memory(proc.pid), (0.0, 0.0)
        for _ in range(20):
            time.sleep(0.5)
            cur = tree_memory(proc.pid)
            peak = max(peak, cur)
            if abs(cur[0] - prev[0]) <= 0.01 * prev[0]:
                break
            prev = cur
        sample.rss_mb, sample.uss_mb = round(peak[0], 1), round(peak[1], 1)
        return sample
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        # Give nginx a moment to see the closed connections before the next tool counts.
        deadline = time.monotonic() + 10
        while nginx.active() > base_conns + 1 and time.monotonic() < deadline:
            time.sleep(0.1)


def per_user_kb(small: IdleSample, large: IdleSample) -> dict[str, float | None]:
    """Memory per idle user from two sizes, so the fixed cost (interpreter, runtime, the
    first connections) cancels: (M(large) - M(small)) / (large - small users)."""
    if small.status != "ok" or large.status != "ok":
        return {"rss_kb": None, "uss_kb": None}
    n = large.users - small.users
    assert small.rss_mb is not None and large.rss_mb is not None
    assert small.uss_mb is not None and large.uss_mb is not None
    return {
        "rss_kb": round((large.rss_mb - small.rss_mb) * 1024 / n, 1),
        "uss_kb": round((large.uss_mb - small.uss_mb) * 1024 / n, 1),
    }
