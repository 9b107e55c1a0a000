"""Fixtures for the HTTP/2 and WebSocket tests: their servers, one subprocess per session.

Loaded with ``pytest_plugins`` by the test modules that need them (pytest reads fixtures from
``conftest.py`` files and plugins only).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.conftest import TlsFiles
from tests.servers.launch import start_server


@pytest.fixture(scope="session")
def h2c_url() -> Iterator[str]:
    """``http://127.0.0.1:<port>`` of ``tests.servers.h2server``: h2c with prior knowledge."""
    with start_server("h2server") as server:
        yield server.url


@pytest.fixture(scope="session")
def h2_tls_url(tls_files: TlsFiles) -> Iterator[str]:
    """``https://127.0.0.1:<port>`` of the same server with TLS, ALPN offering h2."""
    args = ("--certfile", tls_files.certfile, "--keyfile", tls_files.keyfile)
    with start_server("h2server", *args, scheme="https") as server:
        yield server.url


@pytest.fixture(scope="session")
def h2_faulty_url() -> Iterator[str]:
    """``tests.servers.h2faulty``, announcing its MAX_STREAMS concurrent streams."""
    with start_server("h2faulty") as server:
        yield server.url


@pytest.fixture(scope="session")
def ws_url() -> Iterator[str]:
    """``ws://127.0.0.1:<port>`` of ``tests.servers.wsserver`` (no trailing slash)."""
    with start_server("wsserver", scheme="ws") as server:
        yield server.url
