"""``perflab ui``: the dashboard over the catalog; and ``--ui`` for ``perflab run``/``replay``.

Both bind 127.0.0.1 unless told otherwise, and any other address needs a token (``--token``
or ``PERFLAB_UI_TOKEN``): a usage error (exit 2) before anything listens.
"""

from __future__ import annotations

import os
import sys
import webbrowser
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Annotated

import typer

from perflab.load.sink import RunSink
from perflab.model import parse_duration

EXAMPLES = """
Examples:

  perflab ui                                 (http://127.0.0.1:8089, this directory's catalog)

  perflab ui --port 0 --open                 (any free port, opened in the browser)

  PERFLAB_UI_TOKEN=$(openssl rand -hex 16) perflab ui --host 0.0.0.0

  perflab ui --db postgresql://perf@db/perflab --token "$T" --host 0.0.0.0

  perflab run http://127.0.0.1:8080/ --rate 200/s --duration 5m --ui 8089
"""
TOKEN_ENV = "PERFLAB_UI_TOKEN"

UiOption = Annotated[
    str | None,
    typer.Option(
        "--ui",
        metavar="[HOST:]PORT",
        help="Serve the dashboard while the run goes, its live page updating every second "
        "(8089 listens on 127.0.0.1; 0 = any free port; another host needs "
        f"{TOKEN_ENV}).",
    ),
]
UiLingerOption = Annotated[
    str,
    typer.Option(
        "--ui-linger",
        metavar="DURATION",
        help="Keep the dashboard up this long after the run (e.g. 1m). Default: it stops "
        "with the run.",
    ),
]


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _link(url: str, token: str | None, path: str = "/") -> str:
    """The address to open; with a token, the one link that carries it (it becomes a cookie)."""
    return f"{url}{path}?token={token}" if token else f"{url}{path}"


@dataclass(frozen=True, slots=True)
class UiPlan:
    """The ``--ui`` asked for, validated before the run starts."""

    listen: tuple[str, int] | None = None
    linger_s: float = 0.0
    token: str | None = None

    @classmethod
    def parse(cls, ui: str | None, linger: str) -> UiPlan:
        linger_s = parse_duration(linger, what="--ui-linger") if linger else 0.0
        if ui is None:
            return cls(None, linger_s)
        from perflab.ui.auth import check_bind
        from perflab.ui.server import parse_listen

        host, port = parse_listen(ui)
        token = os.environ.get(TOKEN_ENV) or None
        check_bind(host, token, flag="--ui")
        return cls((host, port), linger_s, token)

    @contextmanager
    def start(self) -> Iterator[list[RunSink]]:
        """The live dashboard as a run sink; its port is freed on the way out, come what may."""
        if self.listen is None:
            yield []
            return
        from perflab.store.catalog import Catalog
        from perflab.ui.app import create_app
        from perflab.ui.live import LiveHub
        from perflab.ui.server import BackgroundServer, LiveDashboard, bind

        host, port = self.listen
        with ExitStack() as stack:
            sock = bind(host, port, flag="--ui")
            stack.callback(sock.close)
            catalog = stack.enter_context(Catalog.open())
            hub = LiveHub()
            app = create_app(catalog, token=self.token, hub=hub, hosts=(host,))
            server = BackgroundServer(app, sock)
            stack.callback(server.close)
            linger = f", kept {self.linger_s:g}s after the run" if self.linger_s else ""
            _say(f"ui: live dashboard at {_link(server.url, self.token, '/live')}{linger}")
            yield [LiveDashboard(hub, server, linger_s=self.linger_s)]


def ui(
    host: Annotated[
        str, typer.Option(help="Address to listen on; anything but loopback needs --token.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0 = any free one).")] = 8089,
    token: Annotated[
        str | None,
        typer.Option(
            envvar=TOKEN_ENV,
            show_envvar=True,
            help="Require this token on every request (Authorization: Bearer, or ?token= once "
            "in the browser).",
        ),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(help="Catalog: a SQLite path or postgresql:// URL (default $PERFLAB_DB)."),
    ] = None,
    open_browser: Annotated[
        bool, typer.Option("--open/--no-open", help="Open the dashboard in a browser.")
    ] = False,
) -> int:
    """Serve the web dashboard: runs, run pages, comparisons, trends and the live run.

    New runs under ./perflab-runs are indexed as they appear; a run going here is on Live.
    """
    from perflab.store.catalog import Catalog
    from perflab.ui.app import create_app
    from perflab.ui.auth import check_bind
    from perflab.ui.server import bind, serve, url_of

    check_bind(host, token)
    sock = bind(host, port)
    try:
        with Catalog.open(db) as catalog:
            app = create_app(catalog, token=token, hosts=(host,))
            link = _link(url_of(sock), token)
            _say(f"perflab ui: serving the catalog {catalog.url} at {link} (Ctrl-C stops)")
            if open_browser:
                webbrowser.open(link)
            try:
                serve(app, sock)
            except KeyboardInterrupt:
                pass  # Ctrl-C is how a dashboard is stopped, not a failure
    finally:
        sock.close()
    return 0
