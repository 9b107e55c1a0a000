"""A virtual user's HTTP session: base URL, default headers, its own cookie jar and
connections, checks, and transactions.

Every request goes through the engine's HTTP/1.1 client and is recorded like a URL-mode
request (under ``name``, default ``METHOD /path``), so latency histograms, error kinds and
thresholds work the same. A request never raises for an HTTP or network failure: the
:class:`~perflab.load.script.response.Response` says what happened, checks count it.

Serialising a request (URL parsing, header validation) is cached per distinct request in
the worker, so a task that sends the same request every iteration pays for it once.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Protocol
from urllib.parse import urlencode

from perflab.errors import UsageError
from perflab.load.h2 import H2Pool
from perflab.load.http.exchange import Exchange
from perflab.load.http.pool import ConnectionPool, PinnedConnection
from perflab.load.http.request import RequestSpec
from perflab.load.http.tls import make_ssl_context
from perflab.load.http.url import Origin, Target, parse_url
from perflab.load.recorder import Recorder
from perflab.load.script.checks import Check
from perflab.load.script.cookies import CookieJar
from perflab.load.script.response import Response
from perflab.load.ws import WebSocketError, WebSocketSession

WIRE_CACHE_MAX = 20_000
_NO_JSON: Any = object()
Params = Mapping[str, Any] | Sequence[tuple[str, Any]] | None


class CheckError(AssertionError):
    """A ``required=True`` check failed: the iteration stops here."""


class SessionHost(Protocol):
    """What a session needs from the worker's runtime."""

    loop: asyncio.AbstractEventLoop
    recorder: Recorder
    shared_connections: bool
    http2: bool
    tls_insecure: bool
    ca_file: str | None
    wire_cache: dict[tuple[Any, ...], tuple[Target, bytes]]

    def pool(self, origin: Origin) -> ConnectionPool: ...

    def h2(self, origin: Origin) -> H2Pool: ...


