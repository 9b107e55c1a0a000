"""Access logs and HAR files into replay plans: parsing, skips, names, timing and errors."""

from __future__ import annotations

import gzip
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from perflab.errors import UsageError
from perflab.load.executors import ReplayWork
from perflab.load.http.url import Origin
from perflab.load.replay import group_path, load_replay, parse_speed, rates, read_replay
from perflab.load.replay.names import MAX_NAMES
from perflab.model import HttpRequest, LoadModel, LoadProfile, RunSpec, Stage
from perflab.model.replay import ReplayPlan

T0 = 1_700_000_000  # 2023-11-14T22:13:20Z
_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def stamp(epoch: int, tz: str = "+0000") -> str:
    """``[time_local]`` of nginx/Apache for ``epoch`` shown in timezone ``tz``."""
    sign = 1 if tz[0] == "+" else -1
    shift = sign * (int(tz[1:3]) * 3600 + int(tz[3:5]) * 60)
    tm = time.gmtime(epoch + shift)
    return (
        f"{tm.tm_mday:02d}/{_MONTHS[tm.tm_mon - 1]}/{tm.tm_year}:"
        f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d} {tz}"
    )


def combined(epoch: int, request: str, *, tz: str = "+0000", extra: str = "") -> str:
    return (
        f'203.0.113.9 - frank [{stamp(epoch, tz)}] "{request}" 200 2326 '
        f'"https://ref.example/" "Mozilla/5.0 (X11)"{extra}'
    )


def common(epoch: int, request: str) -> str:
    return f'127.0.0.1 - - [{stamp(epoch)}] "{request}" 200 -'


def write(tmp_path: Path, lines: list[str], name: str = "access.log") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def offsets(plan: ReplayPlan) -> list[float]:
    return [round(e.offset_s, 9) for e in plan.entries]


# ---- access logs ----------------------------------------------------------------------


def test_combined_keeps_method_path_and_query(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        [
            combined(T0, "GET /a.gif?x=1&y=%20 HTTP/1.0"),
            combined(T0 + 1, "POST /api/orders/42 HTTP/1.1"),
            combined(T0 + 2, "DELETE /api/orders/42?force=true HTTP/2.0"),
        ],
    )
    parsed = read_replay(path)
    plan = parsed.plan
    assert parsed.format == "combined"
    assert [(e.method, e.path, e.name) for e in plan.entries] == [
        ("GET", "/a.gif?x=1&y=%20", "GET /a.gif"),
        ("POST", "/api/orders/42", "POST /api/orders/{id}"),
        ("DELETE", "/api/orders/42?force=true", "DELETE /api/orders/{id}"),
    ]
    assert offsets(plan) == [0.0, 1.0, 2.0]
    assert plan.lines == 3 and plan.skipped == () and plan.source == str(path)
    assert all(e.headers == () and e.body == b"" for e in plan.entries)


def test_common_format_is_detected(tmp_path: Path) -> None:
    path = write(tmp_path, [common(T0, "GET /x HTTP/1.1"), common(T0 + 3, "HEAD /y HTTP/1.1")])
    parsed = read_replay(path)
    assert parsed.format == "common"
    assert [(e.method, e.path) for e in parsed.plan.entries] == [("GET", "/x"), ("HEAD", "/y")]
    assert offsets(parsed.plan) == [0.0, 3.0]


def test_timezones_are_honoured(tmp_path: Path) -> None:
    """The same instant logged in two zones is the same moment."""
    path = write(
        tmp_path,
        [combined(T0, "GET /a HTTP/1.1", tz="-0700"), combined(T0 + 5, "GET /b HTTP/1.1")],
    )
    assert offsets(load_replay(path)) == [0.0, 5.0]


def test_requests_sharing_a_second_are_spread_evenly(tmp_path: Path) -> None:
    lines = [combined(T0, f"GET /s0/{i} HTTP/1.1") for i in range(4)]
    lines += [combined(T0 + 1, "GET /s1 HTTP/1.1")]
    lines += [combined(T0 + 3, f"GET /s3/{i} HTTP/1.1") for i in range(2)]
    plan = load_replay(write(tmp_path, lines))
    assert offsets(plan) == [0.0, 0.25, 0.5, 0.75, 1.0, 3.0, 3.5]
    assert [e.path for e in plan.entries][:4] == [f"/s0/{i}" for i in range(4)]  # log order


