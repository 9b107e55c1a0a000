"""The HTTP client against real servers on 127.0.0.1: wire behaviour, faults, limits, TLS."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
import uvloop
from tests.conftest import ServerFactory

from perflab.load.http import (
    ConnectionPool,
    ErrorKind,
    Exchange,
    RequestSpec,
    make_ssl_context,
    parse_url,
)

T = TypeVar("T")
PoolTest = Callable[[ConnectionPool], Awaitable[T]]


def run_with_pool(base_url: str, test: PoolTest[T], **pool_kw: Any) -> T:
    """Run ``test(pool)`` on a fresh uvloop loop, with a pool for ``base_url``'s origin."""

    async def main() -> T:
        pool = ConnectionPool(
            parse_url(base_url).origin, loop=asyncio.get_running_loop(), **pool_kw
        )
        try:
            return await test(pool)
        finally:
            await pool.aclose()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main())


def wire(url: str, method: str = "GET", **kw: Any) -> bytes:
    return RequestSpec(method, parse_url(url), **kw).wire()


def assert_phases(ex: Exchange) -> None:
    assert ex.error is None, (ex.error, ex.error_detail)
    assert 0 < ex.queued_ns <= ex.start_ns <= ex.sent_ns <= ex.first_byte_ns <= ex.done_ns
    if ex.new_connection:
        assert ex.connect_ns > 0
        assert ex.start_ns + ex.connect_ns + ex.tls_ns <= ex.sent_ns
    else:
        assert ex.connect_ns == 0 and ex.tls_ns == 0
    assert ex.service_ns == ex.done_ns - ex.start_ns > 0
    assert ex.wait_ns + ex.receive_ns == ex.done_ns - ex.sent_ns


def test_keep_alive_reuses_one_connection_and_orders_phases(hello_url: str) -> None:
    async def test(pool: ConnectionPool) -> list[Exchange]:
        return [await pool.request(wire(f"{hello_url}/")) for _ in range(3)]

    first, *rest = run_with_pool(hello_url, test)
    assert [ex.new_connection for ex in (first, *rest)] == [True, False, False]
    for ex in (first, *rest):
        assert_phases(ex)
        assert ex.status == 200 and ex.body == b"Hello, world!" and ex.tls_ns == 0
        assert ex.headers is not None and (b"Content-Length", b"13") in ex.headers


@pytest.mark.parametrize(
    ("path", "method", "status", "body"),
    [
        ("/chunked", "GET", 200, b"Hello, world!"),
        ("/eof", "GET", 200, b"Hello, world!"),
        ("/bytes/5", "GET", 200, b"xxxxx"),
        ("/", "HEAD", 200, b""),
        ("/chunked", "HEAD", 200, b""),
        ("/status/204", "GET", 204, b""),
        ("/status/304", "GET", 304, b""),
        ("/status/503", "GET", 503, b"status 503"),
        ("/early-hints", "GET", 200, b"Hello, world!"),
    ],
)
def test_body_framings_then_the_connection_still_works(
    hello_url: str, path: str, method: str, status: int, body: bytes
) -> None:
    async def test(pool: ConnectionPool) -> tuple[Exchange, Exchange]:
        ex = await pool.request(wire(hello_url + path, method))
        return ex, await pool.request(wire(f"{hello_url}/"))

    ex, after = run_with_pool(hello_url, test)
    assert_phases(ex)
    assert (ex.status, ex.body) == (status, body)
    assert ex.headers is not None and (b"Link", b"</style.css>; rel=preload") not in ex.headers
    assert after.status == 200 and after.body == b"Hello, world!"
    # a close-delimited body (/eof) ends the connection; every other framing keeps it
    assert after.new_connection is (path == "/eof")


def test_interim_response_without_keep_body(hello_url: str) -> None:
    async def test(pool: ConnectionPool) -> list[Exchange]:
        return [await pool.request(wire(f"{hello_url}/early-hints"), keep_body=False) for _ in "ab"]

    first, second = run_with_pool(hello_url, test)
    for ex in (first, second):
        assert_phases(ex)
        assert ex.status == 200 and ex.body is None and ex.bytes_in > 100
    assert not second.new_connection


