"""The coordinator's merging and bookkeeping, driven by a scripted transport (no processes)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

from perflab.load.coordinator import Coordinator
from perflab.load.http.exchange import ErrorKind, Exchange
from perflab.load.recorder import Recorder
from perflab.load.sink import NullSink
from perflab.model import HttpRequest, LoadModel, LoadProfile, RunSpec, Stage, parse_threshold
from perflab.stats import LatencyHistogram

Message = tuple[Any, ...]


class ScriptedTransport:
    """Replays messages; workers listed in ``dies`` are reported dead once the script ends."""

    def __init__(self, script: list[Message], workers: int, dies: Sequence[int] = ()) -> None:
        self.script = list(script)
        self.workers = workers
        self.dies = set(dies)
        self.sent: list[Message] = []

    def start(self, plans: Sequence[Any], entry: Callable[..., None]) -> None:
        assert len(plans) == self.workers

    def broadcast(self, message: Message) -> None:
        self.sent.append(message)

    def poll(self, timeout: float) -> list[Message]:
        batch, self.script = self.script[:3], self.script[3:]
        return batch

    def alive(self) -> list[bool]:
        return [bool(self.script) or w not in self.dies for w in range(self.workers)]

    def close(self, timeout: float = 5.0) -> None:
        pass


class Sink(NullSink):
    def __init__(self) -> None:
        self.seconds: list[int] = []
        self.rows: list[dict[str, Any]] = []

    def interval(self, second: int, rows: list[dict[str, Any]], generator: dict[str, Any]) -> None:
        self.seconds.append(second)
        self.rows.extend(rows)


def _exchange(latency_us: int, *, status: int = 200, error: ErrorKind | None = None) -> Exchange:
    ex = Exchange()
    ex.status, ex.error = status, error
    ex.start_ns, ex.sent_ns = 1_000_000, 1_000_000
    ex.first_byte_ns = ex.done_ns = 1_000_000 + latency_us * 1000
    return ex


def _interval(
    worker: int, second: int, latencies: list[int], *, final: bool = False, errors: int = 0
) -> Message:
    rec = Recorder(corrected=True)
    for lat in latencies:
        rec.name("GET /").add(_exchange(lat), 1_000_000, corrected=True)
    for _ in range(errors):
        rec.name("GET /").add(_exchange(0, error=ErrorKind.RESET), 0, corrected=True)
    names, gen = rec.flush()
    gen.update(
        wall_s=1.0,
        cpu_s=0.2,
        inflight=0,
        vus=None,
        connections=2,
        socket_errors={},
        unfinished=0,
        precise_timer=True,
    )
    return ("interval", worker, second, names, gen, final)


def _spec(workers: int, thresholds: tuple[str, ...] = ()) -> RunSpec:
    return RunSpec(
        requests=(HttpRequest("http://127.0.0.1:1/", name="GET /"),),
        load=LoadProfile(LoadModel.OPEN, (Stage(3.0, 100.0),), 100.0),
        workers=workers,
        thresholds=tuple(parse_threshold(t) for t in thresholds),
    )


def test_merge_is_exact_across_workers_and_seconds() -> None:
    rng = np.random.default_rng(7)
    samples = {
        (w, s): rng.lognormal(7, 1.2, 300).astype(int).tolist() for w in range(2) for s in range(3)
    }
    script: list[Message] = [("ready", 0, {}), ("ready", 1, {})]
    for s in range(3):
        for w in (1, 0):  # out of order on purpose
            script.append(_interval(w, s, samples[(w, s)], final=s == 2, errors=s))
    sink = Sink()
    coord = Coordinator(_spec(2, ("p99<1s",)), transport=ScriptedTransport(script, 2), sink=sink)
    doc = coord.run({"name": "t"})
    assert sink.seconds == [0, 1, 2]
    everything = np.concatenate([np.array(v) for v in samples.values()])
    reference = LatencyHistogram()
    reference.record_many(everything)
    lat = doc["totals"]["latency_ms"]
    assert lat["p99"] == pytest.approx(reference.percentile(99) / 1000)
    assert lat["max"] == pytest.approx(everything.max() / 1000)
    assert doc["totals"]["requests"] == len(everything) + 2 * (0 + 1 + 2)
    assert doc["totals"]["errors_by_kind"] == {"reset": 6}
    assert doc["status"] == "passed"
    assert doc["thresholds"][0]["passed"] is True
    assert ("start",) == coord.transport.sent[0][:1]  # type: ignore[attr-defined]


def test_crashed_worker_keeps_completed_seconds() -> None:
    script: list[Message] = [
        ("ready", 0, {}),
        ("ready", 1, {}),
        _interval(0, 0, [100] * 10),
        _interval(1, 0, [200] * 10),
        _interval(0, 1, [100] * 10),  # worker 1 dies before second 1
        _interval(0, 2, [100] * 10, final=True),
    ]
    sink = Sink()
    coord = Coordinator(_spec(2), transport=ScriptedTransport(script, 2, dies=[1]), sink=sink)
    doc = coord.run({"name": "t"})
    assert sink.seconds == [0, 1, 2]
    assert doc["totals"]["requests"] == 40
    assert doc["status"] == "error"
    assert any("worker 1" in e for e in doc["generator"]["worker_errors"])


def test_failed_threshold_marks_run_failed() -> None:
    script: list[Message] = [("ready", 0, {}), _interval(0, 0, [50_000] * 20, final=True)]
    coord = Coordinator(_spec(1, ("p50<10ms",)), transport=ScriptedTransport(script, 1))
    doc = coord.run({"name": "t"})
    assert doc["status"] == "failed"
    assert doc["thresholds"][0]["observed"] == pytest.approx(50.0, rel=1e-3)
