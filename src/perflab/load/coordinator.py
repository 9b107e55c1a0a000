"""The coordinator: starts workers, merges their seconds exactly, judges and records the run.

Invariants: only the coordinator mutates the run totals; a second is emitted to the sink once
every worker still running has delivered it, so each stored interval is complete; whatever
happens (Ctrl-C, a crashed worker, an abort), every completed second has reached the sink
before :meth:`Coordinator.run` returns.
"""

from __future__ import annotations

import contextlib
import copy
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from perflab.errors import PerflabError
from perflab.load.aggregate import GroupTotals, NameTotals, ScriptTotals, latency_block, merged
from perflab.load.generator import GeneratorHealth
from perflab.load.pacing import Pacer, keep_freed_memory
from perflab.load.sink import NullSink, RunSink
from perflab.load.transport import LocalTransport, Transport
from perflab.load.worker import WorkerPlan, worker_main
from perflab.model.spec import RunSpec
from perflab.model.threshold import evaluate
from perflab.stats import LatencyHistogram
from perflab.steal import StealMeter, worker_cores

START_DELAY_S = 0.25
READY_TIMEOUT_S = 60.0
ABORT_EVAL_AFTER_S = 5.0  # thresholds on a handful of requests are noise: wait before aborting


@dataclass(slots=True)
class Progress:
    """What the live view shows, once a second."""

    second: int
    elapsed_s: float
    duration_s: float
    target: float  # requests/s (open) or VUs (closed) wanted now
    achieved_rps: float
    inflight: int
    vus: int | None
    p50_ms: float
    p99_ms: float
    errors: int
    errors_total: int
    requests_total: int
    dropped_total: int
    messages: list[str] = field(default_factory=list)
    """Said once, above the live view: e.g. the first traceback of each task exception."""


# One second as the workers sent it: worker -> (per-name payloads, generator payload)
Parts = dict[int, tuple[dict[str, Any], dict[str, Any]]]


