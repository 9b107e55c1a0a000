"""The seam between the coordinator and its workers.

A :class:`Transport` starts workers somewhere and moves small picklable messages both ways.
:class:`LocalTransport` uses one process per worker on this machine with a duplex pipe each;
a distributed engine implements the same interface later. Messages are tuples whose first
element names them (``ready``, ``interval``, ``error`` from workers; ``start``, ``stop`` to
them); they carry only plain data and encoded histograms.
"""

from __future__ import annotations

import multiprocessing as mp
import multiprocessing.connection as mpc
from collections.abc import Callable, Sequence
from typing import Any, Protocol

Message = tuple[Any, ...]


class WorkerChannel(Protocol):
    """The worker's end: blocking-free send, receive when ``fileno()`` is readable."""

    def send(self, message: Message) -> None: ...
    def recv(self) -> Message: ...
    def fileno(self) -> int: ...
    def close(self) -> None: ...


class Transport(Protocol):
    """The coordinator's end."""

    def start(self, plans: Sequence[Any], entry: Callable[[Any, WorkerChannel], None]) -> None: ...
    def broadcast(self, message: Message) -> None: ...
    def poll(self, timeout: float) -> list[Message]: ...
    def alive(self) -> list[bool]: ...
    def close(self, timeout: float = 5.0) -> None: ...


class LocalTransport:
    """Worker processes on this machine (spawned: a fresh interpreter, no inherited loop)."""

    def __init__(self) -> None:
        self._ctx = mp.get_context("spawn")
        self._procs: list[Any] = []
        self._conns: list[mpc.Connection] = []

    def start(self, plans: Sequence[Any], entry: Callable[[Any, WorkerChannel], None]) -> None:
        for plan in plans:
            parent, child = self._ctx.Pipe(duplex=True)
            proc = self._ctx.Process(target=entry, args=(plan, child), daemon=True)
            proc.start()
            child.close()
            self._procs.append(proc)
            self._conns.append(parent)

    def broadcast(self, message: Message) -> None:
        for conn in self._conns:
            try:
                conn.send(message)
            except (BrokenPipeError, OSError):
                continue  # a dead worker; alive() reports it

    def poll(self, timeout: float) -> list[Message]:
        messages: list[Message] = []
        live = [c for c in self._conns if not c.closed]
        if not live:
            return messages
        for conn in mpc.wait(live, timeout):
            assert isinstance(conn, mpc.Connection)
            try:
                while conn.poll():
                    messages.append(conn.recv())
            except (EOFError, OSError):
                conn.close()
        return messages

    def alive(self) -> list[bool]:
        return [p.is_alive() for p in self._procs]

    def exit_codes(self) -> list[int | None]:
        return [p.exitcode for p in self._procs]

    def close(self, timeout: float = 5.0) -> None:
        for proc in self._procs:
            proc.join(timeout)
            if proc.is_alive():
                proc.terminate()
                proc.join(1.0)
        for conn in self._conns:
            conn.close()
