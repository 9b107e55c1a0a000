"""One HTTP/1.1 client connection: an ``asyncio.Protocol`` driven by parser callbacks.

This is the engine's hot path. A request on an established connection costs one
``transport.write``, two clock reads, and per response one ``feed_data`` that calls back into
Python once (``on_message_complete``); no coroutine, future or timer is created per request.
To keep it that way:

* The parser of the common case is built on the connection itself, which has no
  ``on_header``, ``on_body`` or ``on_headers_complete`` attribute, so httptools never calls
  into Python per header or body chunk; bodies are counted from ``len(data)`` and dropped.
  Requests with ``keep_body``, and HEAD requests (whose parser must be told the body is
  absent), use a second parser with those callbacks.
* The first bytes of the response are kept by reference (no copy in the usual one-read
  case), so that a connection lost mid-response can be judged afterwards: a close-delimited
  body is complete, a body cut short of its Content-Length or chunked framing is an error.
  httptools exposes no EOF call, so this check cannot be left to the parser.
* Completion runs after ``feed_data`` returns, never inside a parser callback, so an
  ``on_done`` that submits the next request cannot re-enter the parser.
* A closed-model user that sends one request over and over on its own connection hands it
  a :class:`Lane`: while the lane is open, a plain successful response is recorded as six
  integers and the same request goes out again from ``data_received``, reusing the
  exchange, with no callback, allocation or per-request arithmetic. That chain of calls
  was half of the engine's Python time (~17 -> ~12 µs per request here, wrk ~11 µs).
  Anything unusual (an error, a new or retried connection, a closing response, a closed
  lane) takes the general path, so the lane never changes what is measured.

Invariants: at most one exchange is in flight (``exchange``); ``on_done`` is called exactly
once per exchange; ``_owner._on_closed`` is called exactly once per connection, when ``dead``
is set; a dead connection is never handed back to its owner as idle.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from time import monotonic_ns
from typing import Protocol, cast

import httptools

from perflab.load.http.exchange import (
    ErrorKind,
    Exchange,
    body_framing,
    classify_lost,
    classify_os_error,
    parser_error_detail,
)

OnDone = Callable[[Exchange], None]
Pending = tuple[Exchange, bytes, OnDone, bool]
"""A request not yet on a connection: (exchange, wire, on_done, keep_body)."""

_PARSER_ERRORS = (httptools.HttpParserError, httptools.HttpParserUpgrade)
_RETRYABLE = (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)
_HEAD_LIMIT = 65536  # response bytes kept for the post-mortem of a lost connection


class Lane:
    """A user's standing order to its pinned connection: repeat the request, record here.

    ``raw`` receives ``(start, sent, first_byte, done, bytes_in, status)`` per request (ns,
    flat); the owner of ``raw`` folds it in batches (``spill``) and clears it in place.
    ``open`` is cleared by the executor when the user must decide again (it retires, the
    run stops); the next completion then goes through ``on_done`` as usual.
    """

    __slots__ = ("open", "raw", "spill")

    def __init__(self, raw: list[int], spill: Callable[[], None]) -> None:
        self.raw = raw
        self.spill = spill
        self.open = True


LANE_SPILL = 6 * 512
"""Fold a lane's raw figures after this many integers (512 requests)."""


class Owner(Protocol):
    """Who a connection reports to: the pool for shared connections, or a pinned handle."""

    def _on_idle(self, conn: Connection) -> None: ...

    def _on_closed(self, conn: Connection, retry: Pending | None) -> None: ...


class _Collector:
    """Callbacks of the second parser: headers and body kept, HEAD responses ended early."""

    __slots__ = ("chunks", "headers", "on_headers_complete", "on_message_complete")

    def __init__(self, conn: Connection) -> None:
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []
        self.on_headers_complete = conn._on_slow_headers_complete
        self.on_message_complete = conn.on_message_complete

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)


