"""HTTP/2 and WebSocket through the whole engine: `perflab run --http2` and scenario files."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from tests.conftest import TlsFiles

pytest_plugins = ["tests.integration.h2ws_fixtures"]

PERFLAB = [sys.executable, "-m", "perflab.cli.main"]


def _run(args: list[str], tmp_path: Path) -> dict[str, Any]:
    done = subprocess.run(
        [*PERFLAB, "run", *args, "--out", str(tmp_path / "run"), "--json"],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    doc: dict[str, Any] = json.loads(done.stdout)
    return doc


def test_url_mode_over_h2c_multiplexes_on_one_connection(h2c_url: str, tmp_path: Path) -> None:
    doc = _run(
        [f"{h2c_url}/hello", "--http2", "--vus", "20", "--duration", "2s", "--workers", "1"],
        tmp_path,
    )
    assert doc["config"]["http2"] is True
    totals = doc["totals"]
    assert totals["requests"] > 100 and totals["errors"] == 0
    assert totals["new_connections"] == 1  # twenty users, one multiplexed connection
    assert doc["generator"]["max_connections"] == 1


def test_url_mode_over_tls_alpn_in_the_open_model(
    h2_tls_url: str, tls_files: TlsFiles, tmp_path: Path
) -> None:
    doc = _run(
        [
            f"{h2_tls_url}/hello",
            "--http2",
            "--rate",
            "100/s",
            "--duration",
            "2s",
            "--cacert",
            tls_files.ca_file,
            "--workers",
            "1",
        ],
        tmp_path,
    )
    totals = doc["totals"]
    assert totals["requests"] == 200 and totals["errors"] == 0
    assert totals["phases_mean_ms"]["tls"] > 0


def test_scenario_file_with_http2_and_websocket(h2c_url: str, ws_url: str, tmp_path: Path) -> None:
    path = tmp_path / "mixed.py"
    path.write_text(
        textwrap.dedent(
            f"""
            from perflab.scenario import User, checks

            options = {{"vus": 4, "duration": "2s", "http2": True}}

            class Chatty(User):
                async def on_start(self, s):
                    self.ws = await s.websocket("{ws_url}/delay", name="delay")

                async def flow(self, s):
                    await s.get("/hello", checks=[checks.body_contains("Hello")])
                    reply, _ = await self.ws.send_recv("ping", 2.0, name="ping")
                    assert reply == "ping"
            """
        )
    )
    doc = _run([str(path), "--base-url", h2c_url, "--workers", "1"], tmp_path)
    assert doc["exceptions"] == [] and doc["checks"]["body contains 'Hello'"]["fails"] == 0
    assert doc["by_name"]["GET /hello"]["new_connections"] == 1
    ping = doc["transactions"]["WS ping"]
    assert ping["kind"] == "websocket" and ping["count"] > 20
    assert ping["latency_ms"]["p50"] >= 50  # the server's delay
    assert doc["transactions"]["WS connect delay"]["count"] == 4
