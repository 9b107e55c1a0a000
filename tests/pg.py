"""A throwaway PostgreSQL cluster for the catalog's tests (Debian's ``postgresql`` binaries).

Started once per session (about 1-2 s): ``initdb`` and ``pg_ctl`` run as the ``postgres``
user when we are root (PostgreSQL refuses to run as root), in a temp dir of their own; TCP on
127.0.0.1 only, a private socket directory, fsync off. Authentication is trust on 127.0.0.1
except for the role :data:`PASSWORD_ROLE`, which must give its password (scram), so a DSN
with a password is exercised for real. Skipped, with the reason, only when the binaries are
absent.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

PASSWORD_ROLE = "perflab_pw"
_HBA = f"""local all all trust
host all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256
host all all 127.0.0.1/32 trust
"""


def pg_bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` that has initdb and pg_ctl."""
    found = []
    for bindir in Path("/usr/lib/postgresql").glob("*/bin"):
        version = re.match(r"\d+(\.\d+)?", bindir.parent.name)
        if version and (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            found.append((float(version.group()), bindir))
    return max(found)[1] if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(cmd: list[str], cwd: Path) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr[-2000:]}")


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """``postgresql://postgres@127.0.0.1:PORT/postgres`` of a fresh cluster, stopped at the end."""
    bindir = pg_bin_dir()
    if bindir is None:
        pytest.skip("no PostgreSQL binaries in /usr/lib/postgresql/*/bin (apt install postgresql)")
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    base = Path(tempfile.mkdtemp(prefix="perflab-pg-"))  # /tmp: reachable by postgres
    if as_pg:
        shutil.chown(base, "postgres", "postgres")
    data = base / "data"
    pg_ctl = [*as_pg, str(bindir / "pg_ctl"), "-D", str(data)]
    try:
        initdb = [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"]
        _run([*as_pg, *initdb, "-E", "UTF8", "--locale=C", "--no-sync"], base)
        (data / "pg_hba.conf").write_text(_HBA)
        for attempt in range(3):  # the free port may be taken between probe and bind
            port = _free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={base} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            log = base / f"postgres-{attempt}.log"
            try:
                _run([*pg_ctl, "-l", str(log), "-w", "-t", "30", "-o", options, "start"], base)
                break
            except RuntimeError:
                if attempt == 2:
                    raise RuntimeError(log.read_text()[-2000:]) from None
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*pg_ctl, "-m", "immediate", "-w", "stop"],
            cwd=base,
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(base, ignore_errors=True)


def _admin(pg_url: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def create_database(pg_url: str, name: str) -> str:
    """A new, empty database on ``pg_url``'s cluster (dropped first if it exists); its URL."""
    _admin(pg_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    return pg_url.rsplit("/", 1)[0] + f"/{name}"


def password_database(pg_url: str, password: str) -> str:
    """A database owned by :data:`PASSWORD_ROLE` (who must log in with ``password``); its URL."""
    host = urlsplit(pg_url).netloc.split("@")[-1]
    _admin(
        pg_url,
        f'DROP DATABASE IF EXISTS "{PASSWORD_ROLE}" WITH (FORCE)',
        f'DROP ROLE IF EXISTS "{PASSWORD_ROLE}"',
        f"CREATE ROLE \"{PASSWORD_ROLE}\" LOGIN PASSWORD '{password}'",
        f'CREATE DATABASE "{PASSWORD_ROLE}" OWNER "{PASSWORD_ROLE}"',
    )
    return f"postgresql://{PASSWORD_ROLE}:{password}@{host}/{PASSWORD_ROLE}"
