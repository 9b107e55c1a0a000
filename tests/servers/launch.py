"""Start a test server as a subprocess and wait for its ``READY <port>`` line.

Servers run in their own process so that the client under test and the server never share an
event loop or a GIL, as in a real load test.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parents[2]


class ServerProcess:
    """A running test server; :meth:`stop` kills it and reaps the process."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int, scheme: str) -> None:
        self.proc = proc
        self.port = port
        self.scheme = scheme

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_server(
    module: str, *args: str, scheme: str = "http", timeout_s: float = 15.0
) -> ServerProcess:
    """Run ``python -m tests.servers.<module> --port 0 <args>`` and wait until it listens.

    Raises:
        RuntimeError: when the server exits or prints no READY line within ``timeout_s``.
    """
    command = [sys.executable, "-m", f"tests.servers.{module}", "--port", "0", *args]
    # `-m` puts the working directory (the repo root) first on sys.path: `tests` imports.
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    server = ServerProcess(proc, 0, scheme)
    try:
        server.port = _wait_ready(proc, proc.stdout.fileno(), timeout_s)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_ready(proc: subprocess.Popen[bytes], fd: int, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    output = b""
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while b"\n" not in output:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                raise RuntimeError(f"{proc.args!r} printed no READY line in {timeout_s:g}s")
            chunk = os.read(fd, 4096)
            if not chunk:
                raise RuntimeError(f"{proc.args!r} exited with {proc.wait()} before READY")
            output += chunk
    line = output.split(b"\n", 1)[0].decode()
    word, _, port = line.partition(" ")
    if word != "READY" or not port.isdigit():
        raise RuntimeError(f"{proc.args!r} printed {line!r} instead of 'READY <port>'")
    return int(port)
