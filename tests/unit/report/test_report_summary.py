"""The verdict, key numbers and redaction every report format shares."""

from __future__ import annotations

from typing import Any

import pytest

from perflab.model.redact import REDACTED
from perflab.report import summary


def _doc(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "status": "passed",
        "duration_s": 10.0,
        "totals": {
            "requests": 1000,
            "errors": 0,
            "error_rate": 0.0,
            "rps": 100.0,
            "dropped": 0,
            "latency_ms": {"p50": 1.0, "p99": 9.0, "p99.9": 20.0},
            "service_ms": {"p50": 0.9, "p99": 5.0, "p99.9": 7.0},
        },
        "thresholds": [
            {
                "threshold": "p99<300ms",
                "metric": "p99",
                "observed": 9.0,
                "limit": 300.0,
                "passed": True,
            }
        ],
        "generator": {"saturated": False},
    }
    doc.update(changes)
    return doc


def test_a_clean_pass_is_green_with_no_reasons() -> None:
    v = summary.verdict(_doc())
    assert (v.tone, v.headline, v.reasons) == ("pass", "PASSED: 1 of 1 thresholds passed", [])


@pytest.mark.parametrize(
    ("changes", "tone", "needle"),
    [
        ({"generator": {"saturated": True, "saturation_reasons": ["cpu 99%"]}}, "warn", "cpu 99%"),
        ({"stop_reason": "feeder ran out"}, "warn", "feeder ran out"),
        ({"status": "interrupted"}, "warn", None),
        ({"status": "error", "notes": ["worker died"]}, "fail", "worker died"),
        (
            {
                "status": "failed",
                "thresholds": [
                    {"threshold": "p99<1ms", "metric": "p99", "observed": 9.0, "passed": False}
                ],
            },
            "fail",
            "threshold p99<1ms failed: observed 9.00ms",
        ),
    ],
)
def test_reasons_and_tone(changes: dict[str, Any], tone: str, needle: str | None) -> None:
    v = summary.verdict(_doc(**changes))
    assert v.tone == tone
    if needle:
        assert any(needle in r for r in v.reasons), v.reasons


def test_errors_turn_a_pass_amber() -> None:
    doc = _doc()
    doc["totals"].update(errors=30, error_rate=0.03)
    v = summary.verdict(doc)
    assert v.tone == "warn" and "30 errors (3.00%)" in v.reasons


def test_key_numbers_pair_corrected_with_service_time() -> None:
    numbers = {label: (value, detail) for label, value, detail in summary.key_numbers(_doc())}
    assert numbers["p99"] == ("9.00ms", "service time 5.00ms")
    assert numbers["throughput"] == ("100.0/s", "")
    assert "dropped" not in numbers


def test_redacted_catches_what_run_json_should_already_have() -> None:
    config = {
        "requests": [
            {
                "url": "http://bob:pw1@h/x?api_key=k2&page=1",
                "headers": {"Authorization": "Bearer t3", "Accept": "*/*"},
            }
        ],
        "header_pairs": [["Cookie", "s=c4"], ["X-Ok", "fine"]],
        "db": {"dsn": "postgresql://app:pw5@db/x", "password": "pw6", "token": ""},
        "tags": {"env": "ci"},
    }
    out = summary.redacted(config)
    text = repr(out)
    for secret in ("pw1", "k2", "t3", "c4", "pw5", "pw6"):
        assert secret not in text
    assert out["requests"][0]["headers"]["Accept"] == "*/*"
    assert out["header_pairs"][1] == ["X-Ok", "fine"]
    assert out["db"]["token"] == ""  # nothing to hide, so nothing claims to be hidden
    assert out["tags"] == {"env": "ci"} and REDACTED in text
    assert config["db"]["password"] == "pw6"  # the input is left alone


def test_target_is_redacted_and_names_the_scenario() -> None:
    urls = {"requests": [{"url": "http://u:secret@h:1/a"}, {"url": "http://h:1/b"}]}
    assert summary.target({"config": urls}) == f"http://u:{REDACTED}@h:1/a and 1 more"
    script = {"script": {"base_url": "http://h:2", "path": "journey.py"}}
    assert summary.target({"config": script}) == "http://h:2 (journey.py)"
    assert summary.target({}) == "-"
