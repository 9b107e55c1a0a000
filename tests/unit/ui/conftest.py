"""The dashboard on a real local server (uvicorn on a thread, an ephemeral 127.0.0.1 port)."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

import pytest
from tests.unit.ui.ui_seed import Seeded, seed_catalog

from perflab.store import Catalog
from perflab.ui.app import create_app
from perflab.ui.live import LiveHub
from perflab.ui.server import BackgroundServer, bind


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Message
    text: str


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # the tests look at redirects themselves


_OPENER = urllib.request.build_opener(_NoRedirect)


def fetch(url: str, headers: dict[str, str] | None = None) -> Reply:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with _OPENER.open(request, timeout=30) as response:
            return Reply(response.status, response.headers, response.read().decode())
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, exc.headers, exc.read().decode())


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    return seed_catalog(tmp_path_factory.mktemp("ui-catalog"))


Serve = Callable[..., str]


@pytest.fixture
def serve(seeded: Seeded) -> Iterator[Serve]:
    """``serve(token=None, hub=None, runs_root=...) -> base URL``; stopped at teardown."""
    started: list[tuple[BackgroundServer, Catalog]] = []

    def start(
        *, token: str | None = None, hub: LiveHub | None = None, runs_root: Path | None = None
    ) -> str:
        catalog = Catalog.open(str(seeded.db))
        root = runs_root if runs_root is not None else seeded.root
        app = create_app(catalog, token=token, hub=hub, runs_root=root)
        server = BackgroundServer(app, bind("127.0.0.1", 0))
        started.append((server, catalog))
        return server.url

    yield start
    for server, catalog in started:
        server.close()
        catalog.close()


@pytest.fixture
def base_url(serve: Serve) -> str:
    return serve()
