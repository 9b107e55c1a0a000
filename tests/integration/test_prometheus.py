"""Metrics export end to end: a real run scraped over HTTP, and pushed to a real OTLP receiver."""

from __future__ import annotations

import json
import math
import queue
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import IO

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from tests.servers.otlp_receiver import otlp_receiver

from perflab.cli.main import main
from perflab.export.metrics import BOUNDS_S, BOUNDS_US

PERFLAB = [sys.executable, "-m", "perflab.cli.main"]


def _lines(stream: IO[str], out: queue.Queue[str]) -> None:
    for line in stream:
        out.put(line)


def _scrape(url: str) -> dict[str, list[Sample]]:
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def _one(fams: dict[str, list[Sample]], family: str, sample: str) -> float:
    return sum(s.value for s in fams.get(family, []) if s.name == sample)


def test_a_real_run_scraped_during_and_after(hello_url: str, tmp_path: Path) -> None:
    cmd = [*PERFLAB, "run", f"{hello_url}/", "--vus", "2", "--duration", "4s", "--json"]
    cmd += ["--prometheus", "127.0.0.1:0", "--prometheus-linger", "3s", "--out", str(tmp_path)]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path
    )
    assert proc.stderr is not None
    err_lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_lines, args=(proc.stderr, err_lines), daemon=True).start()
    try:
        url = ""
        while not url:
            line = err_lines.get(timeout=15)
            assert "Traceback" not in line
            if match := re.search(r"serving metrics at (http://\S+?/metrics)", line):
                url = match.group(1)
        during: list[float] = []
        vus: list[float] = []
        final: dict[str, list[Sample]] = {}
        deadline = time.monotonic() + 14
        while time.monotonic() < deadline:
            fams = _scrape(url)
            active = _one(fams, "perflab_run_active", "perflab_run_active") == 1
            if during and not active:
                final = fams  # the last second is in: the linger window
                break
            if active:
                during.append(_one(fams, "perflab_requests", "perflab_requests_total"))
                vus.append(_one(fams, "perflab_vus", "perflab_vus"))
            time.sleep(0.25)
        out, err = proc.communicate(timeout=15)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    doc = json.loads(out)  # stdout holds the JSON document and nothing else
    requests = doc["totals"]["requests"]
    assert final, "never saw the run finish"
    assert during == sorted(during) and 0 < max(during)  # counted live, only ever growing
    assert _one(final, "perflab_requests", "perflab_requests_total") == requests
    assert max(vus) == 2  # closed model: the users running (0 once the run has stopped)
    for name, summary in doc["by_name"].items():
        labels = {"name": name, "kind": "request"}
        hist = [
            s
            for s in final["perflab_request_duration_seconds"]
            if labels.items() <= s.labels.items()
        ]
        buckets = [s for s in hist if s.name.endswith("_bucket")]
        les = [s.labels["le"] for s in buckets]
        assert les == [*(repr(b) for b in BOUNDS_S), "+Inf"]
        counts = [int(s.value) for s in buckets]
        assert counts == sorted(counts)  # cumulative, monotone
        count = _one({"h": hist}, "h", "perflab_request_duration_seconds_count")
        assert counts[-1] == count == summary["requests"]
        # run.json's p99 falls in the bucket that holds rank ceil(0.99 n): exact, since our
        # boundaries sit on the histogram's bucket edges
        rank = max(1, math.ceil(0.99 * count))
        index = next(i for i, c in enumerate(counts) if c >= rank)
        p99_us = round(summary["latency_ms"]["p99"] * 1000)
        low = BOUNDS_US[index - 1] if index > 0 else -1
        high = BOUNDS_US[index] if index < len(BOUNDS_US) else math.inf
        assert low < p99_us <= high
    info = final["perflab_run_info"][0].labels
    assert info == {"run_id": doc["id"], "name": doc["name"]}
    with pytest.raises(OSError):
        _scrape(url)  # the endpoint stopped with the process


def test_a_real_run_pushes_its_totals_over_otlp(hello_url: str, tmp_path: Path) -> None:
    with otlp_receiver() as receiver:
        cmd = [*PERFLAB, "run", f"{hello_url}/", "--vus", "2", "--duration", "2s", "--json"]
        cmd += ["--otlp", receiver.url, "--out", str(tmp_path)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert "otlp: pushing metrics to" in proc.stderr
        doc = json.loads(proc.stdout)
        assert len(receiver.requests) >= 2  # each second, and the totals at the end
        (point,) = receiver.points("perflab.requests")
        assert point.as_int == doc["totals"]["requests"] > 0
        (hist,) = receiver.points("perflab.request.duration")
        assert hist.count == sum(hist.bucket_counts) == doc["totals"]["requests"]
        assert receiver.resource()["perflab.run.id"] == doc["id"]


def test_replay_exports_too(
    hello_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # whatever the run writes beside its directory stays here
    log = tmp_path / "access.log"
    stamp = "14/Nov/2023:22:13:{:02d} +0000"
    lines = [
        f'10.0.0.1 - - [{stamp.format(i // 10)}] "GET /r/{i} HTTP/1.1" 200 5' for i in range(20)
    ]
    log.write_text("\n".join(lines) + "\n")
    with otlp_receiver() as receiver:
        args = ["replay", str(log), "--target", hello_url, "--speed", "4x", "--quiet"]
        args += ["--otlp", receiver.url, "--out", str(tmp_path / "run")]
        assert main(args) == 0
        total = sum(p.as_int for p in receiver.points("perflab.requests"))
        assert total == 20


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--prometheus", "nine"], "--prometheus 'nine'"),
        (["--prometheus", ":9464", "--prometheus-linger", "soon"], "--prometheus-linger"),
        (["--otlp", "localhost:4318"], "--otlp"),
    ],
)
def test_bad_export_flags_exit_2_in_one_line(
    flags: list[str],
    needle: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["run", "http://127.0.0.1:1/", "--duration", "1s", *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith("perflab: error:") and needle in err and len(err.splitlines()) == 1


def test_a_taken_port_exits_2_naming_it(
    hello_url: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = ["run", f"{hello_url}/", "--duration", "1s", "--prometheus", f":{port}"]
        assert main([*args, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"port {port} is already in use" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "run.json").exists()  # refused before the run started
