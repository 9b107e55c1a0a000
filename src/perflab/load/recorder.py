"""Per-worker, per-second figures: the only state the hot path writes.

On completion a request appends three integers (µs) to plain lists and bumps a counter; the
lists are folded into histograms in batches of ``SPILL_AT`` (``record_many``), which is far
cheaper than recording per request and spreads the work over the second instead of stalling
the loop at each flush. Histograms are reused across intervals (``reset``): a fresh 188 kB
counts array costs page faults every time. Only the worker's loop thread touches a
:class:`Recorder`; ``flush`` hands the finished interval over as plain, picklable data.

Latency histograms hold every request that got an HTTP response, whatever its status.
Transport failures (refused, reset, timeout, ...) are counted by kind but kept out of the
latency figures, so a dead target does not look fast.
"""

from __future__ import annotations

import traceback
from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from perflab.load.http.exchange import Exchange
from perflab.stats import LatencyHistogram

PHASES = ("connect", "tls", "send", "wait", "receive")
SPILL_AT = 512  # one buffer of 512 folds in ~0.1-0.25 ms here; see NameInterval._spill_one
LAG_SPILL_AT = 448
"""Scheduling lags fold at a different count, so that fold rarely lands in the same loop
turn as a request buffer's (they grow at the same rate)."""
HistState = tuple[Any, ...] | None
Rows = np.ndarray[Any, np.dtype[np.int64]]
Column = np.ndarray[Any, np.dtype[np.int64]]


def hist_state(hist: LatencyHistogram) -> HistState:
    """A histogram as small picklable parts for the worker -> coordinator hop.

    Cheaper than ``to_bytes`` (no compression) on the worker, whose loop must not stall;
    the coordinator rebuilds it with :func:`hist_from_state`. None means empty.
    """
    if hist.count == 0:
        return None
    indices, counts = hist.to_sparse()
    return (indices, counts, hist.min, hist.max, hist.sum, hist.clamped)


def merge_state(hist: LatencyHistogram, state: HistState) -> None:
    """Add a worker's :func:`hist_state` to ``hist`` (the coordinator's per-second path)."""
    if state is not None:
        indices, counts, min_us, max_us, sum_us, clamped = state
        hist.merge_sparse(
            indices, counts, min_us=min_us, max_us=max_us, sum_us=sum_us, clamped=clamped
        )


def _fold(values: list[int], hist: LatencyHistogram) -> None:
    """Move buffered µs values into ``hist`` (one numpy call per batch, not per value)."""
    hist.record_many(np.asarray(values, dtype=np.int64))
    values.clear()


