"""Serving the dashboard: uvicorn on a socket bound up front, in the foreground or a thread.

The socket is bound before anything else happens, so a taken port is a usage error (exit 2)
before a run starts, and port 0 resolves to a real port to print. ``perflab ui`` serves in
the foreground; ``perflab run --ui`` serves from a daemon thread next to the engine through
:class:`LiveDashboard`, a run sink like the Prometheus exporter.
"""

from __future__ import annotations

import errno
import socket
import sys
import threading
import time
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from perflab.errors import UsageError
from perflab.model import listen
from perflab.ui.live import LiveHub

DEFAULT_HOST = listen.LOOPBACK
DEFAULT_PORT = 8089
_GRACE_S = 2  # open live streams get this long to end when the server stops


def parse_listen(value: str, *, flag: str = "--ui") -> tuple[str, int]:
    """``[HOST]:PORT`` for the dashboard; see :func:`perflab.model.listen.parse_listen`."""
    return listen.parse_listen(value, flag=flag, example_port=DEFAULT_PORT)


def bind(host: str, port: int, *, flag: str = "--port") -> socket.socket:
    """A listening socket on ``host:port``.

    Raises:
        UsageError: the port is taken, or the address cannot be listened on.
    """
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.socket(family, socket.SOCK_STREAM)
    except OSError as exc:
        raise UsageError(f"{flag}: cannot listen on {host}: {exc.strerror or exc}") from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(
                f"{flag}: port {port} is already in use on {host}",
                hint="pick another port, or 0 for any free one",
            ) from exc
        raise UsageError(f"{flag}: cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def _server(app: ASGIApp) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=_GRACE_S,
    )
    return uvicorn.Server(config)


def serve(app: ASGIApp, sock: socket.socket) -> None:
    """Serve until Ctrl-C or SIGTERM (uvicorn handles both and shuts down gracefully)."""
    _server(app).run(sockets=[sock])


class BackgroundServer:
    """uvicorn on a daemon thread (uvicorn installs no signal handlers off the main thread)."""

    def __init__(self, app: ASGIApp, sock: socket.socket) -> None:
        self._sock = sock
        self.url = url_of(sock)
        self._server = _server(app)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="perflab-ui", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10.0
        while not self._server.started and self._thread.is_alive():
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)

    def close(self) -> None:
        """Stop serving and free the port; safe to call more than once."""
        self._server.should_exit = True
        self._thread.join(timeout=_GRACE_S + 3.0)
        self._sock.close()


class LiveDashboard:
    """The run sink of ``--ui``: feeds the live page, lingers after the run if asked, stops.

    The engine's thread calls it; the hub never raises, and the linger (after the run
    directory is complete) is cut short by Ctrl-C.
    """

    def __init__(self, hub: LiveHub, server: BackgroundServer, *, linger_s: float) -> None:
        self.hub = hub
        self.server = server
        self.linger_s = linger_s

    def begin(self, doc: dict[str, Any]) -> None:
        self.hub.begin(doc)

    def interval(self, second: int, rows: list[dict[str, Any]], generator: dict[str, Any]) -> None:
        self.hub.interval(second, rows, generator)

    def update(self, doc: dict[str, Any]) -> None:
        self.hub.update(doc)

    def end(self, doc: dict[str, Any]) -> None:
        self.hub.end(doc)
        if self.linger_s > 0 and doc.get("status") != "interrupted":
            print(
                f"ui: the dashboard stays up {self.linger_s:g}s at {self.server.url}/live",
                file=sys.stderr,
                flush=True,
            )
            try:
                time.sleep(self.linger_s)
            except KeyboardInterrupt:
                pass  # the run is over and saved: stop waiting, not an interrupt
        else:
            time.sleep(1.2)  # let open pages receive the final event
        self.server.close()