class Connection(asyncio.Protocol):
    """A keep-alive connection that runs one exchange at a time (no pipelining).

    ``exchange`` (the one in flight, or None) and ``dead`` are public so that owners can read
    them without a property call on the hot path; only the connection writes them.
    """

    __slots__ = (
        "_collector",
        "_errnos",
        "_fast",
        "_head",
        "_head_only",
        "_keep_alive",
        "_keep_body",
        "_lane",
        "_loop",
        "_on_done",
        "_owner",
        "_parser",
        "_pending",
        "_slow",
        "_slow_parser",
        "_status",
        "_transport",
        "_wire",
        "connect_task",
        "dead",
        "exchange",
        "tls_start_ns",
    )

    def __init__(
        self, owner: Owner, loop: asyncio.AbstractEventLoop, errnos: dict[str, int]
    ) -> None:
        self._owner = owner
        self._loop = loop
        self._errnos = errnos  # the pool's errors_by_errno, shared
        self._transport: asyncio.Transport | None = None
        self._fast = httptools.HttpResponseParser(self)
        self._parser = self._fast
        self._slow_parser: httptools.HttpResponseParser | None = None
        self._collector: _Collector | None = None
        self._slow = False  # this exchange uses the second parser
        self._keep_body = False
        self.exchange: Exchange | None = None
        self._wire = b""
        self._on_done: OnDone | None = None
        self._head: bytes | None = None
        self._status = 0
        self._keep_alive = True
        self._pending = False  # the response is complete; _finish runs after feed_data
        self._head_only = False  # _pending was set by a HEAD response's head
        self.dead = False
        self.connect_task: asyncio.Task[None] | None = None
        self.tls_start_ns = 0  # when the TLS handshake began; 0 for plain TCP
        self._lane: Lane | None = getattr(owner, "lane", None)

    # ----------------------------------------------------------------- owner's interface

    @property
    def busy(self) -> bool:
        return self.exchange is not None

    @property
    def connected(self) -> bool:
        return self._transport is not None and not self.dead

    def attach(self, ex: Exchange, wire: bytes, on_done: OnDone, keep_body: bool) -> None:
        """Give a connection that is still connecting its first exchange."""
        self.exchange = ex
        self._wire = wire
        self._on_done = on_done
        if keep_body or wire[0] == 72:  # b"H": possibly HEAD
            self._prepare_slow(wire, keep_body)

    def send(self, ex: Exchange, wire: bytes, on_done: OnDone, keep_body: bool) -> None:
        """Write a request on this idle, established connection; ``ex.start_ns`` is set."""
        self.exchange = ex
        self._wire = wire
        self._on_done = on_done
        if keep_body or wire[0] == 72:
            self._prepare_slow(wire, keep_body)
        self._transport.write(wire)  # type: ignore[union-attr]  # established: never None
        ex.sent_ns = monotonic_ns()

    def expire(self, kind: ErrorKind, detail: str) -> None:
        """End the exchange in flight (if any) with an error and drop the connection."""
        if self.exchange is not None:
            self._fail(kind, detail, monotonic_ns())
        else:
            self._retire(None)

    def fail_connect(self, kind: ErrorKind, detail: str) -> None:
        """Called by the connecting task when DNS, TCP connect or the TLS handshake failed."""
        self.connect_task = None
        self.expire(kind, detail)

    # ----------------------------------------------------------------- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        tcp = cast(asyncio.Transport, transport)
        self._transport = tcp
        ex = self.exchange
        if self.dead:
            tcp.abort()
            return
        if ex is None:  # opened ahead of need (ConnectionPool.warm): ready for reuse
            self._owner._on_idle(self)
            return
        if self.tls_start_ns:
            ex.tls_ns = monotonic_ns() - self.tls_start_ns
        tcp.write(self._wire)
        ex.sent_ns = monotonic_ns()

    def data_received(self, data: bytes) -> None:
        now = monotonic_ns()
        ex = self.exchange
        if ex is None:  # unsolicited bytes on an idle connection: it cannot be trusted
            self._retire(None)
            return
        ex.bytes_in += len(data)
        if not ex.first_byte_ns:
            ex.first_byte_ns = now
            self._head = data
        elif len(self._head or b"") < _HEAD_LIMIT:  # the head may span reads
            self._head = (self._head or b"") + data
        try:
            self._parser.feed_data(data)
        except _PARSER_ERRORS as exc:
            if not self._pending:
                self._fail(ErrorKind.PROTOCOL, parser_error_detail(exc), now)
                return
            self._keep_alive = False  # junk after a complete response
        if not self._pending:
            return
        if self._slow:
            self._finish(ex, now)
            return
        lane = self._lane
        if (
            lane is not None
            and lane.open
            and self._keep_alive
            and not ex.new_connection
            and not ex.retried
        ):
            raw = lane.raw
            raw += (ex.start_ns, ex.sent_ns, ex.first_byte_ns, now, ex.bytes_in, self._status)
            self._pending = False
            self._head = None
            ex.first_byte_ns = ex.bytes_in = 0
            ex.queued_ns = ex.start_ns = monotonic_ns()
            self._transport.write(self._wire)  # type: ignore[union-attr]  # data came on it
            ex.sent_ns = monotonic_ns()
            if len(raw) >= LANE_SPILL:
                lane.spill()
            return
        # _finish, inlined for the common case (a keep_body-less, non-HEAD request)
        ex.status = self._status
        ex.done_ns = now
        self.exchange = None
        self._pending = False
        self._head = None
        on_done = self._on_done
        if self._keep_alive:
            self._owner._on_idle(self)
        else:
            self._retire(None)
        try:
            on_done(ex)  # type: ignore[misc]  # set with exchange
        except Exception as exc:
            self._report(exc)

    def eof_received(self) -> bool:
        self._gone(None)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._gone(exc)

    # ----------------------------------------------------------------- parser callbacks

    def on_message_complete(self) -> None:
        parser = self._parser
        status = parser.get_status_code()
        if status < 200:  # interim (1xx) response: the final one follows
            return
        if self._pending:
            if self._head_only:  # the end of a HEAD response already taken as complete
                self._head_only = False
            else:  # a second response to one request: never reuse this connection
                self._keep_alive = False
            return
        self._status = status
        self._keep_alive = parser.should_keep_alive()
        self._pending = True

    def _on_slow_headers_complete(self) -> None:
        parser = self._parser
        status = parser.get_status_code()
        if status < 200:
            if self._collector is not None:
                self._collector.headers.clear()  # keep only the final response's head
        elif self._wire.startswith(b"HEAD ") and not self._pending:
            # No body follows, whatever Content-Length says; the parser cannot be told so.
            self._status = status
            self._keep_alive = parser.should_keep_alive()
            self._pending = True
            self._head_only = True

    # ----------------------------------------------------------------- completion

    def _finish(self, ex: Exchange, now: int) -> None:
        ex.status = self._status
        ex.done_ns = now
        self.exchange = None
        self._pending = False
        self._head = None
        if self._slow:
            self._finish_slow(ex)
        on_done = self._on_done
        if self._keep_alive:
            self._owner._on_idle(self)
        else:
            self._retire(None)
        try:
            on_done(ex)  # type: ignore[misc]  # set with exchange
        except Exception as exc:
            self._report(exc)

    def _fail(self, kind: ErrorKind, detail: str, now: int) -> None:
        ex = self.exchange
        on_done = self._on_done
        assert ex is not None and on_done is not None
        self.exchange = None
        self._pending = False
        self._head = None
        ex.status = 0
        ex.error = kind
        ex.error_detail = detail
        ex.done_ns = now
        self._retire(None)
        try:
            on_done(ex)
        except Exception as exc:
            self._report(exc)

    def _gone(self, exc: Exception | None) -> None:
        """The peer closed or reset, or the transport failed: settle the exchange in flight."""
        if self.dead:
            return
        if isinstance(exc, OSError) and exc.errno is not None:
            name = classify_os_error(exc, connecting=False)[1]
            self._errnos[name] = self._errnos.get(name, 0) + 1
        ex = self.exchange
        if ex is None:
            self._retire(None)
            return
        now = monotonic_ns()
        framing = body_framing(self._head) if ex.first_byte_ns else None
        if exc is None and framing == "close":  # a close-delimited body ends here
            self._status = self._parser.get_status_code()
            self._keep_alive = False
            self._finish(ex, now)
        elif (
            not ex.first_byte_ns
            and not ex.new_connection
            and not ex.retried
            and (exc is None or isinstance(exc, _RETRYABLE))
        ):
            # The server dropped an idle keep-alive connection while our request was on the
            # way; no byte came back, so it did not act on it. Browsers retry such requests
            # once on a fresh connection; so do we.
            ex.retried = True
            ex.sent_ns = 0
            self.exchange = None
            self._retire((ex, self._wire, self._on_done, self._keep_body))  # type: ignore[arg-type]
        else:
            self._fail(*classify_lost(exc, ex.first_byte_ns != 0, framing), now)

    def _retire(self, retry: Pending | None) -> None:
        """Leave the owner for good (exactly once) and release the socket."""
        if self.dead:
            return
        self.dead = True
        if self._transport is not None:
            self._transport.abort()
        task = self.connect_task
        if task is not None:
            self.connect_task = None
            task.cancel()
        self._owner._on_closed(self, retry)

    def _prepare_slow(self, wire: bytes, keep_body: bool) -> None:
        self._slow = True
        self._keep_body = keep_body
        if self._collector is None:
            self._collector = _Collector(self)
            self._slow_parser = httptools.HttpResponseParser(self._collector)
        else:
            self._collector.headers = []
            self._collector.chunks = []
        self._parser = self._slow_parser  # type: ignore[assignment]  # set with _collector

    def _finish_slow(self, ex: Exchange) -> None:
        collector = self._collector
        assert collector is not None
        head_request = self._wire.startswith(b"HEAD ")
        if self._keep_body:
            ex.headers = collector.headers
            ex.body = b"" if head_request else b"".join(collector.chunks)
        if head_request:  # the parser still waits for the body: replace it
            self._slow_parser = httptools.HttpResponseParser(collector)
        self._parser = self._fast
        self._slow = False
        self._keep_body = False
        self._head_only = False

    def _report(self, exc: Exception) -> None:
        self._loop.call_exception_handler(
            {"message": "perflab: an on_done callback raised", "exception": exc, "protocol": self}
        )