def test_custom_method_headers_and_body_round_trip(hello_url: str) -> None:
    request = wire(
        f"{hello_url}/echo?x=1",
        "PATCH",
        headers=(("X-Trace", "abc 123"), ("Content-Type", "text/plain")),
        body=b"payload \xff",
    )

    async def test(pool: ConnectionPool) -> Exchange:
        return await pool.request(request)

    ex = run_with_pool(hello_url, test)
    assert ex.status == 200 and ex.body is not None
    echoed = json.loads(ex.body)
    assert echoed["method"] == "PATCH" and echoed["path"] == "/echo?x=1"
    assert echoed["body"] == "payload \xff"
    headers = {k.lower(): v for k, v in echoed["headers"]}
    assert headers["x-trace"] == "abc 123" and headers["content-length"] == "9"
    assert headers["host"] == parse_url(hello_url).origin.netloc_header
    assert headers["user-agent"].startswith("perflab/")


def test_large_bodies_are_counted_not_kept(hello_url: str, faulty_url: str) -> None:
    async def test(pool: ConnectionPool) -> list[Exchange]:
        done: list[Exchange] = []
        for count in (1, 2):  # sequential, so the second reuses the connection
            pool.submit(wire(f"{faulty_url}/big"), done.append)
            while len(done) < count:
                await asyncio.sleep(0.005)
        return done

    big = run_with_pool(faulty_url, test)
    for ex in big:
        assert ex.status == 200 and ex.headers is None and ex.body is None
        assert ex.bytes_in > 1024 * 1024  # body and head
    assert not big[1].new_connection

    async def kept(pool: ConnectionPool) -> Exchange:
        return await pool.request(wire(f"{hello_url}/bytes/1000000"), keep_body=True)

    ex = run_with_pool(hello_url, kept)
    assert ex.body == b"x" * 1_000_000 and ex.bytes_in > 1_000_000


@pytest.mark.parametrize(
    ("path", "kind", "detail"),
    [
        ("/reset", ErrorKind.RESET, "ECONNRESET"),
        ("/malformed", ErrorKind.PROTOCOL, "Invalid status code"),
        ("/truncated-chunked", ErrorKind.PROTOCOL, "closed before the end of a chunked body"),
        ("/wrong-length", ErrorKind.PROTOCOL, "closed before the end of a Content-Length body"),
        ("/hangup", ErrorKind.CLOSED, "closed, no response"),
    ],
)
def test_faults_are_classified_and_the_pool_recovers(
    faulty_url: str, path: str, kind: ErrorKind, detail: str
) -> None:
    async def test(pool: ConnectionPool) -> tuple[Exchange, Exchange]:
        bad = await pool.request(wire(faulty_url + path))
        return bad, await pool.request(wire(f"{faulty_url}/ok"))

    bad, ok = run_with_pool(faulty_url, test, limit=1)
    assert (bad.error, bad.status, bad.retried) == (kind, 0, False)
    assert detail in bad.error_detail
    assert 0 < bad.start_ns <= bad.done_ns
    assert ok.error is None and ok.status == 200 and ok.body == b"ok" and ok.new_connection


def test_stall_times_out_by_the_sweep(faulty_url: str) -> None:
    async def test(pool: ConnectionPool) -> tuple[Exchange, Exchange, int]:
        stalled = await pool.request(wire(f"{faulty_url}/stall"))
        open_after = pool.open
        return stalled, await pool.request(wire(f"{faulty_url}/ok")), open_after

    stalled, ok, open_after = run_with_pool(
        faulty_url, test, request_timeout_s=0.3, sweep_interval_s=0.05
    )
    assert stalled.error is ErrorKind.TIMEOUT and stalled.sent_ns and not stalled.first_byte_ns
    assert 0.3 <= stalled.service_ns / 1e9 < 0.3 + 0.05 + 0.15
    assert open_after == 0  # the timed-out connection was closed
    assert ok.status == 200


def test_close_always_runs_every_request_on_a_new_connection(faulty_url: str) -> None:
    async def test(pool: ConnectionPool) -> tuple[list[Exchange], int]:
        done = [await pool.request(wire(f"{faulty_url}/close-always")) for _ in range(20)]
        return done, pool.connects_total

    done, connects = run_with_pool(faulty_url, test)
    assert all(ex.status == 200 and ex.new_connection and not ex.retried for ex in done)
    assert connects == 20


