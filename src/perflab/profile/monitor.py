"""Resource series of a live process during a load test: memory, descriptors, threads.

A :class:`ProcessMonitor` samples one process (optionally with its children) with psutil from
a background thread, so a caller running an asyncio loop or the load engine is never blocked:
psutil's reads are short system calls and file parses, a few hundred microseconds a sample.

The series is journaled as JSON lines (schema ``perflab.memory/1``): a header line, one line
per sample, flushed and fsynced as it is taken, and an ``end`` line when monitoring stops.
A run killed half-way therefore keeps every sample but the one being written, and
:func:`load_memory_series` reads such a file (``complete`` is False, a torn last line is
skipped). Only the monitor thread touches the file once :meth:`ProcessMonitor.start` returns.

An unknown PID at start is TargetError "no process with PID N" (exit 3). A process that
exits mid-run ends the monitoring quietly: ``exited`` is True and the samples are kept.
Descriptors and connections another user's process denies are None (unknown), not 0.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import numpy as np
import numpy.typing as npt
import psutil

from perflab.errors import TargetError, UsageError
from perflab.profile.leak import LeakVerdict, leak_verdict

MEMORY_SCHEMA = "perflab.memory/1"
MEMORY_FILE = "memory.jsonl"
"""The series' file name inside a run directory, next to ``run.json``."""


@dataclass(frozen=True, slots=True)
class MemorySample:
    """One sample; sums over the process tree when children are included.

    ``t`` is seconds since the monitor started (monotonic clock: what the trend uses),
    ``wall`` the Unix time (to line the series up with the run's intervals).
    """

    t: float
    wall: float
    rss_bytes: int
    vms_bytes: int
    num_fds: int | None
    num_threads: int
    connections: int | None
    cpu_percent: float
    processes: int = 1


_SAMPLE_FIELDS = tuple(f.name for f in fields(MemorySample))


@dataclass(frozen=True)
class MemorySeries:
    """A monitored process' samples with what is known of how the monitoring ended."""

    pid: int
    interval_s: float
    include_children: bool
    started_at: str
    cmdline: tuple[str, ...]
    samples: tuple[MemorySample, ...]
    exited: bool = False
    exit_reason: str | None = None
    complete: bool = True

    def column(self, name: str) -> npt.NDArray[np.float64]:
        """One field as floats; a None (access denied) becomes NaN."""
        if name not in _SAMPLE_FIELDS:
            raise ValueError(f"no field {name!r} in a memory sample")
        values = [getattr(s, name) for s in self.samples]
        return np.array([math.nan if v is None else v for v in values], dtype=np.float64)

    def verdict(self, field: str = "rss_bytes", **options: Any) -> LeakVerdict:
        """The leak verdict on one byte-valued field; ``options`` go to ``leak_verdict``."""
        return leak_verdict(self.column("t"), self.column(field), **options)

    def summary(self) -> dict[str, Any]:
        """The numbers a report shows next to the plot."""
        if not self.samples:
            return {"samples": 0, "exited": self.exited, "complete": self.complete}
        rss = self.column("rss_bytes")
        doc: dict[str, Any] = {
            "samples": len(self.samples),
            "duration_s": round(self.samples[-1].t - self.samples[0].t, 3),
            "rss_start_bytes": int(rss[0]),
            "rss_end_bytes": int(rss[-1]),
            "rss_peak_bytes": int(rss.max()),
            "exited": self.exited,
            "complete": self.complete,
        }
        for name in ("num_fds", "num_threads", "connections"):
            col = self.column(name)
            known = col[np.isfinite(col)]
            doc[f"{name}_max"] = int(known.max()) if known.size else None
        return doc

    def to_json(self, *, rows: bool = True) -> dict[str, Any]:
        doc = _header(self.pid, self.interval_s, self.include_children, self.started_at)
        doc |= {"cmdline": list(self.cmdline), "exited": self.exited}
        doc |= {"exit_reason": self.exit_reason, "summary": self.summary()}
        if rows:
            doc["rows"] = [asdict(s) for s in self.samples]
        return doc


def _header(pid: int, interval_s: float, children: bool, started_at: str) -> dict[str, Any]:
    doc = {"schema": MEMORY_SCHEMA, "pid": pid, "interval_s": interval_s}
    return doc | {"include_children": children, "started_at": started_at}