class Session:
    def __init__(
        self, host: SessionHost, base_url: str, headers: Mapping[str, str] | None = None
    ) -> None:
        self._host = host
        self.base_url = base_url.rstrip("/")
        self.headers: dict[str, str] = dict(headers or {})
        """Sent with every request of this user (e.g. ``Authorization`` after logging in)."""
        self.cookies = CookieJar()
        self._pinned: dict[Origin, PinnedConnection] = {}
        self._transactions: list[list[bool]] = []
        self._websockets: list[WebSocketSession] = []

    # ---- requests ----------------------------------------------------------------------
    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Params = None,
        headers: Mapping[str, str] | None = None,
        json: Any = _NO_JSON,
        data: Mapping[str, Any] | str | bytes | None = None,
        name: str | None = None,
        timeout: float | None = None,
        checks: Sequence[Check] = (),
        required: bool = False,
    ) -> Response:
        """Send one request and wait for its response.

        ``url`` is absolute or a path under the base URL; ``params`` become the query string;
        ``json`` (any JSON value), or ``data`` (a dict is form-encoded, str/bytes sent as
        is) is the body; ``name`` groups the metric (``/items/{id}``); ``timeout`` in
        seconds; ``checks`` are evaluated and counted; they do not raise unless
        ``required=True``, when the first failed check raises :class:`CheckError` and so
        ends the iteration (counted like any exception of the task).
        """
        method = method.upper()
        full = self._url(url, params)
        body, content_type = _body(json, data)
        merged = self._merge_headers(headers, content_type)
        host = self._host
        if host.http2:
            target = self._target(full)
            merged = self._with_cookies(target, merged)
            exchange = await self._send_h2(target, method, merged, body, timeout)
        else:
            target, wire = self._wire(method, full, merged, body)
            if self.cookies:
                with_cookies = self._with_cookies(target, merged)
                if with_cookies is not merged:
                    target, wire = self._wire(method, full, with_cookies, body)
            exchange = await self._send(target, wire, timeout)
        label = name or f"{method} {target.path.split('?', 1)[0]}"
        return self._observe(Response(exchange, method, full, label), target, checks, required)

    def _observe(
        self, response: Response, target: Target, checks: Sequence[Check], required: bool
    ) -> Response:
        """Record the exchange, keep its cookies, run the checks."""
        host, exchange, label = self._host, response.exchange, response.name
        interval = host.recorder.name(label)
        interval.add(exchange, exchange.queued_ns, corrected=True)
        if exchange.headers:
            cookies = response.header_values("set-cookie")
            if cookies:
                self.cookies.update_from(cookies, target.origin.host, target.path)
        failed = not response.ok
        first_failed: Check | None = None
        for check in checks:
            passed = check(response)
            host.recorder.check(check.name, passed, interval)
            if not passed and first_failed is None:
                first_failed = check
        if failed or first_failed is not None:
            for flags in self._transactions:
                flags[0] = True
        if required and first_failed is not None:
            raise CheckError(f"{label}: check {first_failed.name!r} failed ({response!r})")
        return response

    async def get(self, url: str, **kw: Any) -> Response:
        return await self.request("GET", url, **kw)

    async def post(self, url: str, **kw: Any) -> Response:
        return await self.request("POST", url, **kw)

    async def put(self, url: str, **kw: Any) -> Response:
        return await self.request("PUT", url, **kw)

    async def patch(self, url: str, **kw: Any) -> Response:
        return await self.request("PATCH", url, **kw)

    async def delete(self, url: str, **kw: Any) -> Response:
        return await self.request("DELETE", url, **kw)

    async def head(self, url: str, **kw: Any) -> Response:
        return await self.request("HEAD", url, **kw)

    async def options(self, url: str, **kw: Any) -> Response:
        return await self.request("OPTIONS", url, **kw)

    # ---- grouping and waiting ------------------------------------------------------------
    @contextmanager
    def transaction(self, name: str) -> Iterator[None]:
        """Time the requests inside as one named step, reported beside the requests.

        It fails when a request in it failed (transport error, status >= 400 or a failed
        check) or an exception left it.
        """
        flags = [False]
        self._transactions.append(flags)
        started = time.monotonic_ns()
        try:
            yield
        except BaseException:
            flags[0] = True
            raise
        finally:
            self._transactions.remove(flags)
            self._host.recorder.group(name, "transaction").add(
                (time.monotonic_ns() - started) // 1000, failed=flags[0]
            )

    async def sleep(self, seconds: float) -> None:
        """Think time inside an iteration (between steps of a journey)."""
        await asyncio.sleep(seconds)

    async def websocket(
        self,
        url: str,
        *,
        name: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 10.0,
    ) -> WebSocketSession:
        """Open a WebSocket (``ws://``/``wss://``, or a path under the base URL).

        The opening is recorded as ``WS connect NAME`` and each ``send_recv(data, timeout_s,
        name=...)`` round trip as ``WS NAME``, beside the requests; the session's cookies
        and default headers go with the upgrade request. Closed when the user stops.
        Raises :class:`~perflab.load.ws.WebSocketError` when it cannot connect.
        """
        full = (
            url if "://" in url else f"{self.base_url}{url if url.startswith('/') else '/' + url}"
        )
        full = "ws" + full[4:] if full.startswith("http") else full
        label = name or full.split("://", 1)[-1].split("/", 1)[-1].split("?", 1)[0]
        target = self._target("http" + full[2:])
        merged = self._with_cookies(target, self._merge_headers(headers, None))
        recorder = self._host.recorder
        ssl_ctx = None
        if full.startswith("wss://"):
            ssl_ctx = make_ssl_context(insecure=self._host.tls_insecure, ca_file=self._host.ca_file)

        def on_latency(message_name: str, latency_ns: int) -> None:
            recorder.group(f"WS {message_name}", "websocket").add(latency_ns // 1000, failed=False)

        connect_group = recorder.group(f"WS connect {label}", "websocket")
        try:
            ws = await WebSocketSession.connect(
                full,
                headers=merged,
                timeout_s=timeout,
                ssl_context=ssl_ctx,
                on_message_latency=on_latency,
            )
        except WebSocketError:
            connect_group.add(0, failed=True)
            raise
        connect_group.add(ws.connect_ns // 1000, failed=False)
        self._websockets.append(ws)
        return ws

    def close(self) -> None:
        for conn in self._pinned.values():
            conn.close()
        self._pinned.clear()

    async def aclose(self) -> None:
        """Close the user's WebSockets and connections (its HTTP/2 pool is shared)."""
        sockets, self._websockets = self._websockets, []
        for ws in sockets:
            await ws.close()
        self.close()

    def _url(self, url: str, params: Params) -> str:
        full = url if "://" in url else f"{self.base_url}{'' if url[:1] == '/' else '/'}{url}"
        if params:
            full += ("&" if "?" in full else "?") + urlencode(params, doseq=True)
        return full

    def _with_cookies(
        self, target: Target, headers: tuple[tuple[str, str], ...]
    ) -> tuple[tuple[str, str], ...]:
        if not self.cookies:
            return headers
        cookie = self.cookies.header(target.origin.host, target.path, secure=target.origin.is_tls)
        return (*headers, ("Cookie", cookie)) if cookie else headers

    def _target(self, url: str) -> Target:
        cache = self._host.wire_cache
        key = ("target", url)
        hit = cache.get(key)
        if hit is None:
            if len(cache) >= WIRE_CACHE_MAX:
                cache.clear()
            hit = cache[key] = (parse_url(url), b"")
        return hit[0]

    async def _send_h2(
        self,
        target: Target,
        method: str,
        headers: tuple[tuple[str, str], ...],
        body: bytes,
        timeout: float | None,
    ) -> Exchange:
        future: asyncio.Future[Exchange] = self._host.loop.create_future()

        def done(ex: Exchange) -> None:
            if not future.done():
                future.set_result(ex)

        if timeout is not None and timeout <= 0:
            raise UsageError(f"request timeout must be positive, got {timeout!r}")
        self._host.h2(target.origin).submit(
            method, target.path, headers, body, done, keep_body=True, timeout_s=timeout
        )
        return await future

    # ---- internals -----------------------------------------------------------------------
    def _merge_headers(
        self, headers: Mapping[str, str] | None, content_type: str | None
    ) -> tuple[tuple[str, str], ...]:
        if not self.headers and not headers and content_type is None:
            return ()
        merged = {k.lower(): (k, v) for k, v in self.headers.items()}
        if content_type is not None:
            merged.setdefault("content-type", ("Content-Type", content_type))
        for k, v in (headers or {}).items():
            merged[k.lower()] = (k, v)
        return tuple(merged.values())

    def _wire(
        self, method: str, url: str, headers: tuple[tuple[str, str], ...], body: bytes
    ) -> tuple[Target, bytes]:
        cache = self._host.wire_cache
        key = (method, url, headers, body)
        hit = cache.get(key)
        if hit is not None:
            return hit
        target = parse_url(url)
        built = target, RequestSpec(method, target, headers, body).wire()
        if len(cache) >= WIRE_CACHE_MAX:
            cache.clear()  # per-user URLs (ids, tokens) must not grow it without bound
        cache[key] = built
        return built

    async def _send(self, target: Target, wire: bytes, timeout: float | None) -> Exchange:
        host = self._host
        loop = host.loop
        future: asyncio.Future[Exchange] = loop.create_future()

        def done(ex: Exchange) -> None:
            if not future.done():
                future.set_result(ex)

        exchange = Exchange()
        if timeout is not None:
            if timeout <= 0:
                raise UsageError(f"request timeout must be positive, got {timeout!r}")
            exchange.timeout_ns = int(timeout * 1e9)
        origin = target.origin
        conn: PinnedConnection | ConnectionPool
        if host.shared_connections:
            conn = host.pool(origin)
        else:
            pinned = self._pinned.get(origin)
            if pinned is None:
                pinned = self._pinned[origin] = host.pool(origin).pin()
            # Requests sent concurrently by one user (asyncio.gather) use the shared pool.
            conn = host.pool(origin) if pinned.busy else pinned
        conn.submit(wire, done, keep_body=True, exchange=exchange)
        return await future


def _body(json: Any, data: Mapping[str, Any] | str | bytes | None) -> tuple[bytes, str | None]:
    if json is not _NO_JSON:
        if data is not None:
            raise UsageError("give json= or data=, not both")
        return jsonlib.dumps(json, separators=(",", ":")).encode(), "application/json"
    if data is None:
        return b"", None
    if isinstance(data, bytes):
        return data, None
    if isinstance(data, str):
        return data.encode(), None
    return urlencode(data, doseq=True).encode(), "application/x-www-form-urlencoded"
