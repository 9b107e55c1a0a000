"""One load-generating process: its own uvloop, connection pool and share of the load.

Lifecycle, driven by the coordinator over a :class:`~perflab.load.transport.WorkerChannel`:
``ready`` (pool built, nothing sent) -> ``start`` (a shared CLOCK_MONOTONIC start time) ->
an ``interval`` message every second -> ``done``. A ``stop`` from the coordinator ends the
run early; in-flight requests get ``graceful_stop_s`` to finish and are still recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import os
import signal
import time
from dataclasses import dataclass
from typing import Any

from perflab.load.arrivals import ArrivalSchedule, target_at, vu_share
from perflab.load.clock import lower_timer_slack
from perflab.load.executors import (
    EARLY_NS,
    ClosedExecutor,
    OpenExecutor,
    Pool,
    ReplayWork,
    Work,
    calibrate_spin,
)
from perflab.load.h2 import H2Pool, make_h2_ssl_context
from perflab.load.h2.adapter import H2PoolAdapter
from perflab.load.http.pool import ConnectionPool
from perflab.load.http.request import RequestSpec
from perflab.load.http.tls import make_ssl_context
from perflab.load.http.url import Origin, parse_url
from perflab.load.pacing import keep_freed_memory
from perflab.load.recorder import Recorder
from perflab.load.script.runtime import ScriptRuntime
from perflab.load.transport import WorkerChannel
from perflab.model.spec import LoadModel, RunSpec

_NS = 1_000_000_000
START_EARLY_S = 0.010  # an open-model worker is up (spinning) this long before t0; see run()
LOOP_PROBE_S = 0.05
WARM_S = 0.002
SCALE_EVERY_S = 0.1
END_GRACE_NS = 5_000_000
"""After an open-model run's end, how long a schedule that is on time gets to end itself."""


@dataclass(frozen=True, slots=True)
class WorkerPlan:
    spec: RunSpec
    index: int
    count: int


def raise_fd_limit() -> int:
    """Lift the soft open-files limit to the hard one: every connection is a descriptor.

    The common default soft limit (1024) would otherwise cap a worker at about a thousand
    connections and turn the rest into EMFILE errors.
    """
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY:
            hard = max(soft, 1 << 20)
        if soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        return hard
    except (ImportError, ValueError, OSError):
        return -1


