"""Per-worker, per-second figures: the only state the hot path writes.

On completion a request appends three integers (µs) to plain lists and bumps a counter; the
lists become histograms once a second (``LatencyHistogram.record_many``), which is far cheaper
than recording into a histogram per request. Only the worker's loop thread touches a
:class:`Recorder`; ``flush`` hands the finished interval over as plain, picklable data.

Latency histograms hold every request that got an HTTP response, whatever its status.
Transport failures (refused, reset, timeout, ...) are counted by kind but kept out of the
latency figures, so a dead target does not look fast.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from perflab.load.http.exchange import Exchange
from perflab.stats import LatencyHistogram

PHASES = ("connect", "tls", "send", "wait", "receive")


class NameInterval:
    """One request name's figures for the interval being filled."""

    __slots__ = (
        "bytes_in",
        "dropped",
        "errors",
        "latency",
        "new_connections",
        "phase_ns",
        "requests",
        "service",
        "wait",
    )

    def __init__(self) -> None:
        self.latency: list[int] = []
        self.service: list[int] = []
        self.wait: list[int] = []
        self.requests = 0
        self.dropped = 0
        self.bytes_in = 0
        self.new_connections = 0
        self.errors: dict[str, int] = {}
        self.phase_ns = [0, 0, 0, 0, 0]

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
        done = ex.done_ns
        service = (done - ex.start_ns) // 1000
        self.service.append(service)
        if corrected:
            self.latency.append((done - intended_ns) // 1000)
        first = ex.first_byte_ns
        self.wait.append((first - ex.sent_ns) // 1000)
        self.bytes_in += ex.bytes_in
        phases = self.phase_ns
        if ex.new_connection:
            self.new_connections += 1
            phases[0] += ex.connect_ns
            phases[1] += ex.tls_ns
            phases[2] += ex.sent_ns - ex.start_ns - ex.connect_ns - ex.tls_ns
        else:
            phases[2] += ex.sent_ns - ex.start_ns
        phases[3] += first - ex.sent_ns
        phases[4] += done - first

    def payload(self, *, corrected: bool) -> dict[str, Any]:
        service = _hist(self.service)
        latency = _hist(self.latency) if corrected else service
        return {
            "requests": self.requests,
            "ok": self.requests - sum(self.errors.values()),
            "errors": dict(self.errors),
            "dropped": self.dropped,
            "bytes_in": self.bytes_in,
            "new_connections": self.new_connections,
            "phase_us": {p: ns // 1000 for p, ns in zip(PHASES, self.phase_ns, strict=True)},
            "latency": latency.to_bytes(),
            "service": service.to_bytes(),
            "wait": _hist(self.wait).to_bytes(),
        }


def _hist(values: list[int]) -> LatencyHistogram:
    hist = LatencyHistogram()
    if values:
        hist.record_many(np.asarray(values, dtype=np.int64))
    return hist


class Recorder:
    """All names' current interval plus the generator's own health figures."""

    def __init__(self, *, corrected: bool) -> None:
        self.corrected = corrected
        self.names: dict[str, NameInterval] = {}
        self.sched_lag: list[int] = []
        self.loop_lag: list[int] = []
        self.spin_iters = 0
        self.spin_cost_s = 0.0  # CPU per empty loop turn, calibrated by the worker

    def name(self, name: str) -> NameInterval:
        interval = self.names.get(name)
        if interval is None:
            interval = self.names[name] = NameInterval()
        return interval

    def flush(self) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
        """The finished interval (per-name payloads, generator payload); starts a new one."""
        names = {n: iv.payload(corrected=self.corrected) for n, iv in self.names.items()}
        for n in self.names:
            self.names[n] = NameInterval()
        gen = {
            "sched_lag": _hist(self.sched_lag).to_bytes(),
            "loop_lag": _hist(self.loop_lag).to_bytes(),
            "spin_s": self.spin_iters * self.spin_cost_s,
        }
        self.sched_lag, self.loop_lag, self.spin_iters = [], [], 0
        return names, gen
