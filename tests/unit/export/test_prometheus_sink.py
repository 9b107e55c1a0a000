"""PrometheusSink: flag parsing, a real scrape of synthetic seconds, errors kept from the engine."""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from perflab.errors import UsageError
from perflab.export.prometheus import PrometheusSink, parse_listen
from perflab.stats import LatencyHistogram


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (":9464", ("127.0.0.1", 9464)),
        ("9464", ("127.0.0.1", 9464)),
        ("0.0.0.0:9464", ("0.0.0.0", 9464)),
        ("localhost:0", ("localhost", 0)),
        ("[::1]:9464", ("::1", 9464)),
    ],
)
def test_parse_listen(text: str, expected: tuple[str, int]) -> None:
    assert parse_listen(text) == expected


@pytest.mark.parametrize("text", ["", ":", "host:", ":http", ":70000", "::1:9464", ":-1"])
def test_parse_listen_rejects(text: str) -> None:
    with pytest.raises(UsageError, match="--prometheus"):
        parse_listen(text)


def _row(name: str, values: list[int], **extra: Any) -> dict[str, Any]:
    hist = LatencyHistogram()
    hist.record_many(np.array(values))
    row: dict[str, Any] = {
        "second": 0,
        "name": name,
        "kind": "request",
        "requests": len(values),
        "ok": len(values),
        "errors": 0,
        "dropped": 0,
        "bytes_in": 0,
        "errors_by_kind": {},
        "latency_hist": hist.to_bytes(),
        "service_hist": hist.to_bytes(),
    }
    row.update(extra)
    return row


GEN = {"second": 0, "cpu_pct_max": 12.5, "inflight": 3, "connections": 2}


@pytest.fixture
def sink() -> Iterator[PrometheusSink]:
    prom = PrometheusSink.serve("127.0.0.1", 0)
    yield prom
    prom.close()


def _scrape(url: str) -> dict[str, list[Sample]]:
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def _value(samples: list[Sample], metric: str, **labels: str) -> float:
    (match,) = [s for s in samples if s.name == metric and labels.items() <= s.labels.items()]
    return match.value


def test_a_scrape_shows_counters_histograms_and_gauges(sink: PrometheusSink) -> None:
    assert sink.port > 0 and sink.url == f"http://127.0.0.1:{sink.port}/metrics"
    sink.begin({"id": "r1", "name": "smoke"})
    errors = {"timeout": 1, "http_500": 2}
    sink.interval(0, [_row("GET /a", [150, 900, 4_000], errors=3, errors_by_kind=errors)], GEN)
    sink.interval(1, [_row("GET /a", [150]), _row("GET /b", [70_000], dropped=4)], GEN)
    fams = _scrape(sink.url)
    assert _value(fams["perflab_run_info"], "perflab_run_info", run_id="r1", name="smoke") == 1
    assert _value(fams["perflab_run_active"], "perflab_run_active") == 1
    reqs = fams["perflab_requests"]
    assert _value(reqs, "perflab_requests_total", name="GET /a", kind="request") == 4
    assert _value(reqs, "perflab_requests_total", name="GET /b") == 1
    errs = fams["perflab_errors"]
    assert _value(errs, "perflab_errors_total", name="GET /a", error="http_500") == 2
    assert _value(fams["perflab_dropped"], "perflab_dropped_total", name="GET /b") == 4
    hist = fams["perflab_request_duration_seconds"]
    a = [s for s in hist if s.labels.get("name") == "GET /a"]
    buckets = {s.labels["le"]: s.value for s in a if s.name.endswith("_bucket")}
    assert buckets["0.0001"] == 0 and buckets["0.00025"] == 2 and buckets["0.001"] == 3
    assert buckets["0.005003"] == 4 and buckets["+Inf"] == 4
    assert _value(a, "perflab_request_duration_seconds_count") == 4
    assert _value(a, "perflab_request_duration_seconds_sum") == pytest.approx(0.0052)
    assert _value(fams["perflab_inflight"], "perflab_inflight") == 3
    assert _value(fams["perflab_generator_cpu_percent"], "perflab_generator_cpu_percent") == 12.5
    assert "perflab_vus" not in fams  # the row carries no VUs: no made-up gauge
    sink.end({"status": "passed"})
    with pytest.raises(OSError):
        _scrape(sink.url)  # stopped, port released


def test_no_secret_in_any_label(sink: PrometheusSink) -> None:
    name = "GET https://bob:hunter22@example.com/?session=SESSIONID9"
    sink.begin({"id": "r2", "name": "https://bob:hunter22@example.com/"})
    sink.interval(0, [_row(name, [100], errors_by_kind={"http_401": 1})], GEN)
    with urllib.request.urlopen(sink.url, timeout=5) as response:
        text = response.read().decode()
    assert "hunter22" not in text and "SESSIONID9" not in text
    assert "example.com" in text


def test_a_failing_second_never_reaches_the_engine(
    sink: PrometheusSink, caplog: pytest.LogCaptureFixture
) -> None:
    sink.begin({"id": "r3", "name": "x"})
    sink.interval(0, [{"name": "broken"}], GEN)  # no histograms: swallowed, logged once
    sink.interval(1, [{"name": "broken"}], GEN)
    sink.interval(2, [_row("GET /", [100])], GEN)
    assert len([r for r in caplog.records if "prometheus export" in r.getMessage()]) == 1
    fams = _scrape(sink.url)
    assert _value(fams["perflab_requests"], "perflab_requests_total", name="GET /") == 1


def test_a_taken_port_is_a_usage_error_naming_it() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(UsageError, match=f"port {port} is already in use"):
            PrometheusSink.serve("127.0.0.1", port)


def test_linger_keeps_serving_but_not_after_an_interrupt() -> None:
    prom = PrometheusSink.serve("127.0.0.1", 0, linger_s=30.0)
    prom.begin({"id": "r4", "name": "x"})
    prom.end({"status": "interrupted"})  # would block 30 s if it lingered
    with pytest.raises(OSError):
        _scrape(prom.url)
    prom.close()  # idempotent