def worker_main(plan: WorkerPlan, channel: WorkerChannel) -> None:
    """Process entry point: the event loop is chosen here, never at import."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the coordinator's to handle
    lower_timer_slack()
    keep_freed_memory()  # its per-second flush builds histograms too
    raise_fd_limit()
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:  # pragma: no cover - non-Linux fallback
        runner = asyncio.Runner()
    try:
        with runner:
            runner.run(_Worker(plan, channel).run())
    except KeyboardInterrupt:
        pass  # the coordinator decides what an interrupt means
    except Exception as exc:  # report, don't die silently: the run keeps what it has
        channel.send(("error", plan.index, f"{type(exc).__name__}: {exc}"))
    finally:
        channel.close()


def _merged_errors(pools: list[Pool]) -> dict[str, int]:
    out: dict[str, int] = {}
    for pool in pools:
        for name, n in pool.errors_by_errno.items():
            out[name] = out.get(name, 0) + n
    return out


def _share(total: int | None, index: int, count: int) -> int | None:
    return None if total is None else vu_share(total, index, count)


class _Worker:
    def __init__(self, plan: WorkerPlan, channel: WorkerChannel) -> None:
        self.plan = plan
        self.spec = plan.spec
        self.channel = channel
        self.open = self.spec.load.model is LoadModel.OPEN
        # Latency is corrected (timed from before any wait for a connection) in the open model,
        # and in the closed model when users share capped connections.
        self.script = self.spec.script is not None
        self.recorder = Recorder(
            corrected=self.open
            or self.script
            or self.spec.http2
            or self.spec.load.connections is not None
        )
        self.finished = asyncio.Event()
        self.stop_requested = False
        self.second = 0
        self.t0 = 0
        self._cpu = time.process_time()
        self._last_flush = 0
        self._outbox: tuple[Any, ...] | None = None  # a cut second waiting for its turn
        self._stopped_at = 0
        self._pools: list[Pool] = []

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        spec, plan = self.spec, self.plan
        targets = [parse_url(r.url) for r in spec.requests]
        limit = spec.load.connections
        if limit is None and self.open and not self.script:
            limit = spec.load.max_inflight
        pool: Pool
        if spec.http2 and not self.script:
            pool = self._new_h2_pool(loop, targets[0].origin)
            work = Work(
                [
                    (r.name, (r.method, t.path, r.headers, r.body))
                    for r, t in zip(spec.requests, targets, strict=True)
                ]
            )
        else:
            pool = self._new_pool(loop, targets[0].origin, _share(limit, plan.index, plan.count))
            work = Work(
                [
                    (r.name, RequestSpec(r.method, t, r.headers, r.body, r.name).wire())
                    for r, t in zip(spec.requests, targets, strict=True)
                ]
            )
        self._runtime: ScriptRuntime | None = None
        if self.script:  # import the file now, so a slow import does not delay the start
            self._runtime = ScriptRuntime(
                loop,
                spec,
                self.recorder,
                worker=plan.index,
                workers=plan.count,
                t0_ns=0,
                make_pool=lambda o: (
                    pool
                    if isinstance(pool, ConnectionPool) and o == pool.origin
                    else self._new_pool(loop, o, None)
                ),
                make_h2=lambda o: self._new_h2_pool(loop, o).pool,
                on_finished=self.finished.set,
            )
        elif self.open:  # connections ready for ~2 ms of traffic at the peak rate
            peak_share = spec.load.peak() / plan.count
            await pool.warm(min(64, 2 + math.ceil(peak_share * WARM_S)))
        self.recorder.spin_cost_s = await calibrate_spin(loop)
        loop.add_reader(self.channel.fileno(), self._on_command)
        # Everything imported and built so far lives for the whole run: move it out of the
        # collector's sight, or a full collection walks it mid-run (a ~15 ms stall here).
        gc.collect()
        gc.freeze()
        self.channel.send(("ready", plan.index, {"pid": os.getpid()}))
        self._started = loop.create_future()
        self.t0 = await self._started
        # Wake a little early: the open executor's own timer hits t0 precisely, whereas
        # asyncio.sleep is millisecond-grained and would make the first arrivals late.
        delay = (self.t0 - time.monotonic_ns()) / _NS - (START_EARLY_S if self.open else 0.0)
        await asyncio.sleep(max(0.0, delay))
        self._last_flush = self.t0
        self._cpu = time.process_time()
        self._executor = self._make_executor(loop, pool, work)
        self._probe(loop)
        loop.call_at(loop.time() + 1.0, self._tick, loop, pool)
        if self.stop_requested:
            self._executor.stop()
            self.finished.set()
        else:
            self._executor.start()
            if self.open:
                self._stay_awake_until(self.t0 - EARLY_NS)
        await self._run_until_done(loop, pool)

    def _new_pool(
        self, loop: asyncio.AbstractEventLoop, origin: Origin, limit: int | None
    ) -> ConnectionPool:
        spec = self.spec
        ssl_ctx = (
            make_ssl_context(insecure=spec.insecure, ca_file=spec.ca_file)
            if origin.scheme == "https"
            else None
        )
        pool = ConnectionPool(
            origin,
            loop=loop,
            limit=limit,
            connect_timeout_s=spec.connect_timeout_s,
            request_timeout_s=spec.timeout_s,
            ssl_context=ssl_ctx,
        )
        self._pools.append(pool)
        return pool

    def _new_h2_pool(self, loop: asyncio.AbstractEventLoop, origin: Origin) -> H2PoolAdapter:
        spec = self.spec
        pool = H2PoolAdapter(
            H2Pool(
                origin,
                loop=loop,
                connect_timeout_s=spec.connect_timeout_s,
                request_timeout_s=spec.timeout_s,
                ssl_context=make_h2_ssl_context(insecure=spec.insecure, ca_file=spec.ca_file)
                if origin.is_tls
                else None,
                connections=spec.load.connections or 1,
            )
        )
        self._pools.append(pool)
        return pool

    def _make_executor(
        self, loop: asyncio.AbstractEventLoop, pool: Pool, work: Work
    ) -> OpenExecutor | ClosedExecutor | ScriptRuntime:
        load, plan = self.spec.load, self.plan
        if self._runtime is not None:
            self._runtime.t0 = self.t0
            return self._runtime
        if self.open:
            if self.spec.replay is not None:
                entries = self.spec.replay.share(plan.index, plan.count)
                work = ReplayWork(entries, pool.origin)
                offsets = ReplayWork.offsets(entries)
            else:
                schedule = ArrivalSchedule(load.start, load.stages)
                offsets = schedule.share(plan.index, plan.count, limit=load.iterations)
            return OpenExecutor(
                loop,
                pool,
                work,
                self.recorder,
                offsets,
                t0_ns=self.t0,
                max_inflight=_share(load.max_inflight, plan.index, plan.count) or 1,
                on_finished=self.finished.set,
            )
        executor = ClosedExecutor(
            loop,
            pool,
            work,
            self.recorder,
            iterations=_share(load.iterations, plan.index, plan.count),
            on_finished=self.finished.set,
            # on HTTP/2 users share the multiplexed connection: time them from submission
            shared_connections=load.connections is not None or self.spec.http2,
        )
        loop.call_soon(self._scale, loop, executor)
        return executor

    def _scale(self, loop: asyncio.AbstractEventLoop, executor: ClosedExecutor) -> None:
        if executor.stopped:
            return
        load = self.spec.load
        elapsed = (time.monotonic_ns() - self.t0) / _NS
        if elapsed >= load.duration_s and load.duration_s > 0:
            executor.stop()
            self.finished.set()
            return
        total = int(target_at(load.start, load.stages, elapsed) + 1e-9)
        executor.scale_to(vu_share(total, self.plan.index, self.plan.count))
        loop.call_later(SCALE_EVERY_S, self._scale, loop, executor)

    @staticmethod
    def _stay_awake_until(deadline_ns: int) -> None:
        """Spin (blocking the loop) until ``deadline_ns``, after everything else is set up.

        A vCPU idle since "ready" halts, and waking it for the first arrival took the host up
        to ~4 ms here; building the executor and its first 512 arrival times took another
        ~1 ms after waking (every arrival of those first milliseconds then left at once,
        late). The executor's timer, armed for the same moment, fires as soon as this returns.
        """
        while time.monotonic_ns() < deadline_ns:
            pass

    async def _run_until_done(self, loop: asyncio.AbstractEventLoop, pool: Pool) -> None:
        load = self.spec.load
        duration_s = self.spec.duration_s
        # The loop's timers round to the millisecond and may fire early: an open-model run
        # stopped 0.7 ms before its end counted the arrivals of that 0.7 ms as dropped
        # (14 at 20k/s) although the generator kept up. Wait out the rest, plus a grace in
        # which a schedule that is on time ends by itself.
        grace = END_GRACE_NS if isinstance(self._executor, OpenExecutor) else 0
        end_ns = self.t0 + int(duration_s * _NS) + grace if duration_s > 0 else 0
        while not self.finished.is_set():
            timeout = max(0.0, (end_ns - time.monotonic_ns()) / _NS) if end_ns else None
            if timeout == 0.0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.finished.wait(), timeout)
        self._stopped_at = time.monotonic_ns()
        if isinstance(self._executor, OpenExecutor) and not self.stop_requested:
            self._executor.stop(drop_due_before_ns=self.t0 + int(load.duration_s * _NS))
        else:
            self._executor.stop()
        deadline = time.monotonic() + self.spec.graceful_stop_s
        while self._executor.inflight and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        unfinished = self._executor.inflight
        if self._runtime is not None:
            await self._runtime.aclose()
        self._flush(pool, final=True, unfinished=unfinished)
        for each in self._pools:
            await each.aclose()
        loop.remove_reader(self.channel.fileno())

    def _on_command(self) -> None:
        try:
            message = self.channel.recv()
        except (EOFError, OSError):
            message = ("stop",)  # the coordinator is gone: wind down
        if message[0] == "start" and not self._started.done():
            self._started.set_result(int(message[1]))
        elif message[0] == "stop":
            self.stop_requested = True
            if hasattr(self, "_executor"):
                self._executor.stop()
            self.finished.set()
            if not self._started.done():
                self._started.set_result(time.monotonic_ns())

    def _probe(self, loop: asyncio.AbstractEventLoop) -> None:
        """Event-loop lag: how long a callback waits for its turn."""
        if self.finished.is_set():
            return
        asked = time.monotonic_ns()
        loop.call_soon(self._probed, asked)
        loop.call_later(LOOP_PROBE_S, self._probe, loop)

    def _probed(self, asked: int) -> None:
        self.recorder.loop_lag.append((time.monotonic_ns() - asked) // 1000)

    def _tick(self, loop: asyncio.AbstractEventLoop, pool: Pool) -> None:
        if self.finished.is_set():
            return
        self._flush(pool, final=False, unfinished=0, loop=loop)
        next_at = self.t0 + (self.second + 1) * _NS
        loop.call_later(max(0.0, (next_at - time.monotonic_ns()) / _NS), self._tick, loop, pool)

    def _flush(
        self,
        pool: Pool,
        *,
        final: bool,
        unfinished: int,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        """Cut the interval now and ship it: in a later turn of ``loop`` when given (mid-run,
        so pickling and writing the second, ~0.2 ms here, does not lengthen the cut's pause
        and arrivals due meanwhile go out first), else at once. Seconds leave in order."""
        now = time.monotonic_ns()
        cpu = time.process_time()
        names, gen = self.recorder.flush()
        gen.update(self._gen_stats(pool, now, cpu, unfinished))
        message = ("interval", self.plan.index, self.second, names, gen, final)
        self._ship()
        if loop is None:
            self.channel.send(message)
        else:
            self._outbox = message
            loop.call_soon(self._ship)
        self.second += 1
        self._last_flush, self._cpu = now, cpu

    def _ship(self) -> None:
        message, self._outbox = self._outbox, None
        if message is not None:
            self.channel.send(message)

    def _gen_stats(self, pool: Pool, now: int, cpu: float, unfinished: int) -> dict[str, Any]:
        executor = self._executor
        return {
            "wall_s": (now - self._last_flush) / _NS,
            "active_s": ((self._stopped_at or now) - self.t0) / _NS,
            "cpu_s": cpu - self._cpu,
            "inflight": executor.inflight,
            "vus": executor.vus if not isinstance(executor, OpenExecutor) else None,
            "connections": sum(p.open for p in self._pools),
            "socket_errors": _merged_errors(self._pools),
            "unfinished": unfinished,
            "precise_timer": executor.precise if isinstance(executor, OpenExecutor) else None,
        }
