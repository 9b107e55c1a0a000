"""WebSocket sessions against a real ``websockets`` server on 127.0.0.1 (tests.servers.wsserver)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
import uvloop
from tests.servers.wsserver import DELAY_MS

from perflab.errors import UsageError
from perflab.load.http import ErrorKind
from perflab.load.ws import WebSocketError, WebSocketSession, WebSocketTimeout

pytest_plugins = ["tests.integration.h2ws_fixtures"]

T = TypeVar("T")


def run(main: Callable[[], Awaitable[T]]) -> T:
    async def wrapper() -> T:
        return await main()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(wrapper())


def test_echo_round_trip_keeps_the_message_type(ws_url: str) -> None:
    async def main() -> tuple[list[str | bytes], int, int, int]:
        session = await WebSocketSession.connect(f"{ws_url}/echo")
        async with session:
            replies = [(await session.send_recv(m, 2.0))[0] for m in ("hello", b"\x00\xff")]
        return replies, session.connect_ns, session.messages_sent, session.messages_received

    replies, connect_ns, sent, received = run(main)
    assert replies == ["hello", b"\x00\xff"]
    assert 0 < connect_ns < 2_000_000_000
    assert sent == received == 2


def test_send_recv_reports_latency_under_a_name(ws_url: str) -> None:
    seen: list[tuple[str, int]] = []

    async def main() -> list[int]:
        session = await WebSocketSession.connect(
            f"{ws_url}/delay", on_message_latency=lambda name, ns: seen.append((name, ns))
        )
        async with session:
            return [(await session.send_recv("ping", 2.0, name="chat"))[1] for _ in range(3)]

    latencies = run(main)
    assert [name for name, _ in seen] == ["chat"] * 3
    assert [ns for _, ns in seen] == latencies
    for ns in latencies:
        assert DELAY_MS * 1_000_000 <= ns < 1_000_000_000


def test_recv_timeout_raises_and_leaves_the_session_usable(ws_url: str) -> None:
    async def main() -> tuple[WebSocketTimeout, float, str | bytes]:
        async with await WebSocketSession.connect(f"{ws_url}/echo") as session:
            started = time.perf_counter()
            with pytest.raises(WebSocketTimeout) as caught:
                await session.recv(0.1)
            waited = time.perf_counter() - started
            reply, _ = await session.send_recv("still here", 2.0)
        return caught.value, waited, reply

    timeout, waited, reply = run(main)
    assert isinstance(timeout, TimeoutError) and timeout.kind is ErrorKind.TIMEOUT
    assert 0.098 <= waited < 1.0  # event-loop timers may fire up to ~1 ms early
    assert reply == "still here"


def test_refused_connect_is_refused(refused_url: str) -> None:
    url = refused_url.replace("http://", "ws://")

    async def main() -> WebSocketSession:
        return await WebSocketSession.connect(f"{url}/echo", timeout_s=5.0)

    with pytest.raises(WebSocketError) as caught:
        run(main)
    assert caught.value.kind is ErrorKind.REFUSED and caught.value.detail == "ECONNREFUSED"


def test_server_close_is_closed_with_its_code(ws_url: str) -> None:
    async def main() -> WebSocketError:
        session = await WebSocketSession.connect(f"{ws_url}/close")
        with pytest.raises(WebSocketError) as caught:
            await session.recv(2.0)
        assert session.closed
        return caught.value

    error = run(main)
    assert error.kind is ErrorKind.CLOSED
    assert error.detail == "closed by the server with code 1000 (bye)"


def test_http_server_refusing_the_upgrade_is_a_protocol_error(hello_url: str) -> None:
    url = hello_url.replace("http://", "ws://")

    async def main() -> WebSocketSession:
        return await WebSocketSession.connect(f"{url}/", timeout_s=5.0)

    with pytest.raises(WebSocketError) as caught:
        run(main)
    assert caught.value.kind is ErrorKind.PROTOCOL
    assert caught.value.detail == "upgrade refused with HTTP 200"


def test_a_non_websocket_url_is_a_usage_error() -> None:
    async def main() -> WebSocketSession:
        return await WebSocketSession.connect("http://127.0.0.1:1/")

    with pytest.raises(UsageError, match="not a WebSocket URL"):
        run(main)