def _record(hist: LatencyHistogram, end_ns: Column, start_ns: Column) -> None:
    hist.record_many((end_ns - start_ns) // 1000)


def hist_from_state(state: HistState) -> LatencyHistogram:
    if state is None:
        return LatencyHistogram()
    indices, counts, min_us, max_us, sum_us, clamped = state
    return LatencyHistogram.from_sparse(
        indices, counts, min_us=min_us, max_us=max_us, sum_us=sum_us, clamped=clamped
    )


class NameInterval:
    """One request name's figures for the interval being filled."""

    __slots__ = (
        "_folding",
        "bytes_in",
        "checks_failed",
        "checks_ok",
        "dropped",
        "errors",
        "h_latency",
        "h_service",
        "h_wait",
        "latency",
        "new_connections",
        "phase_ns",
        "raw",
        "raw_open",
        "requests",
        "service",
        "staged",
        "wait",
    )

    def __init__(self) -> None:
        self.latency: list[int] = []
        self.service: list[int] = []
        self._folding = False  # a buffer is still full: fold it on the next request
        self.raw: list[int] = []
        """Requests recorded by a connection's lane, six integers each (see ``Lane``)."""
        self.raw_open: list[int] = []
        """Plain successful open-model requests: the intended start, then a lane's six."""
        self.staged: list[Callable[[], None]] = []
        """What is left of folding raw rows, in steps (see ``stage_raw``)."""
        self.wait: list[int] = []
        self.requests = 0
        self.dropped = 0
        self.bytes_in = 0
        self.new_connections = 0
        self.errors: dict[str, int] = {}
        self.phase_ns = [0, 0, 0, 0, 0]
        self.checks_ok = 0
        self.checks_failed = 0
        self.h_latency = LatencyHistogram()
        self.h_service = LatencyHistogram()
        self.h_wait = LatencyHistogram()

    def add(self, ex: Exchange, intended_ns: int, *, corrected: bool) -> None:
        self.requests += 1
        if ex.error is not None:
            kind = ex.error.value
            self.errors[kind] = self.errors.get(kind, 0) + 1
            return
        status = ex.status
        if status >= 400:
            kind = f"http_{status}"
            self.errors[kind] = self.errors.get(kind, 0) + 1
        done, start, sent, first = ex.done_ns, ex.start_ns, ex.sent_ns, ex.first_byte_ns
        service = self.service
        service.append((done - start) // 1000)
        if corrected:
            self.latency.append((done - intended_ns) // 1000)
        self.wait.append((first - sent) // 1000)
        self.bytes_in += ex.bytes_in
        phases = self.phase_ns
        if ex.new_connection:
            self.new_connections += 1
            phases[0] += ex.connect_ns
            phases[1] += ex.tls_ns
            phases[2] += sent - start - ex.connect_ns - ex.tls_ns
        else:
            phases[2] += sent - start
        phases[3] += first - sent
        phases[4] += done - first
        if self._folding or len(service) >= SPILL_AT:
            self._spill_one()

    def _spill_one(self) -> None:
        """Fold only the fullest buffer. The three fill in step; folding them together
        stalled the loop ~0.8 ms every 512 requests here, which at 20k/s made 3 % of the
        arrivals late. One per request spreads that over three loop turns."""
        values, hist = max(
            (self.service, self.h_service),
            (self.latency, self.h_latency),
            (self.wait, self.h_wait),
            key=lambda pair: len(pair[0]),
        )
        _fold(values, hist)
        self._folding = max(len(self.service), len(self.latency), len(self.wait)) >= SPILL_AT

    def spill(self) -> None:
        """Fold the buffered values into the histograms."""
        if self.raw or self.raw_open or self.staged:
            self.fold_raw()
        for values, hist in (
            (self.latency, self.h_latency),
            (self.service, self.h_service),
            (self.wait, self.h_wait),
        ):
            if values:
                _fold(values, hist)
        self._folding = False

    def fold_raw(self) -> None:
        """What ``add`` does per request, for a batch of plain successful responses at once
        (whatever their status): a lane's, timed from its own send, and the open model's,
        also timed from their intended start."""
        self.stage_raw()
        while self.staged:
            self.fold_staged()

    def stage_raw(self) -> None:
        """Take the raw rows as arrays and leave the rest of :meth:`fold_raw` in ``staged``,
        steps of ~20 µs or less that :meth:`fold_staged` runs one per call. Converting
        7 x 480 timestamps alone takes ~60 µs here, and at 20k/s such pauses put late
        arrivals into the lag's p99: the open model stages small batches and runs one step
        per later response."""
        if self.raw:
            rows = np.asarray(self.raw, dtype=np.int64).reshape(-1, 6)
            self.raw.clear()  # in place: the lane holds this list
            self.staged.append(partial(self._stage_rows, rows))
        if self.raw_open:
            rows = np.asarray(self.raw_open, dtype=np.int64).reshape(-1, 7)
            self.raw_open.clear()  # in place: the executor holds this list
            self.staged.append(partial(self._stage_rows, rows[:, 1:], rows[:, 0]))

    def fold_staged(self) -> None:
        self.staged.pop()()

    def _stage_rows(self, rows: Rows, due: Column | None = None) -> None:
        """Columns: start, sent, first byte, done, bytes in, status; ``due``: intended
        starts (open model)."""
        self.requests += len(rows)
        self.bytes_in += int(rows[:, 4].sum())
        sent_first_done = np.diff(rows[:, :4], axis=1).sum(axis=0).tolist()
        phases = self.phase_ns
        phases[2] += sent_first_done[0]
        phases[3] += sent_first_done[1]
        phases[4] += sent_first_done[2]
        status = rows[:, 5]
        if status.max() >= 400:  # Counter, not np.unique, which imports numpy.ma (~60 ms)
            for code, n in Counter(status[status >= 400].tolist()).items():
                kind = f"http_{code}"
                self.errors[kind] = self.errors.get(kind, 0) + n
        staged = self.staged
        staged.append(partial(_record, self.h_service, rows[:, 3], rows[:, 0]))
        staged.append(partial(_record, self.h_wait, rows[:, 2], rows[:, 1]))
        if due is not None:
            staged.append(partial(_record, self.h_latency, rows[:, 3], due))

    def payload(self, *, corrected: bool) -> dict[str, Any]:
        """The interval as plain data; afterwards this object is empty and ready for reuse."""
        self.spill()
        service = _encode(self.h_service)
        payload = {
            "requests": self.requests,
            "ok": self.requests - sum(self.errors.values()),
            "errors": dict(self.errors),
            "dropped": self.dropped,
            "bytes_in": self.bytes_in,
            "new_connections": self.new_connections,
            "phase_us": {p: ns // 1000 for p, ns in zip(PHASES, self.phase_ns, strict=True)},
            "latency": _encode(self.h_latency) if corrected else service,
            "service": service,
            "wait": _encode(self.h_wait),
            "checks_ok": self.checks_ok,
            "checks_failed": self.checks_failed,
        }
        self.requests = self.dropped = self.bytes_in = self.new_connections = 0
        self.checks_ok = self.checks_failed = 0
        self.errors = {}
        self.phase_ns = [0, 0, 0, 0, 0]
        for hist in (self.h_latency, self.h_service, self.h_wait):
            hist.reset()
        return payload


_encode = hist_state


def _encode_values(values: list[int], hist: LatencyHistogram) -> HistState:
    if values:
        _fold(values, hist)
    data = _encode(hist)
    hist.reset()
    return data


class GroupInterval:
    """A transaction's (or a scenario's iterations') figures for the current interval."""

    __slots__ = ("count", "dropped", "failed", "hist", "kind", "values")

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.values: list[int] = []
        self.hist = LatencyHistogram()
        self.count = 0
        self.failed = 0
        self.dropped = 0

    def add(self, duration_us: int, *, failed: bool) -> None:
        self.count += 1
        self.failed += failed
        self.values.append(duration_us)
        if len(self.values) >= SPILL_AT:
            _fold(self.values, self.hist)

    def payload(self) -> dict[str, Any]:
        out = {
            "kind": self.kind,
            "count": self.count,
            "failed": self.failed,
            "dropped": self.dropped,
            "latency": _encode_values(self.values, self.hist),
        }
        self.count = self.failed = self.dropped = 0
        return out


class ScriptFigures:
    """What only scenario files produce: checks, transactions, task exceptions, notes.

    Exceptions are counted per (where, type); the first traceback of each is sent once,
    so a task failing 10,000 times shows one traceback and a count, not 10,000 traces.
    """

    def __init__(self) -> None:
        self.groups: dict[str, GroupInterval] = {}
        self.checks: dict[str, list[int]] = {}
        self.exceptions: dict[tuple[str, str], int] = {}
        self.tracebacks: dict[tuple[str, str], str] = {}
        self._seen: set[tuple[str, str]] = set()
        self.notes: list[str] = []
        self.stop_reason: str | None = None

    def payload(self) -> dict[str, Any] | None:
        if not (self.groups or self.checks or self.exceptions or self.notes or self.stop_reason):
            return None
        out = {
            "groups": {name: g.payload() for name, g in self.groups.items()},
            "checks": {name: list(pf) for name, pf in self.checks.items() if pf[0] or pf[1]},
            "exceptions": [[w, t, n] for (w, t), n in self.exceptions.items()],
            "tracebacks": [[w, t, tb] for (w, t), tb in self.tracebacks.items()],
            "notes": list(self.notes),
            "stop_reason": self.stop_reason,
        }
        self.stop_reason = None
        for pf in self.checks.values():
            pf[0] = pf[1] = 0
        self.exceptions.clear()
        self.tracebacks.clear()
        self.notes.clear()
        return out


class Recorder:
    """All names' current interval plus the generator's own health figures."""

    def __init__(self, *, corrected: bool) -> None:
        self.corrected = corrected
        self.names: dict[str, NameInterval] = {}
        self.sched_lag: list[int] = []
        self.loop_lag: list[int] = []
        self._h_sched = LatencyHistogram()
        self._h_loop = LatencyHistogram()
        self.spin_iters = 0
        self.spin_cost_s = 0.0  # CPU per empty loop turn, calibrated by the worker
        self.script = ScriptFigures()

    def group(self, name: str, kind: str) -> GroupInterval:
        group = self.script.groups.get(name)
        if group is None:
            group = self.script.groups[name] = GroupInterval(kind)
        return group

    def check(self, name: str, passed: bool, interval: NameInterval | None = None) -> None:
        counts = self.script.checks.get(name)
        if counts is None:
            counts = self.script.checks[name] = [0, 0]
        counts[0 if passed else 1] += 1
        if interval is not None:
            if passed:
                interval.checks_ok += 1
            else:
                interval.checks_failed += 1

    def exception(self, where: str, exc: BaseException) -> None:
        """Count an exception a task raised; keep the first traceback of each kind."""
        key = (where, type(exc).__name__)
        figures = self.script
        figures.exceptions[key] = figures.exceptions.get(key, 0) + 1
        if key not in figures._seen:
            figures._seen.add(key)
            figures.tracebacks[key] = "".join(
                traceback.format_exception(type(exc), exc, exc.__traceback__)
            )

    def name(self, name: str) -> NameInterval:
        interval = self.names.get(name)
        if interval is None:
            interval = self.names[name] = NameInterval()
        return interval

    def spill_lags(self) -> None:
        _fold(self.sched_lag, self._h_sched)

    def flush(self) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
        """The finished interval (per-name payloads, generator payload); starts a new one."""
        names = {n: iv.payload(corrected=self.corrected) for n, iv in self.names.items()}
        gen: dict[str, Any] = {
            "sched_lag": _encode_values(self.sched_lag, self._h_sched),
            "loop_lag": _encode_values(self.loop_lag, self._h_loop),
            "spin_s": self.spin_iters * self.spin_cost_s,
        }
        script = self.script.payload()
        if script is not None:
            gen["script"] = script
        self.spin_iters = 0
        return names, gen
