from __future__ import annotations

import pytest

from perflab.errors import UsageError
from perflab.load.http.exchange import ErrorKind, Exchange
from perflab.load.script import checks
from perflab.load.script.jsonpath import compile_path, find, find_all
from perflab.load.script.response import Response

DOC = {
    "token": "abc",
    "items": [{"id": 1, "tags": ["a"]}, {"id": 2, "tags": []}, {"id": 3}],
    "meta": {"page": {"n": 7}, "odd key": True},
}


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("$.token", ["abc"]),
        ("$.items[0].id", [1]),
        ("$.items[-1].id", [3]),
        ("$.items[*].id", [1, 2, 3]),
        ("$..id", [1, 2, 3]),
        ("$.meta.page.n", [7]),
        ("$['meta']['odd key']", [True]),
        ('$["token"]', ["abc"]),
        ("$.meta.*", [{"n": 7}, True]),
        ("$.missing", []),
        ("$.items[9].id", []),
        ("$", [DOC]),
    ],
)
def test_find_all(expr: str, expected: list[object]) -> None:
    assert find_all(DOC, expr) == expected


def test_find_default_and_miss() -> None:
    assert find(DOC, "$.nope", None) is None
    with pytest.raises(KeyError, match=r"\$\.nope"):
        find(DOC, "$.nope")


@pytest.mark.parametrize("bad", ["token", "$.items[", "$.a[?(@.x)]", "$.items[1:2]"])
def test_bad_paths_are_usage_errors(bad: str) -> None:
    with pytest.raises(UsageError, match="JSON path"):
        compile_path(bad)


def _response(
    status: int = 200,
    body: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
    elapsed_ms: int = 5,
) -> Response:
    ex = Exchange(
        status=status,
        body=body,
        headers=headers or [],
        queued_ns=1,
        done_ns=1 + elapsed_ms * 1_000_000,
    )
    return Response(ex, "GET", "http://x/", "GET /")


def test_checks_pass_and_fail() -> None:
    r = _response(
        201,
        b'{"id": 7, "name": "lamp"}',
        [(b"Content-Type", b"application/json"), (b"X-Id", b"7")],
    )
    assert checks.status(201)(r)
    assert checks.status(200, 201)(r)
    assert not checks.status(200)(r)
    assert checks.status()(r)  # any 2xx
    assert checks.header("content-type", contains="json")(r)
    assert checks.header("X-Id", equals="7")(r)
    assert not checks.header("x-missing")(r)
    assert checks.header("x-id", regex=r"^\d+$")(r)
    assert checks.body_contains("lamp")(r)
    assert not checks.body_contains("chair")(r)
    assert checks.body_regex(r'"id":\s*\d+')(r)
    assert checks.json_path("$.id", equals=7)(r)
    assert not checks.json_path("$.id", equals=8)(r)
    assert checks.json_path("$.name")(r)
    assert not checks.json_path("$.nope")(r)
    assert checks.latency_under("50ms")(r)
    assert not checks.latency_under(0.001)(r)
    assert checks.check("custom", lambda resp: resp.json()["id"] > 5)(r)


def test_a_check_on_a_non_json_body_fails_instead_of_raising() -> None:
    r = _response(500, b"<html>oops</html>")
    assert not checks.json_path("$.id")(r)
    assert not checks.status(200)(r)


def test_check_names_are_stable_and_overridable() -> None:
    assert checks.status(200).name == "status 200"
    assert checks.json_path("$.id", equals=1).name == checks.json_path("$.id", equals=2).name
    assert checks.status(200, name="ok").name == "ok"


def test_failed_exchange_response() -> None:
    r = Response(Exchange(error=ErrorKind.REFUSED, error_detail="ECONNREFUSED"), "GET", "u", "n")
    assert not r.ok and r.status == 0 and r.error is ErrorKind.REFUSED
    assert r.body == b"" and r.headers == {}
    assert r.json_path("$.x", None) is None


def test_response_correlation_helpers() -> None:
    r = _response(
        200,
        b'<input name="csrf" value="t0k3n"> {"x": 1}',
        [(b"Set-Cookie", b"a=1"), (b"Set-Cookie", b"b=2"), (b"Location", b"/next")],
    )
    assert r.regex(r'name="csrf" value="([^"]+)"') == "t0k3n"
    assert r.regex(r"nothing(here)", default="-") == "-"
    with pytest.raises(KeyError):
        r.regex(r"nothing(here)")
    assert r.header("location") == "/next"
    assert r.header_values("set-cookie") == ["a=1", "b=2"]
    assert r.headers["set-cookie"] == "a=1, b=2"
