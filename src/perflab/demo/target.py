"""The demo target: a small shop API that perflab's examples and ``perflab demo`` load-test.

It behaves like a real service on purpose: logins hand out tokens that later requests must
carry (correlation), carts and checkouts write to SQLite in transactions, ``/search`` has a
long-tailed latency and ``/recommendations`` fails now and then, so percentiles, error
counting and journeys all have something to show. Both random draws come from seeded
generators, one per endpoint, so one endpoint's traffic never shifts the other's sequence.

Run it with ``python -m perflab.demo.target --port 0``; it prints ``READY <url>`` once listening.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import math
import os
import random
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Generator, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from perflab.demo.shopdb import EmptyCart, OutOfStock, Session, ShopDB, ShopError, UnknownItem
from perflab.errors import UsageError

__all__ = ["create_app", "loopback_address", "main", "serve"]

# Log-normal /search delay: median 5 ms and p99 100 ms give sigma = ln(20) / z(0.99).
SEARCH_MEDIAN_S = 0.005
SEARCH_SIGMA = math.log(0.100 / SEARCH_MEDIAN_S) / 2.3263
SEARCH_CAP_S = 1.0
RECOMMENDATION_FAILURE_RATE = 0.02
MAX_PER_PAGE = 100
MAX_QTY = 1_000_000_000
MAX_ID = 2**62  # beyond SQLite's integer range the driver raises instead of finding nothing

_STATUS_FOR: Mapping[type[Exception], int] = {UnknownItem: 404, OutOfStock: 409, EmptyCart: 409}
_BEARER = {"WWW-Authenticate": "Bearer"}


def loopback_address(host: str) -> str:
    """The loopback IP to bind for ``host``; anything else is refused.

    The shop has well-known passwords and no rate limits, so it must never be reachable from
    another machine.
    """
    try:
        address = ipaddress.ip_address("127.0.0.1" if host == "localhost" else host)
    except ValueError:
        address = None
    if address is None or not address.is_loopback:
        raise UsageError(
            f"refusing to serve the demo target on {host!r}: only loopback addresses are allowed",
            hint="use 127.0.0.1; the demo shop has fixed passwords and must stay on this machine",
        )
    return str(address)


def _error(status: int, detail: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": detail}, status_code=status, headers=headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return _error(exc.status_code, exc.detail, exc.headers)


async def _shop_error(request: Request, exc: Exception) -> Response:
    return _error(_STATUS_FOR.get(type(exc), 400), str(exc))


async def _server_error(request: Request, exc: Exception) -> Response:
    return _error(500, "internal error")


async def _fields(request: Request) -> dict[str, Any]:
    """The body as a dict, from JSON or a form: load-test scenarios post either."""
    body = await request.body()
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return dict(parse_qsl(body.decode("utf-8", "replace")))
    try:
        fields = json.loads(body)
    except ValueError:
        raise HTTPException(400, "body must be a JSON object or a form") from None
    if not isinstance(fields, dict):
        raise HTTPException(400, "body must be a JSON object or a form")
    return fields


def _int(value: object, name: str, low: int, high: int) -> int:
    """``value`` as an int within bounds; digit strings count, since forms and queries send them."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise HTTPException(400, f"{name} must be an integer from {low} to {high}")
    return value


class _Shop:
    """Endpoints over one ``ShopDB``, which lives exactly as long as the app's lifespan."""

    def __init__(self, seed: int) -> None:
        self._db: ShopDB | None = None
        self._search_rng = random.Random(seed)
        self._recommend_rng = random.Random(seed + 1)
        self._item_count = 0

    @property
    def db(self) -> ShopDB:
        if self._db is None:
            raise RuntimeError("the demo shop is used outside its lifespan")
        return self._db

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        # A file, not :memory:, because WAL needs one; a fresh one per process keeps runs apart.
        with tempfile.TemporaryDirectory(prefix="perflab-demo-") as tmp:
            self._db = ShopDB.create(os.path.join(tmp, "shop.sqlite"))
            self._item_count = self._db.item_count()
            try:
                yield
            finally:
                self._db.close()
                self._db = None

    def _session(self, request: Request) -> Session:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise HTTPException(401, "missing bearer token", _BEARER)
        session = self.db.session(token.strip())
        if session is None:
            raise HTTPException(401, "invalid or expired token", _BEARER)
        return session

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def login(self, request: Request) -> Response:
        fields = await _fields(request)
        username, password = fields.get("username"), fields.get("password")
        if not isinstance(username, str) or not isinstance(password, str):
            raise HTTPException(400, "username and password are required strings")
        token = self.db.login(username, password)
        if token is None:
            return _error(401, "bad username or password")
        return JSONResponse({"token": token})

    async def items(self, request: Request) -> Response:
        query = request.query_params
        page = _int(query.get("page", 1), "page", 1, 1_000_000)
        per_page = _int(query.get("per_page", 20), "per_page", 1, MAX_PER_PAGE)
        items = self.db.items(page, per_page)
        body = {"items": items, "page": page, "per_page": per_page, "total": self._item_count}
        return JSONResponse(body)

    async def item(self, request: Request) -> Response:
        item_id: int = request.path_params["item_id"]
        item = self.db.item(item_id) if item_id <= MAX_ID else None
        if item is None:
            return _error(404, f"no item with id {item_id}")
        return JSONResponse(item)

    async def add_to_cart(self, request: Request) -> Response:
        session = self._session(request)
        fields = await _fields(request)
        item_id = _int(fields.get("item_id"), "item_id", 1, MAX_ID)
        qty = _int(fields.get("qty", 1), "qty", 1, MAX_QTY)
        return JSONResponse(self.db.add_to_cart(session, item_id, qty), status_code=201)

    async def cart(self, request: Request) -> Response:
        return JSONResponse(self.db.cart(self._session(request)))

    async def checkout(self, request: Request) -> Response:
        order = self.db.checkout(self._session(request))
        return JSONResponse(order, status_code=201)

    async def search(self, request: Request) -> Response:
        text = request.query_params.get("q", "").strip()
        if not 1 <= len(text) <= 100:
            raise HTTPException(400, "q must be 1 to 100 characters")
        delay = self._search_rng.lognormvariate(math.log(SEARCH_MEDIAN_S), SEARCH_SIGMA)
        await asyncio.sleep(min(delay, SEARCH_CAP_S))
        items = self.db.search(text, limit=20)
        return JSONResponse({"query": text, "items": items, "count": len(items)})

    async def recommendations(self, request: Request) -> Response:
        rng = self._recommend_rng
        if rng.random() < RECOMMENDATION_FAILURE_RATE:
            return _error(503, "recommendation service unavailable", {"Retry-After": "1"})
        ids = rng.sample(range(1, self._item_count + 1), k=min(4, self._item_count))
        return JSONResponse({"items": self.db.items_by_id(ids)})


