from __future__ import annotations

from pathlib import Path

import pytest

from perflab.errors import UsageError
from perflab.load.script import feeders
from perflab.load.script.cookies import CookieJar
from perflab.load.script.feeders import FeederExhausted, csv_feeder, feeder, jsonl_feeder


def test_cookie_jar_scopes_by_host_path_and_secure() -> None:
    jar = CookieJar()
    jar.update_from(
        ["sid=1; Path=/", "cart=9; Path=/cart", "pref=x; Secure", "wide=w; Domain=example.com"],
        "shop.example.com",
        "/login",
    )
    assert jar.header("shop.example.com", "/items", secure=False) == "sid=1; wide=w"
    assert set(jar.header("shop.example.com", "/cart/1", secure=True).split("; ")) == {
        "sid=1",
        "cart=9",
        "pref=x",
        "wide=w",
    }
    assert jar.header("other.example.com", "/", secure=False) == "wide=w"
    assert jar.header("elsewhere.org", "/", secure=False) == ""
    assert jar.header("shop.example.com", "/cartoon", secure=False) == "sid=1; wide=w"


def test_cookie_jar_replaces_and_deletes() -> None:
    jar = CookieJar()
    jar.update_from(["sid=1; Path=/"], "h", "/")
    jar.update_from(["sid=2; Path=/"], "h", "/")
    assert jar.header("h", "/", secure=False) == "sid=2"
    jar.update_from(["sid=; Max-Age=0; Path=/"], "h", "/")
    assert jar.header("h", "/", secure=False) == ""
    jar.update_from(["evil=1; Domain=other.org"], "h", "/")  # not for this host: ignored
    assert not jar


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.fixture
def ctx(tmp_path: Path):  # type: ignore[no-untyped-def]
    saved = (feeders.CONTEXT.base_dir, feeders.CONTEXT.worker, feeders.CONTEXT.workers)
    feeders.CONTEXT.base_dir = tmp_path
    yield feeders.CONTEXT
    feeders.CONTEXT.base_dir, feeders.CONTEXT.worker, feeders.CONTEXT.workers = saved


def test_sequential_wraps_and_unique_runs_out(tmp_path: Path, ctx: feeders.FeederContext) -> None:
    _write(tmp_path, "u.csv", "name,pw\na,1\nb,2\nc,3\n")
    seq = csv_feeder("u.csv")
    assert [seq.next()["name"] for _ in range(5)] == ["a", "b", "c", "a", "b"]
    uniq = csv_feeder("u.csv", mode="unique")
    assert [uniq.next()["name"] for _ in range(3)] == ["a", "b", "c"]
    with pytest.raises(FeederExhausted, match="ran out of unique rows after 3"):
        uniq.next()


def test_unique_rows_are_split_between_workers(tmp_path: Path, ctx: feeders.FeederContext) -> None:
    _write(tmp_path, "u.jsonl", "".join(f'{{"n": {i}}}\n' for i in range(7)))
    seen = []
    for worker in range(3):
        ctx.worker, ctx.workers = worker, 3
        f = jsonl_feeder("u.jsonl", mode="unique")
        while True:
            try:
                seen.append(f.next()["n"])
            except FeederExhausted:
                break
    assert sorted(seen) == list(range(7))


def test_random_mode_is_repeatable(tmp_path: Path, ctx: feeders.FeederContext) -> None:
    _write(tmp_path, "u.csv", "k\n" + "".join(f"{i}\n" for i in range(50)))
    a = [csv_feeder("u.csv", mode="random").next()["k"] for _ in range(1)]
    b = [csv_feeder("u.csv", mode="random").next()["k"] for _ in range(1)]
    assert a == b


def test_feeder_errors(tmp_path: Path, ctx: feeders.FeederContext) -> None:
    with pytest.raises(UsageError, match="not found"):
        csv_feeder("missing.csv")
    _write(tmp_path, "u.csv", "a\n1\n")
    with pytest.raises(UsageError, match="unknown mode"):
        csv_feeder("u.csv", mode="shuffled")
    _write(tmp_path, "bad.jsonl", '{"a": 1}\nnot json\n')
    with pytest.raises(UsageError, match=r"bad.jsonl:2: not valid JSON"):
        jsonl_feeder("bad.jsonl")
    _write(tmp_path, "empty.csv", "a,b\n")
    with pytest.raises(UsageError, match="no rows"):
        csv_feeder("empty.csv")
    with pytest.raises(UsageError, match="unknown file type"):
        feeder("data.xml")
