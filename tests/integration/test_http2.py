"""The HTTP/2 client against real servers on 127.0.0.1: hypercorn (h2c and TLS + ALPN), an
HTTP/1.1-only server, and a fault-injecting h2 server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
import uvloop
from tests.servers.h2faulty import MAX_STREAMS as FAULTY_MAX_STREAMS
from tests.servers.h2server import BIG

from perflab.load.h2 import H2Pool, make_h2_ssl_context
from perflab.load.h2.request import request_headers
from perflab.load.http import ErrorKind, Exchange, Origin, parse_url

pytest_plugins = ["tests.integration.h2ws_fixtures"]

T = TypeVar("T")
PoolTest = Callable[[H2Pool], Awaitable[T]]


def run_with_pool(base_url: str, test: PoolTest[T], **pool_kw: Any) -> T:
    """Run ``test(pool)`` on a fresh uvloop loop, with an H2Pool for ``base_url``'s origin."""

    async def main() -> T:
        pool = H2Pool(parse_url(base_url).origin, loop=asyncio.get_running_loop(), **pool_kw)
        try:
            return await test(pool)
        finally:
            await pool.aclose()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main())


def assert_phases(ex: Exchange) -> None:
    assert ex.error is None, (ex.error, ex.error_detail)
    assert 0 < ex.queued_ns <= ex.start_ns <= ex.sent_ns <= ex.first_byte_ns <= ex.done_ns
    if ex.new_connection:
        assert ex.connect_ns > 0
        assert ex.start_ns + ex.connect_ns + ex.tls_ns <= ex.sent_ns
    else:
        assert ex.connect_ns == 0 and ex.tls_ns == 0


