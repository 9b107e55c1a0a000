"""The seam between the coordinator and its workers.

A :class:`Transport` starts workers somewhere and moves small picklable messages both ways.
:class:`LocalTransport` uses one process per worker on this machine with a duplex pipe each;
a distributed engine implements the same interface later. Messages are tuples whose first
element names them (``ready``, ``interval``, ``error`` from workers; ``start``, ``stop`` to
them); they carry only plain data and encoded histograms.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import multiprocessing.connection as mpc
import sys
from collections.abc import Callable, Iterator, Sequence
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


@contextlib.contextmanager
def _main_module_hidden() -> Iterator[None]:
    """Start a spawned worker without re-running the caller's ``__main__``.

    ``spawn`` normally re-imports the main script in every child. A user's script that calls
    ``perflab.load.run`` at top level (no ``if __name__ == "__main__"`` guard) would then
    start a load test inside each worker, and the CLI would pay for importing itself again.
    Workers need nothing from ``__main__`` (their entry point and plan are importable), so
    the main module's ``__file__``/``__spec__`` are hidden while the child is prepared.
    """
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    missing = object()
    saved = {k: getattr(main, k, missing) for k in ("__file__", "__spec__")}
    main.__spec__ = None
    if saved["__file__"] is not missing:
        del main.__file__
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is missing:
                if hasattr(main, key) and key == "__file__":
                    delattr(main, key)
            else:
                setattr(main, key, value)


class PipeChannel:
    """A worker's end of two one-way pipes: commands in, results out.

    Two pipes, not one duplex socket, because the worker's event loop watches the command
    pipe and libuv makes a watched descriptor non-blocking; a large result written to that
    same descriptor could then stop half-way (EAGAIN) and corrupt the stream. The results
    pipe stays blocking, so a slow coordinator applies back-pressure instead.
    """

    def __init__(self, commands: mpc.Connection, results: mpc.Connection) -> None:
        self._commands = commands
        self._results = results

    def send(self, message: Message) -> None:
        self._results.send(message)

    def recv(self) -> Message:
        message: Message = self._commands.recv()
        return message

    def fileno(self) -> int:
        return self._commands.fileno()

    def close(self) -> None:
        self._commands.close()
        self._results.close()


class LocalTransport:
    """Worker processes on this machine (spawned: a fresh interpreter, no inherited loop)."""

    def __init__(self) -> None:
        self._ctx = mp.get_context("spawn")
        self._procs: list[Any] = []
        self._conns: list[mpc.Connection] = []  # results, read here
        self._commands: list[mpc.Connection] = []  # commands, written here

    def start(self, plans: Sequence[Any], entry: Callable[[Any, WorkerChannel], None]) -> None:
        for plan in plans:
            cmd_read, cmd_write = self._ctx.Pipe(duplex=False)
            res_read, res_write = self._ctx.Pipe(duplex=False)
            channel = PipeChannel(cmd_read, res_write)
            proc = self._ctx.Process(target=entry, args=(plan, channel), daemon=True)
            with _main_module_hidden():
                proc.start()
            cmd_read.close()
            res_write.close()
            self._procs.append(proc)
            self._conns.append(res_read)
            self._commands.append(cmd_write)

    def broadcast(self, message: Message) -> None:
        for conn in self._commands:
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
            except Exception as exc:  # a garbled message: stop trusting this worker's pipe
                conn.close()
                messages.append(("error", self._conns.index(conn), f"bad message: {exc!r}"))
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
        for conn in (*self._conns, *self._commands):
            conn.close()
