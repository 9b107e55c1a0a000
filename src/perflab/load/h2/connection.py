"""One HTTP/2 client connection: the ``asyncio.Protocol`` around a :class:`Multiplexer`.

This side owns the socket, the clock and the pool; the multiplexer owns the protocol. It stays
callback-driven like the HTTP/1.1 connection: no coroutine, future or timer per request.

* **Batched writes.** While one read is handled, and while the ``on_done`` callbacks it
  triggers run, nothing is written; one flush follows. A read that completes 100 streams, and
  callbacks that submit 100 more, cost one ``transport.write``, not 200. ``sent_ns`` is
  stamped at the flush that wrote a request's END_STREAM.
* **Completion after handling.** ``on_done`` runs once a read is fully handled, never inside
  an h2 event handler, so a callback that submits the next request cannot interleave with h2.

Invariants: a stream is in ``_waiting`` (the connection is not ready yet) or in the
multiplexer until it completes; ``on_done`` is called exactly once per stream;
``_owner._on_closed`` is called exactly once per connection, when ``dead`` is set, and
``_owner._on_draining`` at most once before it.
"""

from __future__ import annotations

import asyncio
import ssl
from time import monotonic_ns
from typing import Protocol, cast

import h2.exceptions

from perflab.load.h2.multiplex import Multiplexer
from perflab.load.h2.stream import Stream
from perflab.load.http.exchange import ErrorKind, classify_os_error

_NOT_H2C = "server answered in HTTP/1.x: it does not speak HTTP/2 with prior knowledge (h2c)"


class Owner(Protocol):
    """What a connection reports to: the pool."""

    def _on_capacity(self, conn: Connection) -> None: ...

    def _on_draining(self, conn: Connection) -> None: ...

    def _on_closed(self, conn: Connection) -> None: ...

    def _retry(self, streams: list[Stream]) -> None: ...


