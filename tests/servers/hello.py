"""A fast HTTP/1.1 test server (uvloop + httptools) with a few diagnostic routes.

Routes (any method; HEAD gets the head only):
  /              200 "Hello, world!" (also every path not listed here)
  /echo          the request's method, path, headers and body as JSON
  /cookie/N/V    sets the cookie N=V (Path=/)
  /status/NNN    that status, body "status NNN" (none for 1xx/204/304)
  /bytes/N       N bytes of "x"
  /chunked       "Hello, world!" in three chunks
  /close         "Hello, world!" with Connection: close, then the server closes
  /eof           "Hello, world!" without Content-Length, delimited by the server closing
  /slow/MS       "Hello, world!" after MS milliseconds
  /early-hints   a 103 interim response, then "Hello, world!"
  /count         how many requests this server answered before this one, as text

Run: ``python -m tests.servers.hello --port 0`` prints ``READY <port>`` once listening.
``--keepalive-timeout S`` closes connections idle for S seconds (like nginx's
keepalive_timeout); ``--certfile/--keyfile`` serve HTTPS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import ssl
import sys
from collections.abc import Callable
from http import HTTPStatus
from typing import cast

import httptools

HELLO = b"Hello, world!"
_answered = [0]  # requests handled by this process, for /count


class Request:
    __slots__ = ("body", "headers", "keep_alive", "method", "path")

    def __init__(self) -> None:
        self.method = ""
        self.path = b""
        self.headers: list[tuple[str, str]] = []
        self.body = b""
        self.keep_alive = True


def response(
    status: int,
    body: bytes = b"",
    *,
    close: bool = False,
    head: bool = False,
    headers: tuple[tuple[str, str], ...] = (),
) -> bytes:
    """A complete response with Content-Length (omitted with the body for 1xx/204/304)."""
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    lines = [
        f"HTTP/1.1 {status} {reason}",
        "Server: perflab-test",
        *(f"{k}: {v}" for k, v in headers),
    ]
    bodyless = status < 200 or status in (204, 304)
    if not bodyless:
        lines.append(f"Content-Length: {len(body)}")
    if close:
        lines.append("Connection: close")
    wire = ("\r\n".join(lines) + "\r\n\r\n").encode()
    return wire if head or bodyless else wire + body


class HttpServer(asyncio.Protocol):
    """One connection; subclasses override :meth:`handle`."""

    keepalive_timeout: float | None = None

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.request = Request()
        self.idle_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's do not subclass it
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.arm_idle_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.idle_timer is not None:
            self.idle_timer.cancel()
        self.transport = None

    def data_received(self, data: bytes) -> None:
        if self.idle_timer is not None:
            self.idle_timer.cancel()
            self.idle_timer = None
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.write(response(400, b"bad request", close=True), close=True)

    # parser callbacks
    def on_message_begin(self) -> None:
        self.request = Request()

    def on_url(self, url: bytes) -> None:
        self.request.path += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.request.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_body(self, body: bytes) -> None:
        self.request.body += body

    def on_message_complete(self) -> None:
        request = self.request
        request.method = self.parser.get_method().decode()
        request.keep_alive = self.parser.should_keep_alive()
        self.handle(request)

    # responding
    def write(self, wire: bytes, *, close: bool = False) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self.transport.write(wire)
        if close:
            self.transport.close()
        else:
            self.arm_idle_timer()

    def arm_idle_timer(self) -> None:
        if self.keepalive_timeout is not None and self.transport is not None:
            loop = asyncio.get_running_loop()
            self.idle_timer = loop.call_later(self.keepalive_timeout, self.transport.close)

    def handle(self, request: Request) -> None:
        path = request.path.decode("latin-1").split("?", 1)[0]
        head = request.method == "HEAD"
        close = not request.keep_alive
        route, _, arg = path.strip("/").partition("/")
        if route == "count":
            body = str(_answered[0]).encode()
            self.write(response(200, body, head=head, close=close), close=close)
            return
        _answered[0] += 1
        if route == "echo":
            doc = {
                "method": request.method,
                "path": request.path.decode("latin-1"),
                "headers": request.headers,
                "body": request.body.decode("latin-1"),
            }
            body = json.dumps(doc).encode()
            headers = (("Content-Type", "application/json"),)
            self.write(response(200, body, head=head, close=close, headers=headers), close=close)
        elif route == "cookie" and "/" in arg:
            name, _, value = arg.partition("/")
            headers = (("Set-Cookie", f"{name}={value}; Path=/"),)
            self.write(response(200, b"set", head=head, close=close, headers=headers), close=close)
        elif route == "status" and arg.isdigit():
            status = int(arg)
            self.write(
                response(status, f"status {status}".encode(), head=head, close=close), close=close
            )
        elif route == "bytes" and arg.isdigit():
            self.write(response(200, b"x" * int(arg), head=head, close=close), close=close)
        elif route == "chunked":
            wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            if not head:
                wire += b"5\r\nHello\r\n2\r\n, \r\n6\r\nworld!\r\n0\r\n\r\n"
            self.write(wire, close=close)
        elif route == "close":
            self.write(response(200, HELLO, head=head, close=True), close=True)
        elif route == "eof":
            self.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + HELLO, close=True)
        elif route == "early-hints":
            interim = b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
            self.write(interim + response(200, HELLO, head=head, close=close), close=close)
        elif route == "slow" and arg.isdigit():
            wire = response(200, HELLO, head=head, close=close)
            asyncio.get_running_loop().call_later(int(arg) / 1000, self._late, wire, close)
        else:
            self.write(response(200, HELLO, head=head, close=close), close=close)

    def _late(self, wire: bytes, close: bool) -> None:
        self.write(wire, close=close)


def argument_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--certfile")
    parser.add_argument("--keyfile")
    parser.add_argument("--keepalive-timeout", type=float, default=None)
    return parser


def serve(factory: Callable[[], asyncio.Protocol], args: argparse.Namespace) -> None:
    """Listen, print ``READY <port>`` and serve until killed."""
    import uvloop

    async def main() -> None:
        context = None
        if args.certfile:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(args.certfile, args.keyfile)
        loop = asyncio.get_running_loop()
        server = await loop.create_server(factory, args.host, args.port, ssl=context, backlog=1024)
        port = server.sockets[0].getsockname()[1]
        print(f"READY {port}", flush=True)
        async with server:
            await server.serve_forever()

    try:
        uvloop.run(main())
    except KeyboardInterrupt:
        pass


def main(argv: list[str] | None = None) -> None:
    args = argument_parser(__doc__ or "").parse_args(argv)

    class Hello(HttpServer):
        keepalive_timeout = args.keepalive_timeout

    serve(Hello, args)


if __name__ == "__main__":
    main(sys.argv[1:])
