"""Shared fixtures: real test servers in subprocesses on 127.0.0.1, and TLS material.

Servers are session-scoped where a test cannot change their state; ``stall_url`` is per test
because that server freezes only once per process.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # plain `pytest` (not `python -m pytest`) omits the repo root
    sys.path.insert(0, str(ROOT))

from tests.pg import pg_url  # noqa: E402, F401
from tests.servers.launch import ServerProcess, start_server  # noqa: E402

ServerFactory = Callable[..., ServerProcess]
CPU_HOT = ROOT / "tests" / "servers" / "cpu_hot.py"
StartHot = Callable[..., subprocess.Popen[str]]


@pytest.fixture
def start_hot() -> Iterator[StartHot]:
    """``start(*args)`` runs cpu_hot.py, waits for READY, and reaps it when it exits (as a
    real parent would, so it does not linger as a zombie); all are killed at teardown."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, str(CPU_HOT), *args], stdout=subprocess.PIPE, text=True
        )
        started.append(proc)
        assert proc.stdout is not None
        assert proc.stdout.readline() == f"READY {proc.pid}\n"
        threading.Thread(target=proc.wait, daemon=True).start()
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


@dataclass(frozen=True)
class TlsFiles:
    """A throwaway CA and a server certificate for 127.0.0.1 and localhost, as PEM files."""

    ca_file: str
    certfile: str
    keyfile: str


@pytest.fixture(scope="session", autouse=True)
def _private_catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every run the suite makes (in process or in a child) is indexed in a throwaway catalog,
    never in ``./perflab.db`` of the checkout; tests that need their own set PERFLAB_DB."""
    saved = os.environ.get("PERFLAB_DB")
    os.environ["PERFLAB_DB"] = str(tmp_path_factory.mktemp("catalog") / "perflab.db")
    yield
    if saved is None:
        os.environ.pop("PERFLAB_DB", None)
    else:
        os.environ["PERFLAB_DB"] = saved


@pytest.fixture
def server_factory() -> Iterator[ServerFactory]:
    """``start(module, *args, scheme="http") -> ServerProcess``; all are killed at teardown."""
    started: list[ServerProcess] = []

    def start(module: str, *args: str, scheme: str = "http") -> ServerProcess:
        server = start_server(module, *args, scheme=scheme)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def hello_url() -> Iterator[str]:
    """Base URL (no trailing slash) of ``tests.servers.hello``."""
    with start_server("hello") as server:
        yield server.url


@pytest.fixture(scope="session")
def faulty_url() -> Iterator[str]:
    """Base URL of ``tests.servers.faulty`` (the fault is chosen by path)."""
    with start_server("faulty") as server:
        yield server.url


@pytest.fixture
def stall_url() -> Iterator[str]:
    """Base URL of a fresh ``tests.servers.stall`` (freezes 1 s, 2 s after its first request)."""
    with start_server("stall") as server:
        yield server.url


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    import trustme

    folder = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    files = TlsFiles(
        ca_file=str(folder / "ca.pem"),
        certfile=str(folder / "server.pem"),
        keyfile=str(folder / "server.key"),
    )
    ca.cert_pem.write_to_path(files.ca_file)
    cert.private_key_pem.write_to_path(files.keyfile)
    for index, blob in enumerate(cert.cert_chain_pems):
        blob.write_to_path(files.certfile, append=index > 0)
    return files


@pytest.fixture(scope="session")
def tls_ca_file(tls_files: TlsFiles) -> str:
    """The CA that signed ``hello_tls_url``'s certificate (not in the system store)."""
    return tls_files.ca_file


@pytest.fixture(scope="session")
def hello_tls_url(tls_files: TlsFiles) -> Iterator[str]:
    """``https://127.0.0.1:<port>`` of the hello server with a trustme certificate."""
    args = ("--certfile", tls_files.certfile, "--keyfile", tls_files.keyfile)
    with start_server("hello", *args, scheme="https") as server:
        yield server.url


@pytest.fixture
def refused_url() -> str:
    """An http URL on 127.0.0.1 where nothing listens (a port just released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
