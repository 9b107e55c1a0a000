import pytest

from perflab.errors import UsageError
from perflab.model.units import (
    Stage,
    format_duration,
    parse_duration,
    parse_rate,
    parse_stages,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("1m30s", 90), ("500ms", 0.5), ("2h", 7200), ("1.5", 1.5), ("250us", 250e-6)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "abc", "10x", "s10", "1m 30s", "-5", "5s5"])
def test_bad_durations_name_the_value(text: str) -> None:
    with pytest.raises(UsageError, match=r"bad duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "rate"),
    [("500/s", 500), ("500", 500), ("30/m", 0.5), ("100/1s", 100), ("60/min", 1), ("5/100ms", 50)],
)
def test_rates(text: str, rate: float) -> None:
    assert parse_rate(text) == pytest.approx(rate)


@pytest.mark.parametrize("text", ["fast", "10/x", "/s", "1e3/s", "10/0s"])
def test_bad_rates(text: str) -> None:
    with pytest.raises(UsageError, match="bad rate"):
        parse_rate(text)


def test_stages_rates_and_vus() -> None:
    assert parse_stages("30s:100/s,1m:500/s,30s:0/s", rates=True) == (
        Stage(30, 100),
        Stage(60, 500),
        Stage(30, 0),
    )
    assert parse_stages("10s:5, 20s:0", rates=False) == (Stage(10, 5), Stage(20, 0))


@pytest.mark.parametrize(
    ("text", "rates", "message"),
    [
        ("30s", True, "DURATION:TARGET"),
        ("xs:10/s", True, "stage duration"),
        ("10s:2.5", False, "whole number"),
        ("", True, "at least one"),
    ],
)
def test_bad_stages(text: str, rates: bool, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_stages(text, rates=rates)


def test_format_duration() -> None:
    assert format_duration(90) == "1m30s"
    assert format_duration(0.25) == "250ms"
    assert format_duration(3600) == "1h"


def test_workers_never_outnumber_what_they_can_share() -> None:
    from perflab.model import HttpRequest, LoadModel, LoadProfile, RunSpec

    def spec(model: LoadModel, peak: float, **kw: int) -> RunSpec:
        load = LoadProfile(model, (Stage(5.0, peak),), peak, **kw)
        return RunSpec(requests=(HttpRequest("http://127.0.0.1:1/"),), load=load, workers=8)

    assert spec(LoadModel.CLOSED, 3.0).resolved_workers() == 3
    assert spec(LoadModel.OPEN, 100.0, connections=1).resolved_workers() == 1
    assert spec(LoadModel.OPEN, 100.0, max_inflight=2).resolved_workers() == 2
    assert spec(LoadModel.OPEN, 100.0).resolved_workers() == 8
    assert spec(LoadModel.CLOSED, 10.0, iterations=4).resolved_workers() == 4