def submit_all(pool: H2Pool, count: int, path: str, **kw: Any) -> asyncio.Future[list[Exchange]]:
    """Submit ``count`` requests at once through the callback API; resolves when all are done."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[list[Exchange]] = loop.create_future()
    done: list[Exchange] = []

    def on_done(ex: Exchange) -> None:
        done.append(ex)
        if len(done) == count:
            future.set_result(done)

    for _ in range(count):
        pool.submit("GET", path, (), b"", on_done, **kw)
    return future


# ------------------------------------------------------------------------ header lists


def test_request_headers_translate_an_http11_header_set() -> None:
    origin = Origin("https", "example.test", 8443)
    given = (
        ("Host", "other.test"),
        ("Connection", "keep-alive"),
        ("Keep-Alive", "5"),
        ("Transfer-Encoding", "chunked"),
        ("Upgrade", "h2c"),
        ("TE", "gzip"),
        ("X-Trace", "abc"),
    )
    fields = request_headers(origin, "POST", "/p?q=1", given, 3)
    assert fields[:4] == (
        (b":method", b"POST"),
        (b":scheme", b"https"),
        (b":authority", b"other.test"),
        (b":path", b"/p?q=1"),
    )
    names = [name for name, _ in fields]
    assert b"content-length" in names and b"user-agent" in names
    assert (b"x-trace", b"abc") in fields
    for dropped in (b"host", b"connection", b"keep-alive", b"transfer-encoding", b"upgrade", b"te"):
        assert dropped not in names
    default = request_headers(origin, "GET", "/", (("te", "trailers"),), 0)
    assert (b":authority", b"example.test:8443") in default
    assert (b"te", b"trailers") in default
    assert b"content-length" not in [name for name, _ in default]


# ------------------------------------------------------------------------ hypercorn


def test_h2c_prior_knowledge_fills_the_exchange(h2c_url: str) -> None:
    async def test(pool: H2Pool) -> list[Exchange]:
        return [await pool.request("GET", "/hello") for _ in range(2)]

    first, second = run_with_pool(h2c_url, test)
    for ex in (first, second):
        assert_phases(ex)
        assert ex.status == 200 and ex.body == b"Hello, world!"
        assert ex.headers is not None and (b"x-http-version", b"2") in ex.headers
        assert all(name == name.lower() and name[:1] != b":" for name, _ in ex.headers)
        assert ex.bytes_in > len(b"Hello, world!")
    assert first.new_connection and first.tls_ns == 0
    assert not second.new_connection


def test_tls_with_alpn_h2(h2_tls_url: str, tls_ca_file: str) -> None:
    async def test(pool: H2Pool) -> tuple[Exchange, int]:
        return await pool.request("GET", "/hello"), pool.connects_total

    context = make_h2_ssl_context(ca_file=tls_ca_file)
    ex, connects = run_with_pool(h2_tls_url, test, ssl_context=context)
    assert_phases(ex)
    assert ex.status == 200 and ex.body == b"Hello, world!" and ex.tls_ns > 0
    assert ex.headers is not None and (b"x-http-version", b"2") in ex.headers
    assert connects == 1


def test_concurrent_requests_share_one_connection(h2c_url: str) -> None:
    async def test(pool: H2Pool) -> tuple[list[Exchange], list[Exchange], float, int, int]:
        burst = await submit_all(pool, 100, "/hello")
        started = time.perf_counter()
        slow = await submit_all(pool, 20, "/slow?ms=200")
        return burst, slow, time.perf_counter() - started, pool.connects_total, pool.open

    burst, slow, elapsed, connects, open_now = run_with_pool(h2c_url, test)
    assert [ex.status for ex in burst] == [200] * 100
    assert [ex.status for ex in slow] == [200] * 20
    assert connects == 1 and open_now == 1
    assert sum(ex.new_connection for ex in burst) == 1
    # 20 x 200 ms in well under 20 x 200 ms: the streams overlapped on the one connection.
    assert elapsed < 1.0
    assert max(ex.sent_ns for ex in slow) < min(ex.first_byte_ns for ex in slow)
    for ex in slow:
        assert ex.done_ns - ex.sent_ns >= 200_000_000


def test_one_megabyte_body_arrives_complete(h2c_url: str) -> None:
    async def test(pool: H2Pool) -> tuple[Exchange, Exchange]:
        kept = await pool.request("GET", "/big")
        counted = await pool.request("GET", "/big", keep_body=False)
        return kept, counted

    kept, counted = run_with_pool(h2c_url, test)
    assert kept.status == 200 and kept.body == BIG
    assert counted.status == 200 and counted.body is None and counted.headers is None
    assert counted.bytes_in > len(BIG)


def test_post_body_larger_than_the_send_window_is_echoed(h2c_url: str) -> None:
    body = bytes(range(256)) * 1200  # 300 KiB: more than the server's 64 KiB initial window
    headers = (("X-Echo", "hi"), ("Connection", "keep-alive"), ("Content-Type", "text/plain"))

    async def test(pool: H2Pool) -> Exchange:
        return await pool.request("POST", "/echo", headers, body)

    ex = run_with_pool(h2c_url, test)
    assert_phases(ex)
    assert ex.status == 200 and ex.body == body
    assert ex.headers is not None
    assert (b"x-echo", b"hi") in ex.headers and (b"x-method", b"POST") in ex.headers


def test_error_statuses_are_responses_not_errors(h2c_url: str) -> None:
    async def test(pool: H2Pool) -> list[Exchange]:
        return [await pool.request("GET", path) for path in ("/nowhere", "/status/503")]

    missing, unavailable = run_with_pool(h2c_url, test)
    assert missing.error is None and missing.status == 404 and missing.body == b"not found"
    assert unavailable.error is None and unavailable.status == 503


def test_refused_port_is_refused(refused_url: str) -> None:
    calls: list[Exchange] = []

    async def test(pool: H2Pool) -> dict[str, int]:
        ex = await pool.request("GET", "/")
        calls.append(ex)
        await asyncio.sleep(0.01)  # a second on_done would land here
        return dict(pool.errors_by_errno)

    errnos = run_with_pool(refused_url, test)
    (ex,) = calls
    assert ex.error is ErrorKind.REFUSED and ex.status == 0 and ex.done_ns > 0
    assert errnos == {"ECONNREFUSED": 1}


def test_timeout_resets_the_stream_and_keeps_the_connection(h2c_url: str) -> None:
    async def test(pool: H2Pool) -> tuple[Exchange, Exchange, int]:
        late = await pool.request("GET", "/slow?ms=3000", timeout_s=0.2)
        after = await pool.request("GET", "/hello")
        return late, after, pool.connects_total

    started = time.perf_counter()
    late, after, connects = run_with_pool(h2c_url, test)
    assert late.error is ErrorKind.TIMEOUT and "0.2s" in late.error_detail
    assert 200_000_000 <= late.done_ns - late.start_ns < 1_000_000_000
    assert after.error is None and after.status == 200 and not after.new_connection
    assert connects == 1
    assert time.perf_counter() - started < 2.0


def test_http11_only_server_is_a_protocol_error(hello_url: str) -> None:
    async def test(pool: H2Pool) -> Exchange:
        return await pool.request("GET", "/")

    started = time.perf_counter()
    ex = run_with_pool(hello_url, test, request_timeout_s=5.0)
    assert ex.error is ErrorKind.PROTOCOL and "HTTP/1" in ex.error_detail
    assert time.perf_counter() - started < 2.0  # refused at once, not by the timeout


def test_tls_server_without_h2_is_a_protocol_error(hello_tls_url: str, tls_ca_file: str) -> None:
    async def test(pool: H2Pool) -> Exchange:
        return await pool.request("GET", "/")

    context = make_h2_ssl_context(ca_file=tls_ca_file)
    ex = run_with_pool(hello_tls_url, test, ssl_context=context, request_timeout_s=5.0)
    assert ex.error is ErrorKind.PROTOCOL
    assert ex.error_detail.startswith("server did not negotiate h2 (ALPN)")


def test_exhausted_stream_ids_move_to_a_new_connection(h2c_url: str) -> None:
    async def test(pool: H2Pool) -> tuple[list[Exchange], int, int]:
        first = await pool.request("GET", "/hello")
        (conn,) = pool._conns
        conn._mux.h2.highest_outbound_stream_id = 2**31 - 5  # as after ~1e9 requests
        rest = [await pool.request("GET", "/hello") for _ in range(3)]
        return [first, *rest], pool.connects_total, pool.open

    exchanges, connects, open_now = run_with_pool(h2c_url, test)
    assert [ex.status for ex in exchanges] == [200] * 4
    assert [ex.new_connection for ex in exchanges] == [True, False, False, True]
    assert connects == 2 and open_now == 1


def test_an_invalid_header_fails_the_exchange_instead_of_raising() -> None:
    async def test(pool: H2Pool) -> Exchange:
        return await pool.request("GET", "/", (("X-Bad", "a\r\nb"),))

    ex = run_with_pool("http://127.0.0.1:1", test)
    assert ex.error is ErrorKind.OTHER and "X-Bad" in ex.error_detail


def test_aclose_fails_what_is_in_flight_and_what_comes_after(h2c_url: str) -> None:
    async def test(pool: H2Pool) -> tuple[list[Exchange], Exchange]:
        pending = submit_all(pool, 3, "/slow?ms=2000")
        await asyncio.sleep(0.1)
        await pool.aclose()
        return await pending, await pool.request("GET", "/hello")

    in_flight, after = run_with_pool(h2c_url, test)
    for ex in (*in_flight, after):
        assert ex.error is ErrorKind.CLOSED and ex.error_detail == "pool closed"


# ------------------------------------------------------------------------ faults


@pytest.mark.parametrize("path", ["/goaway", "/goaway-first"])
def test_goaway_retries_the_streams_the_server_never_processed(
    h2_faulty_url: str, path: str
) -> None:
    """/goaway-first answers its stream after the GOAWAY: it must still complete."""

    async def test(pool: H2Pool) -> tuple[list[Exchange], int, int]:
        exchanges = await asyncio.gather(
            pool.request("GET", path), pool.request("GET", "/a"), pool.request("GET", "/b")
        )
        return exchanges, pool.connects_total, pool.retries_total

    (first, *others), connects, retries = run_with_pool(h2_faulty_url, test)
    assert first.error is None and not first.retried
    assert first.body is not None and first.body.startswith(b"conn ")
    for ex in others:
        assert ex.error is None and ex.retried and ex.status == 200
        assert ex.body is not None and ex.body != first.body  # answered on the new connection
    assert connects == 2 and retries == 2


@pytest.mark.parametrize(
    ("path", "kind", "detail"),
    [
        ("/reset", ErrorKind.RESET, "RST_STREAM INTERNAL_ERROR"),
        ("/garbage", ErrorKind.PROTOCOL, "HTTP/2 protocol error"),
    ],
)
def test_faults_are_classified(h2_faulty_url: str, path: str, kind: ErrorKind, detail: str) -> None:
    async def test(pool: H2Pool) -> Exchange:
        return await pool.request("GET", path)

    ex = run_with_pool(h2_faulty_url, test, request_timeout_s=5.0)
    assert ex.error is kind and ex.error_detail.startswith(detail), ex.error_detail
    assert ex.status == 0 and not ex.retried


def test_dropped_connection_fails_its_streams(h2_faulty_url: str) -> None:
    async def test(pool: H2Pool) -> tuple[Exchange, Exchange]:
        dropped = await pool.request("GET", "/drop")
        return dropped, await pool.request("GET", "/after")

    dropped, after = run_with_pool(h2_faulty_url, test, request_timeout_s=5.0)
    assert dropped.error in (ErrorKind.RESET, ErrorKind.CLOSED)
    assert after.error is None and after.new_connection  # the pool reconnected


def test_refused_stream_is_retried_once(h2_faulty_url: str) -> None:
    async def test(pool: H2Pool) -> tuple[Exchange, int]:
        return await pool.request("GET", "/refuse"), pool.retries_total

    ex, retries = run_with_pool(h2_faulty_url, test, request_timeout_s=5.0)
    assert ex.error is ErrorKind.RESET and ex.error_detail == "RST_STREAM REFUSED_STREAM"
    assert ex.retried and retries == 1


def test_max_concurrent_streams_is_honoured(h2_faulty_url: str) -> None:
    async def test(pool: H2Pool) -> tuple[list[Exchange], Exchange, float, int]:
        await pool.request("GET", "/warm")  # the server's SETTINGS are known from here on
        started = time.perf_counter()
        slow = await submit_all(pool, 3 * FAULTY_MAX_STREAMS, "/slow")
        elapsed = time.perf_counter() - started
        return slow, await pool.request("GET", "/peak"), elapsed, pool.connects_total

    slow, peak, elapsed, connects = run_with_pool(h2_faulty_url, test)
    assert all(ex.error is None and ex.status == 200 and not ex.retried for ex in slow)
    assert peak.body == str(FAULTY_MAX_STREAMS).encode()
    assert elapsed >= 3 * 0.05  # three waves of 50 ms
    assert connects == 1
    queued = [ex for ex in slow if ex.start_ns > ex.queued_ns]
    assert len(queued) == 2 * FAULTY_MAX_STREAMS  # the waves after the first waited for a slot