def test_out_of_order_lines_are_sorted_by_time(tmp_path: Path) -> None:
    """Several server processes write one log; a line may come a second late."""
    lines = [
        combined(T0 + 1, "GET /b HTTP/1.1"),
        combined(T0, "GET /a HTTP/1.1"),
        combined(T0 + 2, "GET /c HTTP/1.1"),
    ]
    plan = load_replay(write(tmp_path, lines))
    assert [e.path for e in plan.entries] == ["/a", "/b", "/c"]
    assert offsets(plan) == [0.0, 1.0, 2.0]


def test_msec_field_gives_exact_times(tmp_path: Path) -> None:
    lines = [
        combined(T0, "GET /a HTTP/1.1", extra=f" {T0}.250 0.003"),
        combined(T0, "GET /b HTTP/1.1", extra=f" {T0}.900 0.010"),
        combined(T0 + 1, "GET /c HTTP/1.1", extra=f" {T0 + 1}.050 0.001"),
    ]
    plan = load_replay(write(tmp_path, lines))
    assert [round(e.offset_s, 3) for e in plan.entries] == [0.0, 0.65, 0.8]


def test_unparsable_lines_are_counted_with_numbers_and_reasons(tmp_path: Path) -> None:
    lines = [
        combined(T0, "GET /ok HTTP/1.1"),  # 1
        combined(T0, "-"),  # 2
        combined(T0, r"\x16\x03\x01\x02\x00\x01\x00\x01\xFC\x03\x03"),  # 3
        "this is not a log line at all",  # 4
        "",  # 5: blank, neither a request nor a skip
        combined(T0, "get /lower HTTP/1.1"),  # 6
        combined(T0, "GET relative/path HTTP/1.1"),  # 7
        combined(T0, "GET /a b HTTP/1.1"),  # 8
        '1.2.3.4 - - [31/Foo/2023:10:00:00 +0000] "GET /t HTTP/1.1" 200 1',  # 9
        combined(T0, "OPTIONS * HTTP/1.1"),  # 10
        combined(T0 + 1, "GET /ok2 HTTP/1.1"),  # 11
    ]
    plan = load_replay(write(tmp_path, lines))
    assert [e.path for e in plan.entries] == ["/ok", "/ok2"]
    assert plan.lines == 11
    skipped = dict(plan.skipped)
    assert sorted(skipped) == [2, 3, 4, 6, 7, 8, 9, 10]
    assert "no request line" in skipped[2]
    assert "TLS" in skipped[3]
    assert skipped[4] == "not a common or combined log line"
    assert skipped[6] == "invalid method 'get'"
    assert "not a path" in skipped[7] and "relative/path" in skipped[7]
    assert "bad request line" in skipped[8]
    assert "bad timestamp" in skipped[9]
    assert "'*'" in skipped[10]


def test_skip_reasons_never_quote_a_query(tmp_path: Path) -> None:
    secret = "tok-9f8e7d6c5b4a"
    lines = [
        combined(T0, f"GET /a?access_token={secret} HTTP/1.1 extra"),
        combined(T0, "GET /ok HTTP/1.1"),
    ]
    plan = load_replay(write(tmp_path, lines))
    assert len(plan.skipped) == 1
    assert secret not in plan.skipped[0][1] and "?…" in plan.skipped[0][1]


def test_absolute_form_and_escaped_targets(tmp_path: Path) -> None:
    lines = [
        combined(T0, "GET http://origin.example:8080/p/q?x=1 HTTP/1.1"),
        combined(T0 + 1, r"GET /caf\xC3\xA9/\x22q\x22 HTTP/1.1"),
    ]
    plan = load_replay(write(tmp_path, lines))
    assert [e.path for e in plan.entries] == ["/p/q?x=1", '/caf%C3%A9/"q"']
    assert all(e.path.isascii() and " " not in e.path for e in plan.entries)


