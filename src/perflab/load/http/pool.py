"""Connection pool for one origin: keep-alive reuse, a connection limit, and timeouts.

Each request goes to the most recently freed idle connection (LIFO: a steady load keeps few
connections warm), else to a new connection while fewer than ``limit`` are open, else into a
FIFO queue served as connections free up. A caller that knows more connections would not help
(``grow=False``: the open model, when the generator itself is behind) queues as long as one
connection is open, and until a request may grow the pool again, queued requests do not open
connections either.

Timeouts: the connect timeout (DNS + TCP + TLS handshake) is one timer per *connection*; the
request timeout is one periodic sweep per pool, not a timer per request, so a request may run
up to ``request_timeout_s + sweep_interval_s`` before it fails. It runs from ``start_ns``:
time queued for a connection is not limited (the caller bounds its in-flight requests).

Stale keep-alive connections: when a reused connection closes or resets before any byte of
the response, the request is re-sent once on a fresh connection, as browsers do: the server
closed the idle connection while the request was on the way, so it did not act on it.
``Exchange.retried`` and ``retries_total`` record it.

Closing: :meth:`aclose` completes every queued and in-flight exchange with
``ErrorKind.CLOSED`` ("pool closed"), and so are requests submitted afterwards (on the next
loop iteration). Every method must be called from the loop's thread.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections import deque
from time import monotonic_ns
from typing import Any

from perflab.load.http.connection import Connection, Lane, OnDone, Owner, Pending
from perflab.load.http.exchange import ErrorKind, Exchange, classify_os_error
from perflab.load.http.tls import make_ssl_context
from perflab.load.http.url import Origin

_Address = tuple[int, Any]  # (family, sockaddr)


class ConnectionPool:
    """HTTP/1.1 connections to one origin, shared by every request submitted to it.

    Invariants: a connection is in ``_conns`` (shared) or ``_pinned`` from when it starts
    connecting until it closes; a live connection in ``_idle`` has no exchange (dead ones
    are skipped when popped, so a close costs O(1)); the queue is non-empty only while
    ``limit`` connections are open and none is idle.
    """

    def __init__(
        self,
        origin: Origin,
        *,
        loop: asyncio.AbstractEventLoop,
        limit: int | None = None,
        connect_timeout_s: float = 10.0,
        request_timeout_s: float = 60.0,
        ssl_context: ssl.SSLContext | None = None,
        sweep_interval_s: float = 0.05,
        max_connecting: int = 8,
    ) -> None:
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        if min(connect_timeout_s, request_timeout_s, sweep_interval_s) <= 0:
            raise ValueError("timeouts and the sweep interval must be positive")
        if ssl_context is not None and not origin.is_tls:
            raise ValueError(f"ssl_context given for the plain-HTTP origin {origin}")
        self.origin = origin
        self._loop = loop
        self._limit = limit
        self._connect_timeout_s = connect_timeout_s
        self._request_timeout_s = request_timeout_s
        self._sweep_interval_s = sweep_interval_s
        self._ssl = (ssl_context or make_ssl_context()) if origin.is_tls else None
        self._idle: list[Connection] = []  # a stack: the most recently used on top
        self._conns: set[Connection] = set()
        self._pinned: set[Connection] = set()
        self._queue: deque[Pending] = deque()
        self._addrs: list[_Address] | None = _numeric_address(origin)
        self._resolving: asyncio.Task[list[_Address]] | None = None
        self._sweep_handle: asyncio.TimerHandle | None = None
        self._closed = False
        self._max_connecting = max_connecting
        self._connecting = 0
        self._grow = True  # the last submit's ``grow``
        self.connects_total = 0
        """TCP connections established (before TLS) since the pool was created."""
        self.retries_total = 0
        """Requests re-sent because a reused connection closed before responding."""
        self.errors_by_errno: dict[str, int] = {}
        """Socket-level errors by errno name (connect and established connections)."""

    # ----------------------------------------------------------------- submitting

    def submit(
        self,
        wire: bytes,
        on_done: OnDone,
        *,
        keep_body: bool = False,
        exchange: Exchange | None = None,
        grow: bool = True,
    ) -> None:
        """Run one request; ``on_done(exchange)`` is called exactly once when it ends.

        Args:
            wire: the complete request (see ``RequestSpec.wire``), built once by the caller.
            on_done: receives the exchange, failed or not; failures are data, never raised.
                Exceptions it raises go to the loop's exception handler.
            keep_body: keep response headers and body on the exchange (else counted only).
            exchange: a fresh record to fill (e.g. a subclass carrying the caller's own
                fields, such as the intended start time); a new one when None.
            grow: when no connection is idle, open one (under the limits); when False, wait
                for one to free up instead, unless none is open. Holds for the queue until
                the next request that may grow the pool.
        """
        ex = Exchange() if exchange is None else exchange
        now = monotonic_ns()
        ex.queued_ns = now
        self._grow = grow
        idle = self._idle
        while idle:
            conn = idle.pop()
            if not conn.dead:  # dead ones are left in the stack by _on_closed
                ex.start_ns = now
                conn.send(ex, wire, on_done, keep_body)
                return
        if self._closed:
            self._reject((ex, wire, on_done, keep_body))
        elif self._may_grow() and self._can_open():
            ex.start_ns = now
            self._open(self, self._conns, (ex, wire, on_done, keep_body))
        else:
            self._queue.append((ex, wire, on_done, keep_body))

    def _may_grow(self) -> bool:
        return self._grow or not self._conns

    def _can_open(self) -> bool:
        """Under the limit, and not already connecting ``max_connecting`` at once.

        The second condition stops a connection storm: when a burst finds no idle connection,
        opening one per request would cost ~100 µs of CPU each and make the burst worse;
        instead requests queue for whichever connection frees up or connects first.
        """
        return (self._limit is None or len(self._conns) < self._limit) and (
            self._connecting < self._max_connecting
        )

    async def warm(self, count: int) -> int:
        """Open up to ``count`` idle connections ahead of the load; returns how many are idle.

        Failures are not raised (the load will meet them as data); this only saves the first
        requests of a run from paying for connection setup.
        """
        room = count - len(self._conns)
        if self._limit is not None:
            room = min(room, self._limit - len(self._conns))
        tasks = []
        for _ in range(max(0, room)):
            conn = Connection(self, self._loop, self.errors_by_errno)
            self._conns.add(conn)
            self._connecting += 1
            conn.connect_task = self._loop.create_task(self._connect(conn, Exchange()))
            tasks.append(conn.connect_task)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        return self.idle

    async def request(self, wire: bytes, *, keep_body: bool = True) -> Exchange:
        """Await one exchange (for scripted scenarios; the engine uses :meth:`submit`)."""
        future: asyncio.Future[Exchange] = self._loop.create_future()
        self.submit(wire, _resolver(future), keep_body=keep_body)
        return await future

    def pin(self, lane: Lane | None = None) -> PinnedConnection:
        """A dedicated connection for one virtual user (closed model); see PinnedConnection."""
        return PinnedConnection(self, lane)

    # ----------------------------------------------------------------- state

    @property
    def idle(self) -> int:
        shared = sum(1 for c in self._idle if not c.dead)
        return shared + sum(1 for c in self._pinned if c.connected and not c.busy)

    @property
    def open(self) -> int:
        """Connections established or being established, shared and pinned."""
        return len(self._conns) + len(self._pinned)

    @property
    def queued(self) -> int:
        return len(self._queue)

    @property
    def in_flight(self) -> int:
        return sum(1 for c in self._conns if c.busy) + sum(1 for c in self._pinned if c.busy)

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
        tasks = [c.connect_task for c in (*self._conns, *self._pinned) if c.connect_task]
        for conn in [*self._conns, *self._pinned]:
            conn.expire(ErrorKind.CLOSED, "pool closed")
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._resolving is not None:
            self._resolving.cancel()
        await asyncio.sleep(0)  # let the aborted transports deliver connection_lost

    # ----------------------------------------------------------------- owner's interface

    def _on_idle(self, conn: Connection) -> None:
        queue = self._queue
        if queue:
            ex, wire, on_done, keep_body = queue.popleft()
            ex.start_ns = monotonic_ns()
            conn.send(ex, wire, on_done, keep_body)
        else:
            self._idle.append(conn)

    def _on_closed(self, conn: Connection, retry: Pending | None) -> None:
        self._conns.discard(conn)  # if idle, it stays in _idle until popped and skipped
        if retry is not None:
            self._retry(self, self._conns, retry)
        if self._closed:
            return
        self._pump()

    def _pump(self) -> None:
        """Open connections for queued requests while the limits allow."""
        queue = self._queue
        while queue and not self._closed and self._may_grow() and self._can_open():
            pending = queue.popleft()
            pending[0].start_ns = monotonic_ns()
            self._open(self, self._conns, pending)

    # ----------------------------------------------------------------- connecting

    def _open(self, owner: Owner, registry: set[Connection], pending: Pending) -> Connection:
        """Start a connection for ``pending`` (whose ``start_ns`` is already set)."""
        ex, wire, on_done, keep_body = pending
        conn = Connection(owner, self._loop, self.errors_by_errno)
        ex.new_connection = True
        conn.attach(ex, wire, on_done, keep_body)
        registry.add(conn)
        self._connecting += 1
        conn.connect_task = self._loop.create_task(self._connect(conn, ex))
        if self._sweep_handle is None:
            self._sweep_handle = self._loop.call_later(self._sweep_interval_s, self._sweep)
        return conn

    def _retry(
        self, owner: Owner, registry: set[Connection], pending: Pending
    ) -> Connection | None:
        if self._closed:
            self._reject(pending)
            return None
        self.retries_total += 1
        return self._open(owner, registry, pending)

    async def _connect(self, conn: Connection, ex: Exchange) -> None:
        sock: socket.socket | None = None
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                addrs = self._addrs or await self._resolve()
                sock, ex.connect_ns = await self._tcp_connect(addrs)
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
        except OSError as exc:
            kind, detail = classify_os_error(exc, connecting=True)
            if exc.errno is not None and not isinstance(exc, ssl.SSLError):
                self.errors_by_errno[detail] = self.errors_by_errno.get(detail, 0) + 1
            conn.fail_connect(kind, detail)
        except Exception as exc:  # e.g. ValueError from the TLS layer: still data
            conn.fail_connect(ErrorKind.OTHER, f"{type(exc).__name__}: {exc}")
        finally:
            if sock is not None:
                sock.close()
            self._connecting -= 1
            if self._queue:
                self._pump()

    async def _tcp_connect(self, addrs: list[_Address]) -> tuple[socket.socket, int]:
        """Connect to the first address that accepts; returns the socket and connect time."""
        error: OSError | None = None
        for family, address in addrs:
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.setblocking(False)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                started = monotonic_ns()
                await self._loop.sock_connect(sock, address)
                return sock, monotonic_ns() - started
            except OSError as exc:
                sock.close()
                error = exc
            except BaseException:
                sock.close()
                raise
        assert error is not None  # addrs is never empty
        raise error

    async def _resolve(self) -> list[_Address]:
        """Resolve the host once for all connections; concurrent connects share the lookup."""
        if self._resolving is None:
            self._resolving = self._loop.create_task(self._lookup())
            self._resolving.add_done_callback(_forget_result)
        task = self._resolving
        try:
            return await asyncio.shield(task)
        finally:
            if task.done() and self._resolving is task:
                self._resolving = None

    async def _lookup(self) -> list[_Address]:
        infos = await self._loop.getaddrinfo(
            self.origin.host, self.origin.port, type=socket.SOCK_STREAM
        )
        if not infos:
            raise socket.gaierror(socket.EAI_NONAME, "no address")
        self._addrs = [(family, address) for family, _, _, _, address in infos]
        return self._addrs

    # ----------------------------------------------------------------- sweeping

    def _sweep(self) -> None:
        """Fail exchanges running longer than their timeout (from their ``start_ns``): the
        exchange's own ``timeout_ns`` when set (a script's per-request timeout), else the pool's."""
        self._sweep_handle = None
        if not self._conns and not self._pinned:
            return  # restarted by the next _open
        now = monotonic_ns()
        default_ns = int(self._request_timeout_s * 1e9)
        late = [
            (c, c.exchange.timeout_ns or default_ns)
            for c in (*self._conns, *self._pinned)
            if c.exchange is not None
            and now - c.exchange.start_ns >= (c.exchange.timeout_ns or default_ns)
        ]
        for conn, limit_ns in late:
            conn.expire(ErrorKind.TIMEOUT, f"no response within {limit_ns / 1e9:g}s")
        self._sweep_handle = self._loop.call_later(self._sweep_interval_s, self._sweep)

    def _reject(self, pending: Pending) -> None:
        """Complete a request that will never run because the pool or handle is closed.

        ``on_done`` runs on the next loop iteration, so a caller that resubmits from it
        cannot recurse; exceptions it raises reach the loop's exception handler.
        """
        ex, _, on_done, _ = pending
        ex.error = ErrorKind.CLOSED
        ex.error_detail = "pool closed"
        ex.done_ns = monotonic_ns()
        self._loop.call_soon(on_done, ex)


