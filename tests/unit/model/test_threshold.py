import pytest

from perflab.errors import UsageError
from perflab.model.threshold import evaluate, parse_threshold


@pytest.mark.parametrize(
    ("text", "scope", "metric", "op", "value"),
    [
        ("p99<300ms", None, "p99", "<", 300.0),
        ("p99.9 <= 1.5s", None, "p99.9", "<=", 1500.0),
        ("p50<250us", None, "p50", "<", 0.25),
        ("error_rate<1%", None, "error_rate", "<", 0.01),
        ("GET /items: p95<=100ms", "GET /items", "p95", "<=", 100.0),
        ("rps>=900", None, "rps", ">=", 900.0),
        ("checks>99%", None, "checks", ">", 0.99),
        ("dropped<1", None, "dropped", "<", 1.0),
    ],
)
def test_grammar(text: str, scope: str | None, metric: str, op: str, value: float) -> None:
    th = parse_threshold(text)
    assert (th.scope, th.metric, th.op) == (scope, metric, op)
    assert th.value == pytest.approx(value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("p99<", "expected"),
        ("p42<3ms", "unknown metric"),
        ("p99<300", "needs a unit"),
        ("error_rate<3ms", "percentage"),
        ("rps>=9ms", "plain number"),
        ("p99=3ms", "expected"),
    ],
)
def test_bad_thresholds(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_threshold(text)


def _summary(p99: float, errors: int, requests: int) -> dict[str, object]:
    return {
        "requests": requests,
        "errors": errors,
        "error_rate": errors / requests if requests else 0.0,
        "rps": requests / 10,
        "dropped": 0,
        "latency_ms": {
            "p50": p99 / 4,
            "p90": p99 / 2,
            "p95": p99 / 1.5,
            "p99": p99,
            "p99.9": p99,
            "max": p99,
            "mean": p99 / 3,
            "min": 0.1,
        },
    }


def test_evaluate_overall_and_scoped() -> None:
    totals = _summary(250.0, 5, 1000)
    by_name = {"GET /a": _summary(120.0, 0, 500), "GET /b": _summary(400.0, 5, 500)}
    results = evaluate(
        tuple(
            parse_threshold(t)
            for t in [
                "p99<300ms",
                "GET /b: p99<300ms",
                "error_rate<1%",
                "GET /a: error_rate<=0%",
                "GET /c: p99<1s",
                "rps>=200",
            ]
        ),
        totals,
        by_name,
    )
    assert [r.passed for r in results] == [True, False, True, True, False, False]
    assert results[1].observed == 400.0
    assert results[4].observed is None  # a scope without traffic fails
