"""WebSocket sessions for load scripts: the ``websockets`` library, timed and with typed errors.

All framing, masking, pings and the closing handshake are the library's; this module adds what
a load test needs on top: the time to connect (TCP + TLS + HTTP upgrade), per-message latency
from a send to its reply, and failures translated once, at this boundary, into the
:class:`~perflab.load.http.exchange.ErrorKind` vocabulary every report already counts.

A session is a coroutine API (one virtual user awaits its own messages), unlike the
callback-driven HTTP clients: a WebSocket conversation is sequential per connection, so a
task per session costs nothing the protocol does not already imply.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable, Sequence
from time import monotonic_ns
from types import TracebackType

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidStatus,
    InvalidURI,
    WebSocketException,
)

from perflab.errors import UsageError
from perflab.load.http.exchange import ErrorKind, classify_os_error

Message = str | bytes
OnMessageLatency = Callable[[str, int], None]

# Close codes that mean the peer found our frames or payloads invalid (RFC 6455, 7.4.1).
_PROTOCOL_CLOSE_CODES = frozenset({1002, 1003, 1007, 1009})


class WebSocketError(Exception):
    """A WebSocket connection failed or was lost; ``kind`` is how results count it."""

    def __init__(self, kind: ErrorKind, detail: str) -> None:
        super().__init__(f"{kind.value}: {detail}")
        self.kind = kind
        self.detail = detail


class WebSocketTimeout(WebSocketError, TimeoutError):
    """No message arrived in time; the session is still open and usable."""

    def __init__(self, detail: str) -> None:
        super().__init__(ErrorKind.TIMEOUT, detail)


class WebSocketSession:
    """One WebSocket connection, as one virtual user holds it.

    ``connect_ns`` is from the start of :meth:`connect` to the upgrade's 101 response.
    ``on_message_latency(name, latency_ns)`` is called after each :meth:`send_recv`, so the
    engine records latencies under a name without the session keeping a list.
    """

    def __init__(
        self,
        ws: ClientConnection,
        connect_ns: int,
        on_message_latency: OnMessageLatency | None = None,
    ) -> None:
        """Wrap an open connection; use :meth:`connect` to make one."""
        self._ws = ws
        self.connect_ns = connect_ns
        self.on_message_latency = on_message_latency
        self.messages_sent = 0
        self.messages_received = 0

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        headers: Sequence[tuple[str, str]] = (),
        timeout_s: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
        on_message_latency: OnMessageLatency | None = None,
    ) -> WebSocketSession:
        """Open a session to a ``ws://`` or ``wss://`` URL.

        Proxies from the environment are ignored, as in the HTTP client: a load test
        measures the target, not a proxy in front of it.

        Args:
            headers: extra headers of the upgrade request (e.g. authentication).
            timeout_s: for the whole opening: DNS, TCP, TLS and the upgrade.
            ssl_context: for ``wss://``; the default verifies against the system store.

        Raises:
            UsageError: the URL is not a valid WebSocket URL.
            WebSocketError: the connection or the upgrade failed.
        """
        if ssl_context is not None and not url.startswith("wss://"):
            raise ValueError(f"ssl_context given for the non-TLS URL {url!r}")
        started = monotonic_ns()
        try:
            ws = await connect(
                url,
                additional_headers=list(headers),
                open_timeout=timeout_s,
                ssl=ssl_context,
                proxy=None,
            )
        except InvalidURI as exc:
            raise UsageError(f"{url!r} is not a WebSocket URL: {exc.msg}") from exc
        except TimeoutError as exc:
            detail = f"not connected within {timeout_s:g}s"
            raise WebSocketError(ErrorKind.CONNECT_TIMEOUT, detail) from exc
        except (OSError, WebSocketException) as exc:
            raise WebSocketError(*_connect_failure(exc)) from exc
        return cls(ws, monotonic_ns() - started, on_message_latency)

    async def send(self, data: Message) -> None:
        """Send one message: text for ``str``, binary for ``bytes``.

        Raises:
            WebSocketError: the connection is closed or lost.
        """
        try:
            await self._ws.send(data)
        except ConnectionClosed as exc:
            raise WebSocketError(*_closed(exc)) from exc
        self.messages_sent += 1

    async def recv(self, timeout_s: float) -> Message:
        """The next message; a timeout loses nothing (the library's recv is cancel-safe).

        Raises:
            WebSocketTimeout: none arrived within ``timeout_s``.
            WebSocketError: the connection is closed or lost.
        """
        try:
            async with asyncio.timeout(timeout_s):
                message = await self._ws.recv()
        except TimeoutError as exc:
            raise WebSocketTimeout(f"no message within {timeout_s:g}s") from exc
        except ConnectionClosed as exc:
            raise WebSocketError(*_closed(exc)) from exc
        self.messages_received += 1
        return message

    async def send_recv(
        self, data: Message, timeout_s: float, *, name: str = "message"
    ) -> tuple[Message, int]:
        """Send ``data``, await the next message; returns it and the latency in ns.

        The latency runs from just before the send to the reply's arrival, so it includes
        any wait for the socket's write buffer, as a user would see it. The next message is
        taken as the reply: this fits request/reply protocols, not pushed streams.

        Raises:
            WebSocketTimeout: no reply within ``timeout_s`` (the hook is not called).
            WebSocketError: the connection is closed or lost.
        """
        started = monotonic_ns()
        await self.send(data)
        reply = await self.recv(timeout_s)
        latency_ns = monotonic_ns() - started
        hook = self.on_message_latency
        if hook is not None:
            hook(name, latency_ns)
        return reply, latency_ns

    @property
    def closed(self) -> bool:
        return self._ws.close_code is not None

    async def close(self) -> None:
        """Close with code 1000 and wait for the server's close frame (bounded by the library)."""
        await self._ws.close()

    async def __aenter__(self) -> WebSocketSession:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


def _connect_failure(exc: OSError | WebSocketException) -> tuple[ErrorKind, str]:
    if isinstance(exc, socket.gaierror):
        return ErrorKind.DNS, str(exc.strerror)
    if isinstance(exc, OSError):
        return classify_os_error(exc, connecting=True)
    if isinstance(exc, InvalidStatus):
        return ErrorKind.PROTOCOL, f"upgrade refused with HTTP {exc.response.status_code}"
    if isinstance(exc, InvalidHandshake):
        return ErrorKind.PROTOCOL, f"upgrade failed: {exc}"
    if isinstance(exc, ConnectionClosed):
        return _closed(exc)
    return ErrorKind.OTHER, f"{type(exc).__name__}: {exc}"


def _closed(exc: ConnectionClosed) -> tuple[ErrorKind, str]:
    """A close frame with a normal code is CLOSED; none at all means the TCP connection broke.

    Codes 1002/1003/1007/1009, from either side, mean frames or payloads were invalid.
    """
    received, sent = exc.rcvd, exc.sent
    if received is None:
        if sent is not None and sent.code in _PROTOCOL_CLOSE_CODES:
            return ErrorKind.PROTOCOL, f"closed by the client with code {sent.code} ({sent.reason})"
        return ErrorKind.RESET, "connection lost without a close frame"
    who = "the client" if exc.rcvd_then_sent is False else "the server"
    detail = f"closed by {who} with code {received.code}"
    if received.reason:
        detail += f" ({received.reason})"
    if received.code in _PROTOCOL_CLOSE_CODES:
        return ErrorKind.PROTOCOL, detail
    return ErrorKind.CLOSED, detail
