"""HTTP/2 connections to one origin: usually one, multiplexing every request as a stream.

The pool mirrors ``perflab.load.http.pool.ConnectionPool.submit`` so that the callback-driven
executors can drive either protocol: requests go in with a callback, exchanges come out, and
failures are data.

Placement: while fewer than ``connections`` are open, a request opens a new connection (so
``connections=N`` really spreads the load over N); otherwise it goes to the open connection
with the most free stream slots under the server's MAX_CONCURRENT_STREAMS; when every
connection is full it waits in a FIFO queue, served as streams end. A connection still
connecting takes streams up to the assumed limit, so a burst shares one handshake.

GOAWAY: the connection takes no new streams and closes once its running streams end; those
up to the GOAWAY's last stream id may still be answered, and a new connection takes the rest.

Retries: a stream refused by the server (REFUSED_STREAM) or above a GOAWAY's last stream id
was never processed, so it is re-sent once, ahead of the queue; ``Exchange.retried`` and
``retries_total`` record it, and ``start_ns`` stays the first attempt's.

Timeouts: the connect timeout (DNS + TCP + TLS) is one timer per connection; request timeouts
are one periodic sweep per pool, so a request may run up to ``timeout + sweep_interval_s``.
They run from ``start_ns``: time queued for a stream slot is not limited. A late stream is
reset with CANCEL and its connection keeps serving the others.

Every method must be called from the loop's thread.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections import deque
from time import monotonic_ns

from perflab.errors import UsageError
from perflab.load.h2.connection import Connection
from perflab.load.h2.dial import Dialer, make_h2_ssl_context
from perflab.load.h2.request import request_headers
from perflab.load.h2.stream import OnDone, Stream
from perflab.load.http.exchange import ErrorKind, Exchange, classify_os_error
from perflab.load.http.url import Origin


class H2Pool:
    """HTTP/2 to one origin over h2c (prior knowledge) for ``http``, TLS + ALPN for ``https``.

    Invariants: ``_conns`` holds the connections neither dead nor draining, connecting ones
    included, and ``_draining`` those that got a GOAWAY and still run streams; the queue is
    non-empty only while ``connections`` are open and none has a free stream slot.
    """

    def __init__(
        self,
        origin: Origin,
        *,
        loop: asyncio.AbstractEventLoop,
        connect_timeout_s: float = 10.0,
        request_timeout_s: float = 60.0,
        ssl_context: ssl.SSLContext | None = None,
        connections: int = 1,
        sweep_interval_s: float = 0.05,
    ) -> None:
        """Create an idle pool; nothing connects before the first request.

        Args:
            ssl_context: for ``https`` origins; it must offer ``h2`` via ALPN (build it with
                ``make_h2_ssl_context``), else every request fails with PROTOCOL. Default:
                ``make_h2_ssl_context()``, verifying against the system store.
            connections: how many connections to spread streams over; one is what browsers
                use and what HTTP/2 is designed for.
        """
        if connections < 1:
            raise ValueError(f"connections must be at least 1, got {connections}")
        if min(connect_timeout_s, request_timeout_s, sweep_interval_s) <= 0:
            raise ValueError("timeouts and the sweep interval must be positive")
        if ssl_context is not None and not origin.is_tls:
            raise ValueError(f"ssl_context given for the plain-HTTP origin {origin}")
        self.origin = origin
        self._loop = loop
        self._connect_timeout_s = connect_timeout_s
        self._timeout_ns = int(request_timeout_s * 1e9)
        self._sweep_interval_s = sweep_interval_s
        self._connections = connections
        self._ssl = (ssl_context or make_h2_ssl_context()) if origin.is_tls else None
        self._dialer = Dialer(loop, origin)
        self._conns: list[Connection] = []
        self._draining: list[Connection] = []  # got a GOAWAY; their streams still run
        self._queue: deque[Stream] = deque()
        self._sweep_handle: asyncio.TimerHandle | None = None
        self._closed = False
        self.connects_total = 0
        """TCP connections established (before TLS) since the pool was created."""
        self.retries_total = 0
        """Requests re-sent because the server refused or never processed their stream."""
        self.errors_by_errno: dict[str, int] = {}
        """Socket-level errors by errno name (connect and established connections)."""

    # ----------------------------------------------------------------- submitting

    def submit(
        self,
        method: str,
        path: str,
        headers: tuple[tuple[str, str], ...],
        body: bytes,
        on_done: OnDone,
        *,
        keep_body: bool = False,
        exchange: Exchange | None = None,
        timeout_s: float | None = None,
    ) -> None:
        """Run one request; ``on_done(exchange)`` is called exactly once when it ends.

        Args:
            path: the request target, starting with ``/`` (query included).
            headers: as for HTTP/1.1; names are lower-cased, ``Host`` becomes ``:authority``
                and connection-specific fields are dropped (see ``request_headers``). An
                invalid method, path or header fails the exchange with ErrorKind.OTHER.
            on_done: receives the exchange, failed or not; failures are data, never raised.
                Exceptions it raises go to the loop's exception handler.
            keep_body: keep response headers (lower-case names, trailers appended) and body.
            exchange: a fresh record to fill (e.g. a subclass with the caller's own fields).
            timeout_s: this request's timeout; when None, the exchange's ``timeout_ns`` if
                set, else the pool's ``request_timeout_s``.
        """
        ex = Exchange() if exchange is None else exchange
        now = monotonic_ns()
        ex.queued_ns = now
        if timeout_s is not None:
            timeout_ns = int(timeout_s * 1e9)
        else:
            timeout_ns = ex.timeout_ns or self._timeout_ns
        if type(headers) is not tuple:  # the header-list cache needs a hashable key
            headers = tuple((name, value) for name, value in headers)
        try:
            fields = request_headers(self.origin, method, path, headers, len(body))
        except UsageError as exc:  # the engine validates specs first: a scripting mistake
            stream = Stream(ex, (), body, on_done, keep_body, timeout_ns)
            self._reject(stream, ErrorKind.OTHER, exc.message)
            return
        stream = Stream(ex, fields, body, on_done, keep_body, timeout_ns)
        if self._closed:
            self._reject(stream)
            return
        if len(self._conns) < self._connections:
            _begin(stream, now)
            self._open(stream)
            return
        conn = self._pick()
        if conn is None:
            self._queue.append(stream)
        else:
            _begin(stream, now)
            conn.start(stream)

    async def request(
        self,
        method: str,
        path: str,
        headers: tuple[tuple[str, str], ...] = (),
        body: bytes = b"",
        *,
        keep_body: bool = True,
        timeout_s: float | None = None,
    ) -> Exchange:
        """Await one exchange (for scripted scenarios; the engine uses :meth:`submit`)."""
        future: asyncio.Future[Exchange] = self._loop.create_future()

        def on_done(ex: Exchange) -> None:
            if not future.done():  # the awaiting task may have been cancelled
                future.set_result(ex)

        self.submit(method, path, headers, body, on_done, keep_body=keep_body, timeout_s=timeout_s)
        return await future

    def _pick(self) -> Connection | None:
        best: Connection | None = None
        room = 0
        for conn in self._conns:
            free = conn.capacity
            if free > room:
                best, room = conn, free
        return best

    # ----------------------------------------------------------------- state

    @property
    def open(self) -> int:
        """Connections established or being established, draining ones included."""
        return len(self._conns) + len(self._draining)

    @property
    def queued(self) -> int:
        return len(self._queue)

    @property
    def in_flight(self) -> int:
        """Requests on a connection (streams open, or waiting for it to connect)."""
        return sum(conn.in_flight for conn in (*self._conns, *self._draining))

    @property
    def closed(self) -> bool:
        return self._closed

    async def aclose(self) -> None:
        """Close every connection; pending exchanges complete with ``ErrorKind.CLOSED``."""
        if self._closed:
            return
        self._closed = True
        if self._sweep_handle is not None:
            self._sweep_handle.cancel()
            self._sweep_handle = None
        while self._queue:
            self._reject(self._queue.popleft())
        tasks = [c.connect_task for c in self._conns if c.connect_task is not None]
        for conn in [*self._conns, *self._draining]:
            conn.close(ErrorKind.CLOSED, "pool closed")
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.sleep(0)  # let the aborted transports deliver connection_lost

    # ----------------------------------------------------------------- owner's interface

    def _on_capacity(self, conn: Connection) -> None:
        queue = self._queue
        if not queue:
            return
        now = monotonic_ns()
        while queue and conn.capacity > 0:
            stream = queue.popleft()
            _begin(stream, now)
            conn.start(stream)

    def _on_draining(self, conn: Connection) -> None:
        """A GOAWAY: the connection finishes its streams, a new one takes the new ones."""
        if conn in self._conns:
            self._conns.remove(conn)
            self._draining.append(conn)
        if not self._closed:
            self._pump()

    def _on_closed(self, conn: Connection) -> None:
        if conn in self._conns:
            self._conns.remove(conn)
        elif conn in self._draining:
            self._draining.remove(conn)
        if not self._closed:
            self._pump()

    def _retry(self, streams: list[Stream]) -> None:
        """Put never-processed streams back at the head of the queue, in their order."""
        for stream in reversed(streams):
            stream.reset_for_retry()
            if self._closed:
                self._reject(stream)
            else:
                self.retries_total += 1
                self._queue.appendleft(stream)

    def _pump(self) -> None:
        queue = self._queue
        while queue and not self._closed:
            now = monotonic_ns()
            if len(self._conns) < self._connections:
                stream = queue.popleft()
                _begin(stream, now)
                self._open(stream)
                continue
            conn = self._pick()
            if conn is None:
                return
            stream = queue.popleft()
            _begin(stream, now)
            conn.start(stream)

    # ----------------------------------------------------------------- connecting

    def _open(self, stream: Stream) -> None:
        conn = Connection(self, self._loop, self.errors_by_errno, tls=self._ssl is not None)
        stream.exchange.new_connection = True
        conn.opener = stream
        conn.start(stream)  # waits in the connection until it is ready
        self._conns.append(conn)
        conn.connect_task = self._loop.create_task(self._connect(conn))
        if self._sweep_handle is None:
            self._sweep_handle = self._loop.call_later(self._sweep_interval_s, self._sweep)

    async def _connect(self, conn: Connection) -> None:
        sock: socket.socket | None = None
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                sock, conn.connect_ns = await self._dialer.connect()
                self.connects_total += 1
                if self._ssl is not None:
                    conn.tls_start_ns = monotonic_ns()
                plain, sock = sock, None  # from here on the transport owns the socket
                await self._loop.create_connection(
                    lambda: conn,
                    sock=plain,
                    ssl=self._ssl,
                    server_hostname=self.origin.host if self._ssl is not None else None,
                )
            conn.connect_task = None
        except TimeoutError:
            conn.fail_connect(
                ErrorKind.CONNECT_TIMEOUT, f"not connected within {self._connect_timeout_s:g}s"
            )
        except socket.gaierror as exc:
            conn.fail_connect(ErrorKind.DNS, f"{self.origin.host}: {exc.strerror}")
        except ssl.SSLError as exc:
            if exc.reason == "NO_APPLICATION_PROTOCOL":  # the server refused ALPN h2 outright
                conn.fail_connect(ErrorKind.PROTOCOL, "server did not negotiate h2 (ALPN)")
            else:
                conn.fail_connect(*classify_os_error(exc, connecting=True))
        except OSError as exc:
            kind, detail = classify_os_error(exc, connecting=True)
            if exc.errno is not None:
                self.errors_by_errno[detail] = self.errors_by_errno.get(detail, 0) + 1
            conn.fail_connect(kind, detail)
        except Exception as exc:  # e.g. ValueError from the TLS layer: still data
            conn.fail_connect(ErrorKind.OTHER, f"{type(exc).__name__}: {exc}")
        finally:
            if sock is not None:
                sock.close()

    # ----------------------------------------------------------------- sweeping

    def _sweep(self) -> None:
        """Fail streams running past their deadline; runs while any connection is open."""
        self._sweep_handle = None
        if not self._conns and not self._draining:
            return  # restarted by the next _open
        now = monotonic_ns()
        for conn in [*self._conns, *self._draining]:
            conn.expire_late(now)
        if (self._conns or self._draining) and not self._closed:
            self._sweep_handle = self._loop.call_later(self._sweep_interval_s, self._sweep)

    def _reject(
        self, stream: Stream, kind: ErrorKind = ErrorKind.CLOSED, detail: str = "pool closed"
    ) -> None:
        """Complete a request that will never run: the pool is closed, or it is invalid.

        ``on_done`` runs on the next loop iteration, so a caller that resubmits from it
        cannot recurse.
        """
        ex = stream.exchange
        ex.error = kind
        ex.error_detail = detail
        ex.done_ns = monotonic_ns()
        self._loop.call_soon(stream.on_done, ex)


def _begin(stream: Stream, now: int) -> None:
    """Start the clock of a request taken onto a connection (a retry keeps its first start)."""
    ex = stream.exchange
    if not ex.start_ns:
        ex.start_ns = now
        stream.deadline_ns = now + stream.timeout_ns