class ProcessMonitor:
    """Samples a process every ``interval_s`` seconds until stopped or until it exits.

    ``sink`` is called with each sample *in the monitor thread*; hand samples to an event
    loop with ``loop.call_soon_threadsafe``. A sink that raises is dropped (``sink_error``
    keeps the exception) and sampling goes on: the series matters more than the consumer.
    """

    def __init__(
        self,
        pid: int,
        interval_s: float = 1.0,
        sink: Callable[[MemorySample], None] | None = None,
        path: Path | None = None,
        include_children: bool = False,
    ) -> None:
        if pid <= 0:
            raise UsageError(f"bad PID {pid}: must be a positive process id")
        if not 0 < interval_s <= 3600:
            raise UsageError(f"bad sampling interval {interval_s:g} s: must be in (0, 3600]")
        self.pid = pid
        self.interval_s = interval_s
        self.include_children = include_children
        self.path = path
        self.exited = False
        self.exit_reason: str | None = None  # why sampling ended early; None: stop() did
        self.sink_error: Exception | None = None
        self.write_error: OSError | None = None
        self._sink = sink
        self._rows: list[MemorySample] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._file: IO[str] | None = None
        self._process: psutil.Process | None = None
        self._children: dict[int, psutil.Process] = {}
        self._t0 = 0.0
        self._started_at = ""
        self._cmdline: tuple[str, ...] = ()

    # lifecycle
    def start(self) -> ProcessMonitor:
        if self._thread is not None:
            raise RuntimeError("this monitor was already started")
        self._process = _open_process(self.pid)
        self._process.cpu_percent(None)  # the first call only sets psutil's reference point
        try:
            self._cmdline = tuple(self._process.cmdline())
        except psutil.Error:
            self._cmdline = ()
        self._started_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        if self.path is not None:
            self._open_file(self.path)
        self._t0 = time.monotonic()
        self._thread = threading.Thread(
            target=self._run, name=f"perflab-monitor-{self.pid}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop sampling and close the journal; safe to call twice or after the target exited."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> ProcessMonitor:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def elapsed_s(self) -> float:
        """Now on the samples' clock (``t``), to mark phases such as the start of the load."""
        return time.monotonic() - self._t0 if self._thread is not None else 0.0

    @property
    def rows(self) -> list[MemorySample]:
        """A copy of the samples so far (safe while the monitor runs)."""
        with self._lock:
            return list(self._rows)

    def series(self) -> MemorySeries:
        return MemorySeries(
            self.pid, self.interval_s, self.include_children, self._started_at, self._cmdline,
            tuple(self.rows), self.exited, self.exit_reason, complete=not self.running,
        )  # fmt: skip

    # the monitor thread
    def _run(self) -> None:
        tick = 0
        try:
            while True:
                sample = self._sample()
                if sample is None:
                    break
                self._record(sample)
                now = time.monotonic()
                # a slow sample skips the ticks it overran instead of sampling in a burst
                tick = max(tick + 1, math.ceil((now - self._t0) / self.interval_s))
                if self._stop.wait(self._t0 + tick * self.interval_s - now):
                    break
        finally:
            self._close_file()

    def _sample(self) -> MemorySample | None:
        assert self._process is not None
        processes = [self._process]
        if self.include_children:
            processes += self._current_children()
        t, wall = time.monotonic() - self._t0, time.time()
        readings: list[_Reading] = []
        for index, proc in enumerate(processes):
            try:
                readings.append(_read(proc))
            except psutil.Error as exc:  # NoSuchProcess includes zombies (exited, not reaped)
                if index == 0:
                    self.exited = isinstance(exc, psutil.NoSuchProcess)
                    gone = "exited" if self.exited else f"could not be read ({exc})"
                    self.exit_reason = f"process {self.pid} {gone} after {t:.1f} s"
                    return None
                self._children.pop(proc.pid, None)  # a child that left mid-sample
        rss, vms, threads, cpu, fds, connections = zip(*readings, strict=True)
        return MemorySample(
            round(t, 6), round(wall, 6), sum(rss), sum(vms), _total(list(fds)), sum(threads),
            _total(list(connections)), round(sum(cpu), 2), len(readings),
        )  # fmt: skip

    def _current_children(self) -> list[psutil.Process]:
        """Children, reusing Process objects so that cpu_percent has its reference point."""
        assert self._process is not None
        try:
            found = self._process.children(recursive=True)
        except psutil.Error:
            return list(self._children.values())
        current: dict[int, psutil.Process] = {}
        for child in found:
            known = self._children.get(child.pid)
            if known is None or known.create_time() != child.create_time():
                child.cpu_percent(None)
                known = child
            current[child.pid] = known
        self._children = current
        return list(current.values())

    def _record(self, sample: MemorySample) -> None:
        with self._lock:
            self._rows.append(sample)
        self._write({"kind": "sample", **asdict(sample)})
        if self._sink is not None:
            try:
                self._sink(sample)
            except Exception as exc:
                self.sink_error, self._sink = exc, None

    # the journal
    def _open_file(self, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("w", encoding="utf-8")
        except OSError as exc:
            raise UsageError(
                f"cannot write the memory series to {path}: {exc.strerror or exc}"
            ) from exc
        header = _header(self.pid, self.interval_s, self.include_children, self._started_at)
        header |= {"kind": "header", "cmdline": list(self._cmdline)}
        self._write(header)

    def _write(self, doc: dict[str, Any]) -> None:
        if self._file is None:
            return
        try:
            self._file.write(json.dumps(doc) + "\n")
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as exc:  # disk full: keep sampling into memory, report it
            self.write_error = exc
            self._file.close()
            self._file = None

    def _close_file(self) -> None:
        with self._lock:
            count = len(self._rows)
        t = round(time.monotonic() - self._t0, 6)
        end = {"kind": "end", "t": t, "samples": count}
        self._write(end | {"exited": self.exited, "exit_reason": self.exit_reason})
        if self._file is not None:
            self._file.close()
            self._file = None


_Reading = tuple[int, int, int, float, int | None, int | None]


def _read(proc: psutil.Process) -> _Reading:
    """(rss, vms, threads, cpu %, fds, inet connections) of one process; None: denied."""
    with proc.oneshot():
        if proc.status() == psutil.STATUS_ZOMBIE:
            raise psutil.ZombieProcess(proc.pid)
        memory = proc.memory_info()
        cpu, threads, fds = proc.cpu_percent(None), proc.num_threads(), _denied(proc.num_fds)
    connections = _denied(lambda: len(proc.net_connections(kind="inet")))
    return memory.rss, memory.vms, threads, cpu, fds, connections


def _total(values: list[int | None]) -> int | None:
    """A sum over the tree; unknown (not 0) when any process denied it."""
    return None if any(v is None for v in values) else sum(v for v in values if v is not None)


def _denied(read: Callable[[], int]) -> int | None:
    try:
        return read()
    except psutil.AccessDenied:
        return None


def _open_process(pid: int) -> psutil.Process:
    """The process to monitor, or the error a user can act on."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            raise psutil.ZombieProcess(pid)
        process.memory_info()
    except psutil.NoSuchProcess as exc:
        raise TargetError(f"no process with PID {pid}") from exc
    except psutil.AccessDenied as exc:
        raise TargetError(
            f"not allowed to read the memory of process {pid}",
            hint="run perflab as the same user as the target, or as root",
        ) from exc
    return process


def load_memory_series(path: Path) -> MemorySeries:
    """Read a series written by :class:`ProcessMonitor`, finished or not.

    Raises UsageError for a file that is not a memory series or has a newer schema.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if lines and not lines[-1].endswith("\n"):
        lines.pop()  # torn by a crash mid-write
    docs = []
    for number, line in enumerate(lines, 1):
        try:
            docs.append(json.loads(line))
        except ValueError:
            raise UsageError(f"{path}:{number}: not a JSON line of a memory series") from None
    if not docs or not isinstance(docs[0], dict) or "schema" not in docs[0]:
        raise UsageError(f"{path} is not a perflab memory series (no schema header)")
    schema = docs[0]["schema"]
    loader = _LOADERS.get(schema)
    if loader is None:
        raise UsageError(
            f"{path} has schema {schema!r}; this perflab reads {', '.join(_LOADERS)}",
            hint="upgrade perflab to read it",
        )
    return loader(docs)


def _load_v1(docs: list[dict[str, Any]]) -> MemorySeries:
    header = docs[0]
    samples = tuple(
        MemorySample(**{k: d[k] for k in _SAMPLE_FIELDS if k in d})
        for d in docs[1:]
        if d.get("kind") == "sample"
    )
    end = next((d for d in docs[1:] if d.get("kind") == "end"), None)
    return MemorySeries(
        pid=int(header["pid"]),
        interval_s=float(header["interval_s"]),
        include_children=bool(header.get("include_children", False)),
        started_at=str(header.get("started_at", "")),
        cmdline=tuple(header.get("cmdline", ())),
        samples=samples,
        exited=bool(end and end.get("exited")),
        exit_reason=end.get("exit_reason") if end else None,
        complete=end is not None,
    )


_LOADERS: dict[str, Callable[[list[dict[str, Any]]], MemorySeries]] = {MEMORY_SCHEMA: _load_v1}