class PinnedConnection:
    """One dedicated connection for one virtual user: at most one request at a time.

    It connects on the first request, reconnects by itself on the next request after the
    server closed it or an error dropped it, and is retried like pooled connections. Pinned
    connections are not counted against the pool's ``limit`` but are swept for timeouts and
    closed by ``ConnectionPool.aclose``.
    """

    __slots__ = ("_closed", "_conn", "_pool", "lane")

    def __init__(self, pool: ConnectionPool, lane: Lane | None = None) -> None:
        """``lane``: let the connection repeat the last request by itself (see ``Lane``)."""
        self._pool = pool
        self._conn: Connection | None = None
        self._closed = False
        self.lane = lane

    @property
    def busy(self) -> bool:
        return self._conn is not None and self._conn.busy

    def submit(
        self,
        wire: bytes,
        on_done: OnDone,
        *,
        keep_body: bool = False,
        exchange: Exchange | None = None,
    ) -> None:
        """As ``ConnectionPool.submit``, on this connection.

        Raises:
            RuntimeError: when the previous request has not completed (a caller bug).
        """
        ex = Exchange() if exchange is None else exchange
        now = monotonic_ns()
        ex.queued_ns = now
        ex.start_ns = now
        conn = self._conn
        if conn is not None:
            if conn.exchange is not None:
                raise RuntimeError("a PinnedConnection runs one request at a time")
            conn.send(ex, wire, on_done, keep_body)
        elif self._closed or self._pool.closed:
            self._pool._reject((ex, wire, on_done, keep_body))
        else:
            self._conn = self._pool._open(self, self._pool._pinned, (ex, wire, on_done, keep_body))

    async def request(self, wire: bytes, *, keep_body: bool = True) -> Exchange:
        future: asyncio.Future[Exchange] = self._pool._loop.create_future()
        self.submit(wire, _resolver(future), keep_body=keep_body)
        return await future

    def close(self) -> None:
        """Drop the connection; a request in flight completes with ``ErrorKind.CLOSED``."""
        self._closed = True
        if self._conn is not None:
            self._conn.expire(ErrorKind.CLOSED, "connection closed")

    def _on_idle(self, conn: Connection) -> None:
        pass  # stays pinned: the next submit() reuses it

    def _on_closed(self, conn: Connection, retry: Pending | None) -> None:
        self._pool._pinned.discard(conn)
        if self._conn is conn:
            self._conn = None
        if retry is not None:
            if self._closed:
                self._pool._reject(retry)
            else:
                self._conn = self._pool._retry(self, self._pool._pinned, retry)


def _resolver(future: asyncio.Future[Exchange]) -> OnDone:
    def on_done(ex: Exchange) -> None:
        if not future.done():  # the awaiting task may have been cancelled
            future.set_result(ex)

    return on_done


def _forget_result(task: asyncio.Task[list[_Address]]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved: the waiters report it


def _numeric_address(origin: Origin) -> list[_Address] | None:
    """The address of an IP-literal host without a lookup; None for names."""
    try:
        infos = socket.getaddrinfo(
            origin.host, origin.port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST
        )
    except socket.gaierror:
        return None
    return [(family, address) for family, _, _, _, address in infos]