class Connection(asyncio.Protocol):
    """A multiplexed connection to one origin; ``dead`` and ``ready`` are read by the pool."""

    def __init__(
        self,
        owner: Owner,
        loop: asyncio.AbstractEventLoop,
        errnos: dict[str, int],
        *,
        tls: bool,
    ) -> None:
        self._owner = owner
        self._loop = loop
        self._errnos = errnos  # the pool's errors_by_errno, shared
        self._tls = tls
        self._mux = Multiplexer()
        self._transport: asyncio.Transport | None = None
        self._waiting: list[Stream] = []
        self._batching = False
        self._any_byte = False
        self._told_draining = False
        self._exhaust_scheduled = False
        self.ready = False
        self.dead = False
        self.opener: Stream | None = None
        """The stream whose submission opened this connection: it reports the set-up times."""
        self.connect_ns = 0
        self.tls_start_ns = 0
        self.connect_task: asyncio.Task[None] | None = None

    # ----------------------------------------------------------------- owner's interface

    @property
    def capacity(self) -> int:
        """How many more streams the server allows now (negative after it lowered its limit)."""
        if self.dead:
            return 0
        mux = self._mux
        return mux.limit - len(mux.streams) - len(self._waiting)

    @property
    def in_flight(self) -> int:
        return len(self._mux.streams) + len(self._waiting)

    def start(self, stream: Stream) -> None:
        """Open a stream for a request whose ``start_ns`` and deadline are set."""
        if not self.ready:
            self._waiting.append(stream)
            return
        mux = self._mux
        mux.open(stream, monotonic_ns())
        if mux.ids_exhausted and not self._exhaust_scheduled:
            # Hand over to a new connection outside this call: the pool may be pumping.
            self._exhaust_scheduled = True
            self._loop.call_soon(self._drain_exhausted)
        if not self._batching:
            self._flush()
            self._deliver()

    def expire_late(self, now: int) -> None:
        """Fail streams past their deadline and reset them; the connection stays up."""
        late_waiting = [s for s in self._waiting if s.deadline_ns <= now]
        for stream in late_waiting:
            self._waiting.remove(stream)
            detail = f"no response within {stream.timeout_ns / 1e9:g}s"
            self._mux.fail(stream, ErrorKind.TIMEOUT, detail, now)
        if self._mux.expire(now) or late_waiting:
            self._mux.freed = True
            self._settle()

    def close(self, kind: ErrorKind, detail: str) -> None:
        """Fail every stream with ``kind`` and close, telling the server with a GOAWAY."""
        if self.dead:
            return
        if self.ready:
            self._mux.close()
            self._flush()
        self._die(kind, detail)

    def fail_connect(self, kind: ErrorKind, detail: str) -> None:
        """Called by the connecting task when DNS, TCP connect or the TLS handshake failed."""
        self.connect_task = None
        self._die(kind, detail)

    # ----------------------------------------------------------------- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        tcp = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it
        self._transport = tcp
        if self.dead:
            tcp.abort()
            return
        now = monotonic_ns()
        opener = self.opener
        if opener is not None and self._waiting and self._waiting[0] is opener:
            opener.exchange.connect_ns = self.connect_ns
            if self.tls_start_ns:
                opener.exchange.tls_ns = now - self.tls_start_ns
        if self._tls:
            ssl_object = cast(ssl.SSLObject | None, tcp.get_extra_info("ssl_object"))
            chosen = ssl_object.selected_alpn_protocol() if ssl_object is not None else None
            if chosen != "h2":
                detail = "server did not negotiate h2 (ALPN)"
                self._die(ErrorKind.PROTOCOL, f"{detail}; it chose {chosen}" if chosen else detail)
                return
        self._mux.initiate()
        self.ready = True
        self._batching = True
        waiting, self._waiting = self._waiting, []
        for stream in waiting:
            self.start(stream)
        self._batching = False
        self._flush()
        self._deliver()

    def data_received(self, data: bytes) -> None:
        if self.dead:
            return
        if not self._any_byte:
            self._any_byte = True
            if data.startswith(b"HTTP/1."):  # h2 would wait for a 4.7 MB "frame" instead
                self._die(ErrorKind.PROTOCOL, _NOT_H2C)
                return
        self._batching = True
        try:
            self._mux.receive(data, monotonic_ns())
        except h2.exceptions.H2Error as exc:
            self._batching = False
            self._flush()  # h2 queued a GOAWAY naming the error
            self._die(ErrorKind.PROTOCOL, f"HTTP/2 protocol error: {exc}")
            return
        self._settle()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.dead:
            return
        if isinstance(exc, OSError):
            kind, detail = classify_os_error(exc, connecting=False)
            if exc.errno is not None and not isinstance(exc, ssl.SSLError):
                self._errnos[detail] = self._errnos.get(detail, 0) + 1
        elif exc is not None:
            kind, detail = ErrorKind.OTHER, f"{type(exc).__name__}: {exc}"
        else:
            kind = ErrorKind.CLOSED
            detail = self._mux.goaway_detail or "connection closed by the server"
        self._die(kind, detail)

    # ----------------------------------------------------------------- settling

    def _settle(self) -> None:
        """Act on what the multiplexer left: retries, a GOAWAY, free slots, completions, bytes.

        Everything written meanwhile (acknowledgements, streams the pool starts, requests the
        callbacks submit) goes out in the one flush at the end.
        """
        mux = self._mux
        owner = self._owner
        self._batching = True
        if mux.retry:
            retry, mux.retry = mux.retry, []
            owner._retry(retry)
            mux.freed = True
        if mux.draining and not self._told_draining:
            self._told_draining = True
            owner._on_draining(self)
        if mux.freed:
            mux.freed = False
            owner._on_capacity(self)
        self._deliver()
        self._batching = False
        self._flush()
        if mux.draining and not mux.streams:
            self._die(ErrorKind.CLOSED, mux.goaway_detail)  # nothing left to fail

    def _drain_exhausted(self) -> None:
        mux = self._mux
        if self.dead or mux.draining:
            return
        mux.draining = True
        mux.goaway_detail = "closed: stream ids exhausted"
        self._settle()

    def _flush(self) -> None:
        mux = self._mux
        data = mux.data_to_send()
        transport = self._transport
        if data and transport is not None and not self.dead:
            transport.write(data)
        if mux.unsent:
            now = monotonic_ns()
            for stream in mux.unsent:
                ex = stream.exchange
                if not ex.done_ns:
                    ex.sent_ns = now
            mux.unsent.clear()

    def _deliver(self) -> None:
        """Call ``on_done`` for completed streams, with writes batched (see the module)."""
        mux = self._mux
        outer = self._batching
        self._batching = True
        while mux.done:
            done, mux.done = mux.done, []
            for stream in done:
                try:
                    stream.on_done(stream.exchange)
                except Exception as exc:
                    self._report(exc)
        self._batching = outer
        if not outer:
            self._flush()

    def _die(self, kind: ErrorKind, detail: str) -> None:
        """Fail every stream left, release the socket and leave the owner (exactly once)."""
        if self.dead:
            return
        self.dead = True
        self.ready = False
        now = monotonic_ns()
        mux = self._mux
        for stream in self._waiting:
            mux.fail(stream, kind, detail, now)
        self._waiting.clear()
        mux.fail_all(kind, detail, now)
        if self._transport is not None:
            self._transport.abort()
        task = self.connect_task
        if task is not None:
            self.connect_task = None
            task.cancel()
        if mux.retry:  # left by a read that then broke the protocol
            retry, mux.retry = mux.retry, []
            self._owner._retry(retry)
        self._owner._on_closed(self)
        if not self._batching:
            self._deliver()

    def _report(self, exc: Exception) -> None:
        self._loop.call_exception_handler(
            {"message": "perflab: an on_done callback raised", "exception": exc, "protocol": self}
        )
