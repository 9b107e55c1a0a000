"""One load step or probe through the load engine, kept as an ordinary stored run.

Every probe is a :func:`perflab.load.run` with its own run directory (``RunWriter``) and,
through ``on_stored``, its own catalog row, so ``perflab show``, ``report`` and ``compare``
work on it like on any run. A closed-model step ends as soon as its throughput is steady:
the engine's own ``stop`` message (the one ``abort_on_fail`` uses) goes out through a thin
wrapper around the worker transport, from the sink that watches each complete second. The
run then ends cleanly with status ``passed`` and its real duration.
"""

from __future__ import annotations

import ipaddress
import math
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from perflab.capacity.steady import Steadiness, SteadyRule, decide
from perflab.errors import RunInterrupted, UsageError
from perflab.load.sink import TeeSink
from perflab.load.transport import LocalTransport, Message, Transport, WorkerChannel
from perflab.model import LoadModel, LoadProfile, RunSpec, Stage
from perflab.stats import LatencyHistogram
from perflab.store import RunWriter, new_run_dir
from perflab.store.rundir import DEFAULT_ROOT


def check_loopback(host: str) -> None:
    """Capacity tests push a target past its limit: only ever at this machine's loopback.

    Raises:
        UsageError: ``host`` names, or resolves to, an address that is not loopback.
    """
    name = host.strip("[]")
    try:
        literal = ipaddress.ip_address(name.split("%")[0])
    except ValueError:
        literal = None
    if literal is not None:
        addresses = {str(literal)}
    else:
        try:
            infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
        except socket.gaierror as exc:
            raise UsageError(
                f"capacity tests only load loopback addresses; cannot resolve {name!r} to "
                f"check it ({exc.strerror})"
            ) from exc
        addresses = {str(info[4][0]).split("%")[0] for info in infos}
    outside = sorted(a for a in addresses if not ipaddress.ip_address(a).is_loopback)
    if outside or not addresses:
        raise UsageError(
            f"capacity tests only load loopback addresses; {name!r} is "
            + (", ".join(outside) or "no address"),
            hint="run the target on this machine and use http://127.0.0.1:PORT/",
        )


@dataclass(frozen=True, slots=True)
class Load:
    """What one probe applies: ``level`` VUs (closed) or requests/s (open) for ``duration_s``."""

    model: LoadModel
    level: float
    duration_s: float

    @property
    def label(self) -> str:
        return f"{self.level:g} VUs" if self.model is LoadModel.CLOSED else f"{self.level:.4g}/s"


def with_load(base: RunSpec, load: Load, *, name: str, tags: dict[str, str]) -> RunSpec:
    """``base`` (a URL spec or a one-scenario file spec) at a constant ``load``."""
    profile = LoadProfile(
        load.model,
        (Stage(load.duration_s, load.level),),
        load.level,
        None,
        base.load.max_inflight,
        base.load.connections,
    )
    script = base.script
    if script is not None:
        if len(script.scenarios) != 1 or script.scenarios[0].start_s:
            raise UsageError(
                "a capacity test drives one load shape: use a scenario file without "
                "'scenarios' (its User classes are weighted as in a plain run)"
            )
        script = replace(script, scenarios=(replace(script.scenarios[0], load=profile),))
    return replace(
        base, load=profile, script=script, name=name, tags={**base.tags, **tags}, thresholds=()
    )


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """A finished probe: figures over the seconds it is judged on, and where it is stored."""

    load: Load
    run_id: str
    run_dir: Path
    status: str
    throughput: float  # completed requests per second
    p50_ms: float
    p99_ms: float
    error_rate: float
    requests: int
    errors: int
    dropped: int
    latency: LatencyHistogram = field(repr=False)
    per_second: tuple[float, ...]
    held_s: float
    steadiness: Steadiness | None = None
    generator_saturated: bool = False
    generator_reasons: tuple[str, ...] = ()

    def row(self) -> dict[str, Any]:
        key = "concurrency" if self.load.model is LoadModel.CLOSED else "rate"
        level: float = self.load.level
        out: dict[str, Any] = {
            key: int(level) if key == "concurrency" else round(level, 3),
            "throughput": round(self.throughput, 3),
            "p50_ms": round(self.p50_ms, 3),
            "p99_ms": round(self.p99_ms, 3),
            "error_rate": round(self.error_rate, 6),
            "requests": self.requests,
            "held_s": round(self.held_s, 3),
            "run_id": self.run_id,
            "generator_saturated": self.generator_saturated,
        }
        if self.steadiness is not None:
            out["steady"] = self.steadiness.steady
            out["steadiness"] = self.steadiness.reason
        return out


class StoppableTransport:
    """The engine's worker transport plus :meth:`stop`: end the run now, cleanly."""

    def __init__(self, inner: Transport | None = None) -> None:
        self.inner = inner or LocalTransport()
        self.stopped = False

    def start(self, plans: Sequence[Any], entry: Callable[[Any, WorkerChannel], None]) -> None:
        self.inner.start(plans, entry)

    def broadcast(self, message: Message) -> None:
        if message[0] == "stop":
            self.stop()
        else:
            self.inner.broadcast(message)

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            self.inner.broadcast(("stop",))

    def poll(self, timeout: float) -> list[Message]:
        return self.inner.poll(timeout)

    def alive(self) -> list[bool]:
        return self.inner.alive()

    def close(self, timeout: float = 5.0) -> None:
        self.inner.close(timeout)