def test_gzip_is_read_transparently(tmp_path: Path) -> None:
    lines = [combined(T0 + i, f"GET /g/{i} HTTP/1.1") for i in range(50)]
    plain = load_replay(write(tmp_path, lines))
    for name in ("access.log.gz", "access.log.1"):  # by content, not by name
        path = tmp_path / name
        with gzip.open(path, "wt") as f:
            f.write("\n".join(lines) + "\n")
        packed = load_replay(path)
        assert packed.entries == plain.entries and packed.lines == 50


def test_truncated_gzip_keeps_what_was_read(tmp_path: Path) -> None:
    lines = [combined(T0 + i // 100, f"GET /t/{i} HTTP/1.1") for i in range(20_000)]
    whole = gzip.compress(("\n".join(lines) + "\n").encode())
    path = tmp_path / "cut.log.gz"
    path.write_bytes(whole[: len(whole) * 3 // 4])
    parsed = read_replay(path)
    assert 1000 < len(parsed.plan.entries) < 20_000
    assert any("ends early" in note for note in parsed.notes)


def test_limit_keeps_the_first_requests(tmp_path: Path) -> None:
    lines = [combined(T0 + i, f"GET /l/{i} HTTP/1.1") for i in range(2000)]
    plan = load_replay(write(tmp_path, lines), limit=1500)
    assert len(plan.entries) == 1500
    assert plan.entries[-1].path == "/l/1499"


# ---- names ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "route"),
    [
        ("/", "/"),
        ("/items/42", "/items/{id}"),
        ("/items/42/reviews/7?page=2", "/items/{id}/reviews/{id}"),
        ("/u/550e8400-e29b-41d4-a716-446655440000/x", "/u/{id}/x"),
        ("/obj/5f1d7c3a9b2e4d6f8a1c3e5b", "/obj/{id}"),
        ("/blob/da39a3ee5e6b4b0d3255bfef95601890afd80709", "/blob/{id}"),
        ("/static/app.js", "/static/app.js"),
        ("/v2/cafe", "/v2/cafe"),  # short hex word: a route
        ("/decade/abcdefabcdefab", "/decade/abcdefabcdefab"),  # no digit: a word
        ("/a/12ab", "/a/12ab"),  # short mixed token: kept
        ("/report-2023.csv", "/report-2023.csv"),
    ],
)
def test_group_path(path: str, route: str) -> None:
    assert group_path(path) == route


def test_names_collapse_ids_but_paths_are_kept(tmp_path: Path) -> None:
    lines = [combined(T0 + i, f"GET /users/{1000 + i}/orders?n={i} HTTP/1.1") for i in range(300)]
    plan = load_replay(write(tmp_path, lines))
    assert {e.name for e in plan.entries} == {"GET /users/{id}/orders"}
    assert len({e.path for e in plan.entries}) == 300


def test_too_many_names_fold_the_rarest(tmp_path: Path) -> None:
    """Slugs are not ids: a log full of them is bounded to MAX_NAMES names (+ one per method)."""
    lines = [combined(T0, "GET /home HTTP/1.1") for _ in range(50)]
    lines += [
        combined(T0 + 1, f"GET /products/shoe-model-{chr(97 + i % 26)}{i // 26} HTTP/1.1")
        for i in range(400)
    ]
    lines += [combined(T0 + 2, "POST /cart/add HTTP/1.1") for _ in range(5)]
    parsed = read_replay(write(tmp_path, lines))
    names = Counter(e.name for e in parsed.plan.entries)
    assert len(parsed.plan.entries) == 455
    assert len(names) == MAX_NAMES + 1  # the kept ones and "GET (other)"
    assert names["GET /home"] == 50 and names["POST /cart/add"] == 5
    assert names["GET (other)"] == 400 - (MAX_NAMES - 2)
    assert any("402 distinct request names" in note for note in parsed.notes)
    assert parsed.plan.entries[-1].path == "/cart/add"  # paths are untouched


# ---- timing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "factor"), [("2x", 2.0), ("0.5x", 0.5), ("2", 2.0), (" 10X ", 10.0), (".5", 0.5)]
)
def test_parse_speed(text: str, factor: float) -> None:
    assert parse_speed(text) == factor


@pytest.mark.parametrize("text", ["fast", "0", "0x", "-2x", "2xx", "", "x2"])
def test_parse_speed_rejects(text: str) -> None:
    with pytest.raises(UsageError, match="bad speed"):
        parse_speed(text)


def test_speed_divides_offsets(tmp_path: Path) -> None:
    lines = [combined(T0 + 2 * i, f"GET /s/{i} HTTP/1.1") for i in range(5)]
    path = write(tmp_path, lines)
    assert offsets(load_replay(path, speed=2.0)) == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert offsets(load_replay(path, speed=0.5)) == [0.0, 4.0, 8.0, 12.0, 16.0]


def test_rate_retimes_keeping_order(tmp_path: Path) -> None:
    lines = [combined(T0 + i * i, f"GET /r/{i} HTTP/1.1") for i in range(6)]
    plan = load_replay(write(tmp_path, lines), rate=100.0)
    assert offsets(plan) == [0.0, 0.01, 0.02, 0.03, 0.04, 0.05]
    assert [e.path for e in plan.entries] == [f"/r/{i}" for i in range(6)]
    mean, peak = rates(plan)
    assert peak == 6.0 and mean == 6.0  # all within the first second


def test_rates_mean_and_peak(tmp_path: Path) -> None:
    lines = [combined(T0, f"GET /p/{i} HTTP/1.1") for i in range(10)]
    lines += [combined(T0 + s, "GET /q HTTP/1.1") for s in range(1, 11)]
    plan = load_replay(write(tmp_path, lines))
    mean, peak = rates(plan)
    assert plan.duration_s == 10.0
    assert mean == pytest.approx(20 / 10.0) and peak == 10.0


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"speed": 2.0, "rate": 10.0}, "not both"),
        ({"speed": 0.0}, "bad speed"),
        ({"rate": -1.0}, "bad rate"),
        ({"limit": 0}, "bad --limit"),
    ],
)
def test_bad_timing_options(tmp_path: Path, kwargs: dict[str, Any], needle: str) -> None:
    path = write(tmp_path, [combined(T0, "GET / HTTP/1.1")])
    with pytest.raises(UsageError, match=needle):
        load_replay(path, **kwargs)


