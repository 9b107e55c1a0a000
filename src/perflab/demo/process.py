"""Run the demo target in a child process, so a load test never shares a core or a GIL with it.

The child announces itself with one ``READY <url>`` line on stdout; its stderr goes to a temp
file rather than a pipe, because nobody drains a pipe during a long run and a full pipe would
stall the server mid-test. POSIX only: the READY wait selects on a pipe.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from types import TracebackType
from typing import IO

from perflab.demo.target import loopback_address
from perflab.errors import TargetError

__all__ = ["DemoTarget"]

_STDERR_TAIL_CHARS = 2000


class DemoTarget:
    """The demo shop in a subprocess: ``with DemoTarget(port=0) as t: run_against(t.url)``.

    Args:
        host: Loopback address to bind; anything else raises ``UsageError`` right here.
        port: Port to bind, 0 for a free one (read it back from ``port``).
        seed: Seed of the child's latency and failure draws.
        startup_timeout: Seconds to wait for the READY line before giving up.
        stop_timeout: Seconds to let a graceful shutdown run before the child is killed.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        seed: int = 0,
        startup_timeout: float = 20.0,
        stop_timeout: float = 5.0,
    ) -> None:
        self._host = loopback_address(host)
        self._requested_port = port
        self._seed = seed
        self._startup_timeout = startup_timeout
        self._stop_timeout = stop_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._url: str | None = None
        self._returncode: int | None = None

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. ``http://127.0.0.1:41234``."""
        if self._url is None:
            raise RuntimeError("DemoTarget is not running; use it as a context manager")
        return self._url

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise RuntimeError("DemoTarget is not running; use it as a context manager")
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        """The child's exit status once stopped: 0 after a clean SIGTERM shutdown."""
        return self._returncode

    def start(self) -> DemoTarget:
        """Start the child and block until it listens.

        Raises:
            TargetError: The child exited or stayed silent past ``startup_timeout``; the
                message carries the tail of its stderr.
        """
        if self._proc is not None:
            raise RuntimeError("DemoTarget is already running")
        argv = [sys.executable, "-m", "perflab.demo.target", "--host", self._host]
        argv += ["--port", str(self._requested_port), "--seed", str(self._seed)]
        self._stderr = tempfile.TemporaryFile(prefix="perflab-demo-stderr-")
        self._returncode = None
        self._proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._stderr
        )
        try:
            self._url = self._wait_ready(self._proc)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, proc: subprocess.Popen[bytes]) -> str:
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        deadline = time.monotonic() + self._startup_timeout
        received = b""
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while b"\n" not in received:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self._failure(f"did not get ready within {self._startup_timeout:g} s")
                if not selector.select(remaining):
                    continue
                chunk = os.read(fd, 4096)
                if not chunk:
                    try:
                        code = proc.wait(timeout=self._stop_timeout)
                    except subprocess.TimeoutExpired:
                        code = None
                    raise self._failure(f"exited before it was ready (exit status {code})")
                received += chunk
        line = received.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
        keyword, _, url = line.partition(" ")
        if keyword != "READY" or not url.startswith("http://"):
            raise self._failure(f"announced {line!r} instead of 'READY <url>'")
        return url

    def _failure(self, why: str) -> TargetError:
        tail = ""
        if self._stderr is not None:
            self._stderr.flush()
            self._stderr.seek(0)
            tail = self._stderr.read().decode("utf-8", "replace")[-_STDERR_TAIL_CHARS:].strip()
        message = f"demo target {why}"
        if tail:
            message += f"; its stderr ends with: {tail}"
        return TargetError(message, hint="run `python -m perflab.demo.target` to see it fail")

    def stop(self) -> None:
        """SIGTERM, wait up to ``stop_timeout``, then SIGKILL. Safe to call twice."""
        proc, self._proc, self._url = self._proc, None, None
        if proc is None:
            return
        try:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=self._stop_timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            self._returncode = proc.returncode
        finally:
            if proc.stdout is not None:
                proc.stdout.close()
            if self._stderr is not None:
                self._stderr.close()
                self._stderr = None

    def __enter__(self) -> DemoTarget:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