def test_nothing_listening_is_refused_quickly(refused_url: str) -> None:
    async def test(pool: ConnectionPool) -> tuple[Exchange, dict[str, int]]:
        return await pool.request(wire(f"{refused_url}/")), dict(pool.errors_by_errno)

    started = time.monotonic()
    ex, errnos = run_with_pool(refused_url, test)
    assert time.monotonic() - started < 1.0
    assert (ex.error, ex.error_detail, ex.status) == (ErrorKind.REFUSED, "ECONNREFUSED", 0)
    assert ex.new_connection and ex.sent_ns == 0 and ex.done_ns >= ex.start_ns
    assert errnos == {"ECONNREFUSED": 1}


def test_unknown_host_is_a_dns_error() -> None:
    async def test(pool: ConnectionPool) -> Exchange:
        return await pool.request(wire("http://no-such-host.invalid/"))

    ex = run_with_pool("http://no-such-host.invalid/", test, connect_timeout_s=5.0)
    assert ex.error is ErrorKind.DNS and "no-such-host.invalid" in ex.error_detail


def test_limit_queues_fifo_and_never_exceeds_it(hello_url: str) -> None:
    async def test(pool: ConnectionPool) -> tuple[list[Exchange], list[int], int]:
        loop = asyncio.get_running_loop()
        finished = loop.create_future()
        done: list[Exchange] = []
        open_seen: list[int] = []

        def on_done(ex: Exchange) -> None:
            done.append(ex)
            open_seen.append(pool.open)
            if len(done) == 10:
                finished.set_result(None)

        exchanges = [Exchange() for _ in range(10)]
        for ex in exchanges:
            pool.submit(wire(f"{hello_url}/slow/30"), on_done, exchange=ex)
            open_seen.append(pool.open)
        assert pool.queued == 8 and pool.in_flight == 2
        await finished
        return exchanges, open_seen, pool.connects_total

    exchanges, open_seen, connects = run_with_pool(hello_url, test, limit=2)
    assert max(open_seen) == 2 and connects == 2
    assert all(ex.status == 200 for ex in exchanges)
    for ex in exchanges[2:]:
        assert ex.queued_ns < ex.start_ns and not ex.new_connection
    starts = [ex.start_ns for ex in exchanges]
    assert starts == sorted(starts)  # FIFO


def test_without_grow_requests_wait_for_an_open_connection(hello_url: str) -> None:
    """``grow=False`` (a generator behind its schedule) opens a connection only when none is
    open, and otherwise queues for the busy ones, FIFO."""

    async def test(pool: ConnectionPool) -> tuple[list[Exchange], int, int]:
        finished = asyncio.get_running_loop().create_future()
        done: list[Exchange] = []

        def on_done(ex: Exchange) -> None:
            done.append(ex)
            if len(done) == 5:
                finished.set_result(None)

        exchanges = [Exchange() for _ in range(5)]
        for ex in exchanges:
            pool.submit(wire(f"{hello_url}/slow/20"), on_done, exchange=ex, grow=False)
        queued = pool.queued
        await finished
        return exchanges, queued, pool.connects_total

    exchanges, queued, connects = run_with_pool(hello_url, test)
    assert connects == 1 and queued == 4
    assert all(ex.status == 200 for ex in exchanges)
    starts = [ex.start_ns for ex in exchanges]
    assert starts == sorted(starts)


def test_server_closing_idle_connections_loses_nothing(server_factory: ServerFactory) -> None:
    server = server_factory("hello", "--keepalive-timeout", "0.1")

    async def test(pool: ConnectionPool) -> list[Exchange]:
        first = await pool.request(wire(f"{server.url}/"))
        await asyncio.sleep(0.3)  # the server closes the idle connection meanwhile
        return [first, await pool.request(wire(f"{server.url}/"))]

    first, second = run_with_pool(server.url, test)
    assert first.status == second.status == 200
    assert second.new_connection and not second.retried