# ---- HAR ------------------------------------------------------------------------------


def har_entry(
    started: str,
    method: str,
    url: str,
    headers: tuple[tuple[str, str], ...] = (),
    post: dict[str, Any] | None = None,
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "method": method,
        "url": url,
        "httpVersion": "HTTP/2",
        "headers": [{"name": k, "value": v} for k, v in headers],
        "queryString": [],
        "cookies": [],
        "headersSize": -1,
        "bodySize": 0,
    }
    if post is not None:
        request["postData"] = post
    return {"startedDateTime": started, "time": 12.5, "request": request, "response": {}}


def write_har(tmp_path: Path, entries: list[Any], name: str = "session.har") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"log": {"version": "1.2", "creator": {}, "entries": entries}}))
    return path


HAR_ENTRIES = [
    har_entry(
        "2024-03-01T10:00:00.500Z",
        "POST",
        "https://shop.example/api/cart/991?src=web",
        (
            (":authority", "shop.example"),
            (":method", "POST"),
            ("Host", "shop.example"),
            ("Content-Length", "17"),
            ("Connection", "keep-alive"),
            ("Content-Type", "application/json"),
            ("Authorization", "Bearer s3cr3t"),
            ("Cookie", "sid=abc123"),
        ),
        {"mimeType": "application/json", "text": '{"sku": "A-1", "n": 2}'},
    ),
    har_entry("2024-03-01T10:00:00.000Z", "GET", "https://shop.example/?q=shoes"),
    har_entry("2024-03-01T11:00:01.250+01:00", "GET", "https://cdn.example/img/a.png"),
    har_entry("2024-03-01T10:00:02.000Z", "GET", "wss://shop.example/live"),
    har_entry(
        "2024-03-01T10:00:03.000Z",
        "POST",
        "https://shop.example/login",
        (("X-Bad", "caf\u00e9 \u2603"),),
        {
            "mimeType": "application/x-www-form-urlencoded",
            "params": [{"name": "u", "value": "a b"}],
        },
    ),
    {"startedDateTime": "yesterday", "request": {"method": "GET", "url": "https://x/"}},
    "not an object",
]


