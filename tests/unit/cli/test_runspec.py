"""``perflab run`` flags -> RunSpec: which model, which stages, what defaults."""

from __future__ import annotations

from typing import Any

import pytest

from perflab.cli.runspec import build_spec
from perflab.errors import UsageError
from perflab.model import LoadModel, RunSpec, Stage
from perflab.model.profile import DEFAULT_DURATION_S, DEFAULT_VUS

URL = "http://127.0.0.1:8080/items?page=2"


def _defaults() -> dict[str, Any]:
    return dict(
        rate=None,
        vus=None,
        duration=None,
        iterations=None,
        stages=None,
        max_inflight=1000,
        connections=None,
        thresholds=[],
        abort_on_fail=False,
        workers=0,
        name=None,
        tags=[],
        method="GET",
        headers=[],
        data=None,
        timeout="60s",
        connect_timeout="10s",
        insecure=False,
        cacert=None,
    )


def _spec(**kw: Any) -> RunSpec:
    return build_spec(URL, **{**_defaults(), **kw})


def test_defaults_are_a_short_closed_run() -> None:
    spec = _spec()
    assert spec.load.model is LoadModel.CLOSED
    assert spec.load.stages == (Stage(DEFAULT_DURATION_S, DEFAULT_VUS),)
    assert spec.requests[0].name == "GET /items"  # query left out of the metric name
    assert spec.name == "127.0.0.1"


def test_rate_is_open_and_stages_pick_the_model_by_unit() -> None:
    assert _spec(rate="500/s", duration="30s").load.stages == (Stage(30.0, 500.0),)
    ramp = _spec(stages="10s:100/s,20s:0/s")
    assert ramp.load.model is LoadModel.OPEN and ramp.load.start == 0.0
    vus = _spec(stages="10s:5,20s:0")
    assert vus.load.model is LoadModel.CLOSED and vus.load.duration_s == 30.0
    assert _spec(vus=3, stages="5s:9").load.start == 3.0


def test_iterations_bound_the_run() -> None:
    closed = _spec(vus=2, iterations=40)
    assert closed.load.iterations == 40 and closed.load.duration_s == 0.0
    opened = _spec(rate="100/s", iterations=50)
    assert opened.load.duration_s == pytest.approx(1.5)


def test_request_parts_and_tags() -> None:
    spec = _spec(method="post", headers=["X-A: 1"], data='{"a": 1}', tags=["env=ci"])
    req = spec.requests[0]
    assert (req.method, req.headers, req.body) == ("POST", (("X-A", "1"),), b'{"a": 1}')
    assert spec.tags == {"env": "ci"}


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"rate": "5/s", "vus": 2}, "not both"),
        ({"stages": "10s:5/s", "duration": "5s"}, "not both"),
        ({"iterations": 0}, "at least 1"),
        ({"vus": 0}, "at least 1"),
        ({"tags": ["novalue"]}, "KEY=VALUE"),
        ({"method": "G E T"}, "HTTP method"),
        ({"data": "@/no/such/file"}, "cannot read"),
        ({"thresholds": ["GET /other: p99<1s"]}, "names request"),
        ({"rate": "0/s"}, "must be positive"),
    ],
)
def test_bad_flags(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        _spec(**kw)


def test_a_python_file_is_not_a_url() -> None:
    with pytest.raises(UsageError, match="URL"):
        build_spec("journey.py", **_defaults())
