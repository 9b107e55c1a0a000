"""``perflab capacity test`` against a server whose capacity is known by construction.

``tests.servers.slots`` serves 4 requests at a time for exactly 20 ms each: 200 req/s.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conftest import ServerFactory

from perflab.cli.main import main

SLOTS, SERVICE_MS = 4, 20.0
CAPACITY = SLOTS / (SERVICE_MS / 1000.0)  # 200 req/s
QUICK = ["--min-hold", "3s", "--max-hold", "8s", "--window", "3s", "--workers", "1"]


def _capacity_test(args: list[str]) -> int:
    return main(["capacity", "test", *args])


@pytest.fixture
def slots_url(server_factory: ServerFactory) -> str:
    server = server_factory("slots", "--slots", str(SLOTS), "--service-ms", str(SERVICE_MS))
    return server.url + "/"


@pytest.mark.slow
def test_steps_rise_then_flatten_at_capacity(
    slots_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    assert _capacity_test([slots_url, "--steps", "1,2,4,8", *QUICK, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    steps = doc["steps"]
    assert [s["concurrency"] for s in steps] == [1, 2, 4, 8]
    for step in steps:
        assert {"concurrency", "throughput", "p50_ms", "p99_ms", "error_rate"} <= step.keys()
        assert step["error_rate"] == 0.0 and step["steady"]
    x = [s["throughput"] for s in steps]
    for n, throughput in zip((1, 2, 4), x, strict=False):  # one slot per VU: n / 20 ms
        assert throughput == pytest.approx(n * 1000.0 / SERVICE_MS, rel=0.1)
    assert x[3] == pytest.approx(CAPACITY, rel=0.05)  # 8 VUs queue for 4 slots: flat
    assert steps[3]["p50_ms"] == pytest.approx(2 * SERVICE_MS, rel=0.15)  # and wait a turn
    assert len(doc["runs"]) == 4 and "max_rate" not in doc
    usl = doc["usl"]
    assert {"sigma", "kappa", "lambda", "peak_concurrency", "peak_throughput"} <= usl.keys()
    assert usl["peak_throughput"] == pytest.approx(CAPACITY, rel=0.15)


@pytest.mark.slow
def test_slo_search_finds_the_designed_capacity(
    slots_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    args = [slots_url, "--steps", "4", *QUICK, "--slo", "p99<100ms", "--probe-time", "3s"]
    args += ["--max-probe-time", "3s", "--max-time", "100s", "--json"]
    assert _capacity_test(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["slo"] == "p99<100ms" and doc["converged"]
    assert doc["max_rate"] == pytest.approx(CAPACITY, rel=0.10)
    assert doc["first_failing_rate"] > doc["max_rate"]
    probes = [s for s in doc["steps"] if "rate" in s]
    assert len(probes) >= 4 and any(not p["slo_passed"] for p in probes)
    assert "breaking point lies in" in doc["confidence"]
    assert len(doc["runs"]) == len(doc["steps"]) == len(set(doc["runs"]))
    capsys.readouterr()
    for run_id in doc["runs"]:  # every probe is a stored run, found by id
        assert main(["show", run_id, "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["id"] == run_id


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["http://127.0.0.1:1/", "--slo", "p99>100ms"], "upper bound"),
        (["http://127.0.0.1:1/", "--slo", "fast"], "bad threshold"),
        (["http://10.1.2.3:8080/"], "loopback"),
        (["http://example.com/"], "loopback"),
        (["http://127.0.0.1:1/", "--steps", "1,x"], "bad --steps"),
        (["http://127.0.0.1:1/", "--steps", "4,2"], "increasing"),
        (["http://127.0.0.1:1/", "--steps", "1,128"], "--max-concurrency"),
        (["http://127.0.0.1:1/", "--tolerance", "lots"], "--tolerance"),
    ],
)
def test_bad_input_exits_2(
    args: list[str], needle: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    assert _capacity_test(args) == 2
    err = capsys.readouterr().err
    assert needle.lower() in err.lower(), err
    assert "Traceback" not in err and not list(tmp_path.glob("perflab-runs/*"))


def test_nothing_listening_exits_3(refused_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert _capacity_test([f"{refused_url}/", "--steps", "1"]) == 3
    assert "cannot connect" in capsys.readouterr().err
