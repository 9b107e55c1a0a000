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
from dataclasses import asdict
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import psutil

from perflab.errors import TargetError, UsageError
from perflab.model.redact import redact_argv
from perflab.profile.series import (
    MemorySample,
    MemorySeries,
    _header,
)


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
            self._cmdline = tuple(redact_argv(self._process.cmdline()))
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