def test_har_requests_headers_bodies_and_timing(tmp_path: Path) -> None:
    parsed = read_replay(write_har(tmp_path, HAR_ENTRIES))
    plan = parsed.plan
    assert parsed.format == "har" and parsed.unit == "entry" and plan.lines == 7
    assert [(e.method, e.path) for e in plan.entries] == [
        ("GET", "/?q=shoes"),
        ("POST", "/api/cart/991?src=web"),
        ("GET", "/img/a.png"),
        ("POST", "/login"),
    ]
    assert offsets(plan) == [0.0, 0.5, 1.25, 3.0]
    cart = plan.entries[1]
    assert cart.name == "POST /api/cart/{id}"
    assert cart.headers == (
        ("Content-Type", "application/json"),
        ("Authorization", "Bearer s3cr3t"),
        ("Cookie", "sid=abc123"),
    )
    assert cart.body == b'{"sku": "A-1", "n": 2}'
    login = plan.entries[3]
    assert login.body == b"u=a+b" and login.headers == ()
    assert dict(plan.skipped).keys() == {4, 6, 7}
    assert "'wss'" in dict(plan.skipped)[4]
    assert any("1 request(s) were recorded for other origins" in n for n in parsed.notes)
    assert any("X-Bad" in n for n in parsed.notes)
    assert not any("s3cr3t" in n or "caf" in n for n in parsed.notes)


def test_har_entries_become_valid_wire_requests(tmp_path: Path) -> None:
    """What the worker sends: the same code path as ReplayWork, against the --target origin."""
    plan = load_replay(write_har(tmp_path, HAR_ENTRIES))
    work = ReplayWork(plan.entries, Origin("http", "127.0.0.1", 8080))
    wires = [work.pick()[1] for _ in plan.entries]
    head, _, body = wires[1].partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /api/cart/991?src=web HTTP/1.1"
    assert b"Host: 127.0.0.1:8080" in lines
    assert b"Content-Length: 22" in lines and b"Cookie: sid=abc123" in lines
    assert not any(line.startswith((b":", b"Connection")) for line in lines)
    assert body == b'{"sku": "A-1", "n": 2}'


def test_har_gzipped(tmp_path: Path) -> None:
    plain = write_har(tmp_path, HAR_ENTRIES)
    packed = tmp_path / "session.har.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert load_replay(packed).entries == load_replay(plain).entries


# ---- errors and the stored form -------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("Lorem ipsum dolor sit amet\nconsectetur adipiscing\n", "unknown format"),
        ("\x00\x01\x02binary\x00\n", "binary"),
        ("", "it is empty"),
        ('{"log": {"entries": 3}}', "no log.entries"),
        ('{"log": {"entries": [', "not a valid HAR file"),
    ],
)
def test_unreadable_files_are_one_line_usage_errors(
    tmp_path: Path, content: str, needle: str
) -> None:
    path = tmp_path / "input"
    path.write_text(content)
    with pytest.raises(UsageError, match=needle) as info:
        load_replay(path)
    assert "\n" not in info.value.one_line()


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        load_replay(tmp_path / "nope.log")
    with pytest.raises(UsageError, match="is a directory"):
        load_replay(tmp_path)


def test_nothing_parsed_names_the_first_reasons(tmp_path: Path) -> None:
    lines = [combined(T0, "-"), combined(T0, "get /x HTTP/1.1"), combined(T0, "-")]
    with pytest.raises(UsageError) as info:
        load_replay(write(tmp_path, lines))
    message = info.value.one_line()
    assert "no request could be parsed" in message
    assert "line 1: no request line" in message and "line 2: invalid method 'get'" in message


def test_to_config_stores_the_skip_report_without_secrets(tmp_path: Path) -> None:
    plan = load_replay(write_har(tmp_path, HAR_ENTRIES))
    spec = RunSpec(
        requests=(HttpRequest(url="http://127.0.0.1:8080/"),),
        load=LoadProfile(LoadModel.OPEN, (Stage(plan.duration_s + 0.5, 1.0),), start=1.0),
        replay=plan,
    )
    config = spec.to_config()["replay"]
    assert config["requests"] == 4 and config["lines"] == 7 and config["skipped"] == 3
    assert [n for n, _ in config["skipped_examples"]] == [4, 6, 7]
    text = json.dumps(spec.to_config())
    assert "s3cr3t" not in text and "abc123" not in text