def test_request_racing_a_keep_alive_close_is_retried_once(faulty_url: str) -> None:
    async def test(pool: ConnectionPool) -> tuple[Exchange, Exchange, int, int]:
        finished: asyncio.Future[Exchange] = asyncio.get_running_loop().create_future()
        request = wire(f"{faulty_url}/ok-then-close")

        def first_done(ex: Exchange) -> None:
            # Sent at once on the same connection, while its FIN is already on the way.
            pool.submit(request, finished.set_result)

        first = Exchange()
        pool.submit(request, first_done, exchange=first)
        second = await finished
        return first, second, pool.retries_total, pool.connects_total

    first, second, retries, connects = run_with_pool(faulty_url, test)
    assert first.status == 200 and not first.retried
    assert second.status == 200 and second.retried and second.new_connection
    assert second.start_ns < second.sent_ns  # the lost attempt counts as service time
    assert (retries, connects) == (1, 2)


def test_https_with_the_test_ca(hello_tls_url: str, tls_ca_file: str) -> None:
    async def test(pool: ConnectionPool) -> list[Exchange]:
        return [await pool.request(wire(f"{hello_tls_url}/")) for _ in range(2)]

    first, second = run_with_pool(
        hello_tls_url, test, ssl_context=make_ssl_context(ca_file=tls_ca_file)
    )
    for ex in (first, second):
        assert_phases(ex)
        assert ex.body == b"Hello, world!"
    assert first.tls_ns > 0 and first.connect_ns > 0 and second.tls_ns == 0


def test_https_without_the_ca_fails_as_tls_and_insecure_succeeds(hello_tls_url: str) -> None:
    async def test(pool: ConnectionPool) -> Exchange:
        return await pool.request(wire(f"{hello_tls_url}/"))

    bad = run_with_pool(hello_tls_url, test)  # system CAs by default
    assert bad.error is ErrorKind.TLS and bad.status == 0
    assert "certificate verify failed" in bad.error_detail
    good = run_with_pool(hello_tls_url, test, ssl_context=make_ssl_context(insecure=True))
    assert good.status == 200 and good.tls_ns > 0


def test_pinned_connection_reconnects_and_runs_one_request_at_a_time(hello_url: str) -> None:
    async def test(pool: ConnectionPool) -> list[Exchange]:
        pinned = pool.pin()
        done = [await pinned.request(wire(f"{hello_url}/close"))]
        done.append(await pinned.request(wire(f"{hello_url}/")))
        done.append(await pinned.request(wire(f"{hello_url}/")))
        pinned.submit(wire(f"{hello_url}/slow/20"), done.append)
        with pytest.raises(RuntimeError, match="one request at a time"):
            pinned.submit(wire(f"{hello_url}/"), done.append)
        assert pool.in_flight == 1 and pool.open == 1
        while len(done) < 4:
            await asyncio.sleep(0.01)
        pinned.close()
        done.append(await pinned.request(wire(f"{hello_url}/")))
        return done

    done = run_with_pool(hello_url, test, limit=1)
    assert [ex.new_connection for ex in done[:4]] == [True, True, False, False]
    assert all(ex.status == 200 for ex in done[:4])
    assert done[4].error is ErrorKind.CLOSED


def test_aclose_completes_queued_and_in_flight_as_closed(faulty_url: str) -> None:
    async def test(pool: ConnectionPool) -> tuple[list[Exchange], Exchange]:
        done: list[Exchange] = []
        for _ in range(3):
            pool.submit(wire(f"{faulty_url}/stall"), done.append)
        await asyncio.sleep(0.1)
        await pool.aclose()
        assert len(done) == 3 and pool.open == 0 and pool.queued == 0
        return done, await pool.request(wire(f"{faulty_url}/ok"))

    done, late = run_with_pool(faulty_url, test, limit=2)
    assert [(ex.error, ex.error_detail) for ex in done] == [(ErrorKind.CLOSED, "pool closed")] * 3
    assert late.error is ErrorKind.CLOSED


def test_a_raising_on_done_is_reported_and_harmless(hello_url: str) -> None:
    reported: list[dict[str, Any]] = []

    async def test(pool: ConnectionPool) -> Exchange:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _loop, context: reported.append(context))

        def explode(ex: Exchange) -> None:
            raise ValueError("boom")

        pool.submit(wire(f"{hello_url}/"), explode)
        while not reported:
            await asyncio.sleep(0.005)
        return await pool.request(wire(f"{hello_url}/"))

    ex = run_with_pool(hello_url, test)
    assert ex.status == 200 and not ex.new_connection
    assert [type(c["exception"]) for c in reported] == [ValueError]
