"""The nginx target: a generated config, pinned to its own core, with a request counter."""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import psutil

from loadbench.model import SERVER_CORE
from loadbench.procs import find_binary

NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
worker_rlimit_nofile 20000;
events {{ worker_connections 16384; }}
http {{
    access_log off;
    default_type text/plain;
    keepalive_requests 1000000000;
    keepalive_timeout 300s;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 200 "Hello, world!"; }}
        location = /nginx_status {{ stub_status; }}
    }}
}}
"""


def free_port() -> int:
    """An ephemeral port that is free now (nginx binds it right after; retried on a race)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Nginx:
    """nginx in a temp dir, 1 worker pinned to SERVER_CORE, in the foreground as our child."""

    def __init__(self, workdir: Path) -> None:
        binary = find_binary("nginx")
        if binary is None:
            raise SystemExit("nginx not found: run bench/setup.sh (apt-get install nginx-light)")
        self.binary = binary
        self.dir = workdir / "nginx"
        self.dir.mkdir()
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Nginx:
        for _ in range(5):
            self.port = free_port()
            conf = self.dir / "nginx.conf"
            conf.write_text(NGINX_CONF.format(tmp=self.dir, port=self.port))
            # fmt: off
            argv = ["taskset", "-c", str(SERVER_CORE), self.binary, "-p", str(self.dir),
                    "-c", str(conf), "-e", str(self.dir / "error.log")]
            # fmt: on
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            if self._wait_ready():
                return self
            assert self.proc.stderr is not None
            err = self.proc.stderr.read().decode(errors="replace")
            if "Address already in use" not in err:
                raise SystemExit(f"nginx did not start: {err.strip()}")
        raise SystemExit("nginx did not start: no free port after 5 tries")

    def _wait_ready(self) -> bool:
        assert self.proc is not None
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
            ):
                return True
            time.sleep(0.02)
        self.proc.kill()
        self.proc.wait()
        return False

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful: master reaps its worker
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def served(self) -> int:
        """Requests nginx has served so far (stub_status; this request included)."""
        data = self._status()
        m = re.search(rb"\n\s*\d+\s+\d+\s+(\d+)\s*\n", data)
        if m is None:
            raise RuntimeError(f"unexpected stub_status reply: {data[-200:]!r}")
        return int(m.group(1))

    def _status(self) -> bytes:
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
            sock.sendall(b"GET /nginx_status HTTP/1.0\r\n\r\n")
            data = b""
            while chunk := sock.recv(4096):
                data += chunk
        return data

    def active(self) -> int:
        """Open client connections right now (stub_status; this request included)."""
        data = self._status()
        m = re.search(rb"Active connections:\s*(\d+)", data)
        if m is None:
            raise RuntimeError(f"unexpected stub_status reply: {data[-200:]!r}")
        return int(m.group(1))

    def cpu_s(self) -> float:
        """CPU of master and worker so far; deltas around a run give nginx's share."""
        assert self.proc is not None
        master = psutil.Process(self.proc.pid)
        total = 0.0
        for p in (master, *master.children(recursive=True)):
            with contextlib.suppress(psutil.NoSuchProcess):
                t = p.cpu_times()
                total += t.user + t.system
        return total