class Coordinator:
    def __init__(
        self,
        spec: RunSpec,
        *,
        transport: Transport | None = None,
        sink: RunSink | None = None,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> None:
        self.spec = spec
        self.transport = transport or LocalTransport()
        self.sink = sink or NullSink()
        self.on_progress = on_progress
        self.workers = spec.resolved_workers()
        self.by_name: dict[str, NameTotals] = {}
        self.overall = NameTotals()  # every name merged, kept up to date second by second
        self.script = ScriptTotals()
        self.health = GeneratorHealth(self.workers)
        self.status = "running"
        self.worker_errors: list[str] = []
        self._pending: dict[int, Parts] = {}
        self._last_second: dict[int, int] = {}
        self._done: set[int] = set()
        self._next_emit = 0
        self._t0_wall = 0.0
        self._stop_sent = False
        self._steal: StealMeter | None = None
        self._pace = Pacer()

    # ---- lifecycle -------------------------------------------------------------------
    def run(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Drive the run to its end and return the final run document (also given to the sink)."""
        plans = [
            WorkerPlan(_worker_spec(self.spec, i, self.workers), i, self.workers)
            for i in range(self.workers)
        ]
        self.transport.start(plans, worker_main)
        keep_freed_memory()
        restore = _yield_to_workers()
        try:
            self._await_ready()
            t0_ns = time.monotonic_ns() + int(START_DELAY_S * 1e9)
            self._t0_wall = time.time() + START_DELAY_S
            self._steal = StealMeter(worker_cores())
            self.transport.broadcast(("start", t0_ns))
            self.sink.begin(doc)
            try:
                self._loop(doc)
            except KeyboardInterrupt:
                self.status = "interrupted"
                self._stop()
                self._drain(self.spec.graceful_stop_s + 5.0)
        finally:
            self.transport.close()
            restore()
        self._emit_ready(force=True)
        final = self.document(doc, final=True)
        self.sink.end(final)
        return final

    def _await_ready(self) -> None:
        ready: set[int] = set()
        deadline = time.monotonic() + READY_TIMEOUT_S
        while len(ready) < self.workers:
            if time.monotonic() > deadline or not any(self.transport.alive()):
                raise PerflabError("load workers did not start in time")
            for msg in self.transport.poll(0.1):
                if msg[0] == "ready":
                    ready.add(msg[1])
                    self.health.worker_pids[msg[1]] = int(msg[2].get("pid", 0))
                elif msg[0] == "error":
                    raise PerflabError(f"a load worker failed to start: {msg[2]}")
                else:
                    self._handle(msg)

    def _loop(self, doc: dict[str, Any]) -> None:
        while len(self._done) < self.workers:
            messages = self.transport.poll(0.2)
            self._pace.begin()
            for msg in messages:
                self._handle(msg)
            for index, alive in enumerate(self.transport.alive()):
                if not alive and index not in self._done:
                    self._done.add(index)
                    self.worker_errors.append(f"worker {index} exited unexpectedly")
            emitted = self._emit_ready(force=False)
            if emitted:
                self._after_seconds(emitted, doc)

    def _drain(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self._done) < self.workers and time.monotonic() < deadline:
            try:
                for msg in self.transport.poll(0.2):
                    self._handle(msg)
            except KeyboardInterrupt:
                break  # a second Ctrl-C: stop waiting, keep what arrived
            if not any(self.transport.alive()):
                for msg in self.transport.poll(0.0):
                    self._handle(msg)
                break

    def _stop(self) -> None:
        if not self._stop_sent:
            self._stop_sent = True
            self.transport.broadcast(("stop",))

    # ---- messages and seconds --------------------------------------------------------
    def _handle(self, msg: tuple[Any, ...]) -> None:
        kind = msg[0]
        if kind == "interval":
            _, worker, second, names, gen, final = msg
            self._pending.setdefault(second, {})[worker] = (names, gen)
            self._last_second[worker] = second
            if final:
                self._done.add(worker)
        elif kind == "error":
            self.worker_errors.append(f"worker {msg[1]}: {msg[2]}")
            self._done.add(msg[1])

    def _emit_ready(self, *, force: bool) -> list[tuple[int, NameTotals, Parts]]:
        """Hand every complete second to the sink, in order; returns what was emitted."""
        emitted = []
        while self._pending:
            second = self._next_emit
            parts = self._pending.get(second)
            expected = {
                w
                for w in range(self.workers)
                if w not in self._done or self._last_second.get(w, -1) >= second
            }
            if parts is None or (not force and not expected <= parts.keys()):
                if force and parts is None and any(s > second for s in self._pending):
                    self._next_emit += 1
                    continue
                break
            del self._pending[second]
            emitted.append((second, self._emit(second, parts), parts))
            self._next_emit += 1
        return emitted

    def _emit(self, second: int, parts: Parts) -> NameTotals:
        rows: list[dict[str, Any]] = []
        names: dict[str, NameTotals] = {}
        pace = self._pace
        for worker_names, _gen in parts.values():
            for name, payload in worker_names.items():
                names.setdefault(name, NameTotals()).add_payload(payload)
                pace()
        for name, totals in names.items():
            self.by_name.setdefault(name, NameTotals()).add(totals)
            pace()
            rows.append(_row(second, name, totals, pace))
            pace()
        interval = merged(names.values())
        self.overall.add(interval)
        pace()
        groups: dict[str, GroupTotals] = {}
        for _names, gen in parts.values():
            script = gen.pop("script", None)
            if script is not None:
                for name, part in self.script.add_payload(script).items():
                    groups.setdefault(name, GroupTotals(part.kind)).add(part)
        rows.extend(_group_row(second, name, g) for name, g in groups.items())
        if self.script.stop_reason is not None and self.status == "running":
            self._stop()  # e.g. a unique feeder ran out: end the whole run, cleanly
        steal = self._steal.sample() if self._steal is not None else None
        gen_row = self.health.add_second(
            second, {w: g for w, (_n, g) in parts.items()}, steal, pace=pace
        )
        pace()
        self.sink.interval(second, rows, gen_row)
        pace()
        return interval

    def _after_seconds(
        self, emitted: list[tuple[int, NameTotals, Parts]], doc: dict[str, Any]
    ) -> None:
        """Progress for each new second; then one run.json update and the abort check."""
        elapsed = time.time() - self._t0_wall
        if self.on_progress is not None:
            for second, interval, parts in emitted:
                self.on_progress(self._progress(second, interval, parts, elapsed))
        self._pace()
        current = self.document(doc, final=False)
        self._pace()
        self.sink.update(current)
        if self.spec.abort_on_fail and elapsed >= ABORT_EVAL_AFTER_S and self.status == "running":
            failing = [t for t in current["thresholds"] if t["observed"] is not None]
            if any(not t["passed"] for t in failing):
                self.status = "aborted"
                self._stop()

    def _progress(
        self, second: int, interval: NameTotals, parts: Parts, elapsed: float
    ) -> Progress:
        block = latency_block(interval.latency)
        gens = [g for _n, g in parts.values()]
        wall = max((g["wall_s"] for g in gens), default=1.0)
        vus = [g.get("vus") for g in gens]
        return Progress(
            second=second,
            elapsed_s=elapsed,
            duration_s=self.spec.duration_s,
            target=self.spec.target_at(elapsed),
            achieved_rps=interval.requests / wall if wall > 0 else 0.0,
            inflight=sum(g["inflight"] for g in gens),
            vus=sum(v for v in vus if v is not None) if any(v is not None for v in vus) else None,
            p50_ms=block["p50"],
            p99_ms=block["p99"],
            errors=interval.errors_total,
            errors_total=self.overall.errors_total,
            requests_total=self.overall.requests,
            dropped_total=self.overall.dropped,
            messages=self._messages(),
        )

    def _messages(self) -> list[str]:
        fresh, self.script.new_tracebacks = self.script.new_tracebacks, []
        return [
            f"{where} raised {kind} (shown once; later ones are counted):\n{text.rstrip()}"
            for where, kind, text in fresh
        ]

    # ---- results -----------------------------------------------------------------------
    def elapsed_s(self) -> float:
        """The load window rates are computed over: start to stop, without the final drain."""
        return self.health.active_s or self.health.wall_s

    def document(self, doc: dict[str, Any], *, final: bool) -> dict[str, Any]:
        """The run document so far; summaries are computed once and thresholds judge them."""
        elapsed = self.elapsed_s()
        by_name = {}
        for n, t in sorted(self.by_name.items()):
            by_name[n] = t.summary(elapsed)
            self._pace()
        # One name (URL mode) holds exactly what the overall totals hold: summarise it once,
        # since this runs every second on a core the workers share.
        if len(by_name) == 1:
            totals = copy.deepcopy(next(iter(by_name.values())))
        else:
            totals = self.overall.summary(elapsed)
        script = self.script.summary(elapsed) if self.spec.script is not None else None
        scopes = by_name if script is None else {**by_name, **script["transactions"]}
        self._pace()
        results = evaluate(self.spec.thresholds, totals, scopes)
        status = self.status
        if final and status == "running":
            failed = any(not r.passed for r in results)
            status = "error" if self.worker_errors else ("failed" if failed else "passed")
        out = dict(doc)
        out.update(
            status=status,
            ended_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) if final else None,
            duration_s=round(elapsed, 3),
            totals=totals,
            by_name=by_name,
            thresholds=[r.to_json() for r in results],
            generator=self.health.summary(errors=self.worker_errors),
        )
        if script is not None:
            out.update(script)
            out["stop_reason"] = self.script.stop_reason
        return out


def _worker_spec(spec: RunSpec, worker: int, workers: int) -> RunSpec:
    if spec.replay is None:
        return spec
    return replace(spec, replay=spec.replay.for_worker(worker, workers))


def _yield_to_workers() -> Callable[[], None]:
    """Stop this process from preempting the workers when it wakes up (Linux SCHED_BATCH).

    The coordinator wakes every second to merge and write; on a core shared with a worker,
    a normal wake-up preempts the worker mid-burst and shows up as milliseconds of
    scheduling lag. SCHED_BATCH needs no privilege and is undone when the run ends.
    """
    if not hasattr(os, "SCHED_BATCH"):
        return lambda: None
    try:
        policy = os.sched_getscheduler(0)
        param = os.sched_getparam(0)
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    except OSError:
        return lambda: None

    def restore() -> None:
        with contextlib.suppress(OSError):
            os.sched_setscheduler(0, policy, param)

    return restore


_EMPTY_HIST = LatencyHistogram().to_bytes()


def _group_row(second: int, name: str, g: GroupTotals) -> dict[str, Any]:
    """A transaction's second, in the same columns as a request's (kind tells them apart)."""
    return {
        "second": second,
        "name": name,
        "kind": g.kind,
        "requests": g.count,
        "ok": g.count - g.failed,
        "errors": g.failed,
        "dropped": g.dropped,
        "bytes_in": 0,
        "new_connections": 0,
        "errors_by_kind": {},
        "phase_us": {},
        "checks_ok": 0,
        "checks_failed": 0,
        "latency_hist": (latency := g.latency.to_bytes()),
        "service_hist": latency,
        "wait_hist": _EMPTY_HIST,
    }


def _row(second: int, name: str, t: NameTotals, pace: Callable[[], None]) -> dict[str, Any]:
    """A request name's second. Encoding a histogram is the costliest step of a second here
    (0.1-0.3 ms), so ``pace`` is called between them; without coordinated-omission correction
    (closed model) latency and service time are the same histogram, encoded once."""
    latency = t.latency.to_bytes()
    pace()
    service = latency if t.service == t.latency else t.service.to_bytes()
    pace()
    return {
        "second": second,
        "name": name,
        "kind": "request",
        "requests": t.requests,
        "ok": t.ok,
        "errors": t.errors_total,
        "dropped": t.dropped,
        "bytes_in": t.bytes_in,
        "new_connections": t.new_connections,
        "errors_by_kind": dict(t.errors),
        "phase_us": dict(t.phase_us),
        "checks_ok": t.checks_ok,
        "checks_failed": t.checks_failed,
        "latency_hist": latency,
        "service_hist": service,
        "wait_hist": t.wait.to_bytes(),
    }