class _ShopHeaders:
    """Adds ``Server`` and echoes ``X-Request-Id`` on every response, errors included.

    Plain ASGI rather than Starlette middleware, wrapped around the whole app, so it also
    covers the 500s that Starlette's outermost error middleware produces, and costs one
    closure per request instead of a task.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = [(b"server", b"perflab-demo")]
        extra += [(name, value) for name, value in scope["headers"] if name == b"x-request-id"][:1]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(seed: int = 0) -> ASGIApp:
    """The shop as an ASGI app; its database is created when the lifespan starts."""
    shop = _Shop(seed)
    routes = [
        Route("/health", shop.health, methods=["GET"]),
        Route("/login", shop.login, methods=["POST"]),
        Route("/items", shop.items, methods=["GET"]),
        Route("/items/{item_id:int}", shop.item, methods=["GET"]),
        Route("/cart", shop.cart, methods=["GET"]),
        Route("/cart", shop.add_to_cart, methods=["POST"]),
        Route("/checkout", shop.checkout, methods=["POST"]),
        Route("/search", shop.search, methods=["GET"]),
        Route("/recommendations", shop.recommendations, methods=["GET"]),
    ]
    handlers = {HTTPException: _http_error, ShopError: _shop_error, Exception: _server_error}
    app = Starlette(
        routes=routes, exception_handlers=handlers, lifespan=shop.lifespan, max_body_size=65536
    )
    return _ShopHeaders(app)


class _DemoServer(uvicorn.Server):
    """uvicorn's server, announcing itself once listening and exiting quietly on a signal."""

    def __init__(
        self, config: uvicorn.Config, url: str, on_ready: Callable[[str], None] | None
    ) -> None:
        super().__init__(config)
        self._url = url
        self._on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and self._on_ready is not None:
            self._on_ready(self._url)

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # uvicorn re-raises the caught signal after its graceful shutdown, which would end
        # this process with -SIGTERM or a KeyboardInterrupt; a clean stop here returns instead.
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _bind(address: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise UsageError(
            f"cannot listen on {address}:{port}: {exc.strerror}",
            hint="pick another port, or 0 for any free one",
        ) from exc
    return sock


def serve(
    host: str = "127.0.0.1",
    port: int = 0,
    on_ready: Callable[[str], None] | None = None,
    *,
    seed: int = 0,
) -> None:
    """Serve the shop until SIGINT or SIGTERM, then return after a graceful shutdown.

    We bind the socket ourselves so that port 0 yields a known ephemeral port before uvicorn
    starts; ``on_ready`` gets the base URL once the server accepts connections.

    Raises:
        UsageError: ``host`` is not a loopback address, or the port cannot be bound.
    """
    address = loopback_address(host)
    with _bind(address, port) as sock:
        bound_port = sock.getsockname()[1]
        netloc = f"[{address}]" if ":" in address else address
        url = f"http://{netloc}:{bound_port}"
        config = uvicorn.Config(
            create_app(seed),
            loop="asyncio" if sys.platform == "win32" else "uvloop",
            http="httptools",
            lifespan="on",
            access_log=False,
            log_level="warning",
            server_header=False,
            proxy_headers=False,
            timeout_graceful_shutdown=3,
        )
        _DemoServer(config, url, on_ready).run(sockets=[sock])


def _announce(url: str) -> None:
    print(f"READY {url}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m perflab.demo.target", description="Serve perflab's demo shop API."
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="loopback address (default %(default)s)"
    )
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument("--seed", type=int, default=0, help="seed for latency and failures")
    args = parser.parse_args(argv)
    try:
        serve(args.host, args.port, _announce, seed=args.seed)
    except UsageError as exc:
        print(f"perflab demo target: {exc.one_line()}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
