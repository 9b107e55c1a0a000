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
from perflab.load.http.exchange import Exchange
from perflab.load.http.pool import ConnectionPool, PinnedConnection
from perflab.load.http.request import RequestSpec
from perflab.load.http.url import Origin, Target, parse_url
from perflab.load.recorder import Recorder
from perflab.load.script.checks import Check
from perflab.load.script.cookies import CookieJar
from perflab.load.script.response import Response

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
    wire_cache: dict[tuple[Any, ...], tuple[Target, bytes]]

    def pool(self, origin: Origin) -> ConnectionPool: ...


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
        if "://" in url:
            full = url
        else:
            full = f"{self.base_url}{url if url.startswith('/') else '/' + url}"
        if params:
            full += ("&" if "?" in full else "?") + urlencode(params, doseq=True)
        body, content_type = _body(json, data)
        merged = self._merge_headers(headers, content_type)
        target, wire = self._wire(method, full, merged, body)
        if self.cookies:
            cookie = self.cookies.header(
                target.origin.host, target.path, secure=target.origin.is_tls
            )
            if cookie:
                merged = (*merged, ("Cookie", cookie))
                target, wire = self._wire(method, full, merged, body)
        label = name or f"{method} {target.path.split('?', 1)[0]}"
        exchange = await self._send(target, wire, timeout)
        host = self._host
        interval = host.recorder.name(label)
        interval.add(exchange, exchange.queued_ns, corrected=True)
        response = Response(exchange, method, full, label)
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

    def close(self) -> None:
        for conn in self._pinned.values():
            conn.close()
        self._pinned.clear()

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