class _Seconds:
    """A sink that keeps each second's request rows (merged) and may end the run early."""

    def __init__(self, transport: StoppableTransport, rule: SteadyRule | None) -> None:
        self.transport = transport
        self.rule = rule
        self.requests: dict[int, int] = {}
        self.errors: dict[int, int] = {}
        self.dropped: dict[int, int] = {}
        self.latency: dict[int, LatencyHistogram] = {}
        self.verdict: Steadiness | None = None
        self.decided_at: int | None = None

    def begin(self, doc: dict[str, Any]) -> None:
        pass

    def update(self, doc: dict[str, Any]) -> None:
        pass

    def end(self, doc: dict[str, Any]) -> None:
        pass

    def interval(self, second: int, rows: list[dict[str, Any]], generator: dict[str, Any]) -> None:
        hist = LatencyHistogram()
        for row in rows:
            if row.get("kind", "request") != "request":
                continue  # a scenario's transaction rows repeat its requests' time
            self.requests[second] = self.requests.get(second, 0) + int(row["requests"])
            self.errors[second] = self.errors.get(second, 0) + int(row["errors"])
            self.dropped[second] = self.dropped.get(second, 0) + int(row["dropped"])
            hist.merge(LatencyHistogram.from_bytes(row["latency_hist"]))
        self.latency[second] = hist
        if self.rule is None or self.decided_at is not None:
            return
        decision = decide(self.series(second + 1), self.rule)
        self.verdict = decision.verdict
        if decision.stop:
            self.decided_at = second
            self.transport.stop()

    def series(self, upto: int) -> list[float]:
        return [float(self.requests.get(s, 0)) for s in range(upto)]


class ProbeRunner:
    """Runs probes of one target; keeps every result (also when a probe is interrupted).

    Args:
        make_spec: the spec of one probe (see :func:`with_load`).
        root: where run directories go.
        on_stored: called with each probe's final run document and directory (the CLI
            indexes it in the catalog there); also for an interrupted probe.
        transport: worker transport factory (tests pass a fake).
    """

    def __init__(
        self,
        make_spec: Callable[[Load, int], RunSpec],
        *,
        root: Path = DEFAULT_ROOT,
        on_stored: Callable[[dict[str, Any] | None, Path], None] | None = None,
        transport: Callable[[], Transport] | None = None,
    ) -> None:
        self.make_spec = make_spec
        self.root = root
        self.on_stored = on_stored
        self.transport = transport or LocalTransport
        self.results: list[ProbeResult] = []

    def step(self, vus: int, rule: SteadyRule) -> ProbeResult:
        """Closed model: ``vus`` users until throughput is steady (at most ``max_hold_s``)."""
        load = Load(LoadModel.CLOSED, float(vus), float(rule.max_hold_s + 1))
        return self._run(load, rule)

    def probe(self, rate: float, duration_s: float) -> ProbeResult:
        """Open model: ``rate`` arrivals per second for ``duration_s``."""
        return self._run(Load(LoadModel.OPEN, rate, duration_s), None)

    def _run(self, load: Load, rule: SteadyRule | None) -> ProbeResult:
        from perflab import load as engine  # the engine's front door, imported when used

        spec = self.make_spec(load, len(self.results) + 1)
        run_dir = new_run_dir(spec.name, self.root)
        writer = RunWriter(run_dir)
        transport = StoppableTransport(self.transport())
        seconds = _Seconds(transport, rule)
        doc: dict[str, Any] | None = None
        try:
            doc = engine.run(
                spec, sink=TeeSink(writer, seconds), transport=transport, preflight=False
            )
        finally:
            if self.on_stored is not None:
                self.on_stored(writer.last_doc, run_dir)
        result = _result(load, doc, run_dir, seconds, rule)
        self.results.append(result)
        if doc["status"] == "interrupted":
            raise RunInterrupted(f"interrupted; probes so far saved under {self.root}")
        return result


def _result(
    load: Load,
    doc: dict[str, Any],
    run_dir: Path,
    seconds: _Seconds,
    rule: SteadyRule | None,
) -> ProbeResult:
    """Figures over the steady window (closed steps) or the whole probe (open probes)."""
    last = max(seconds.requests, default=-1)
    if rule is not None:
        verdict = seconds.verdict
        if verdict is not None:
            window = range(verdict.first, verdict.last + 1)
        else:  # ended before a full window (e.g. interrupted): all after the warm-up
            window = range(min(rule.warmup_s, last), last + 1)
        per_second = tuple(seconds.series(last + 1))
    else:
        verdict = None
        window = range(last + 1)
        per_second = tuple(seconds.series(last + 1))
    latency = LatencyHistogram.merged(seconds.latency[s] for s in window if s in seconds.latency)
    requests = sum(seconds.requests.get(s, 0) for s in window)
    errors = sum(seconds.errors.get(s, 0) for s in window)
    dropped = sum(seconds.dropped.get(s, 0) for s in window)
    if rule is not None:
        throughput = requests / len(window) if len(window) else 0.0
    else:
        throughput = float(doc["totals"]["rps"])
    generator = doc.get("generator", {})
    return ProbeResult(
        load=load,
        run_id=str(doc["id"]),
        run_dir=run_dir,
        status=str(doc["status"]),
        throughput=throughput,
        p50_ms=latency.percentile(50.0) / 1000.0 if latency.count else math.nan,
        p99_ms=latency.percentile(99.0) / 1000.0 if latency.count else math.nan,
        error_rate=errors / requests if requests else 0.0,
        requests=requests,
        errors=errors,
        dropped=dropped,
        latency=latency,
        per_second=per_second,
        held_s=float(doc.get("duration_s", 0.0)),
        steadiness=verdict,
        generator_saturated=bool(generator.get("saturated", False)),
        generator_reasons=tuple(generator.get("saturation_reasons", ())),
    )
