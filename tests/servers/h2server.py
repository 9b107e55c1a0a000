"""An HTTP/2 test server: hypercorn running a tiny ASGI app.

Plain TCP serves h2c with prior knowledge (and HTTP/1.1); with ``--certfile/--keyfile`` it
serves TLS offering ``h2`` and ``http/1.1`` by ALPN. Hypercorn rather than our own h2 code, so
the client is tested against an independent implementation.

Routes (any method):
  /hello         200 "Hello, world!"
  /echo          200 with the request body; the ``x-echo`` request header comes back as
                 ``x-echo``, the method as ``x-method``
  /big           200 with BIG_SIZE bytes (a repeating 0..255 pattern)
  /slow?ms=N     200 "Hello, world!" after N milliseconds
  /status/NNN    that status, body "status NNN"
  anything else  404
Every response carries ``x-http-version`` (what the server saw: "2" or "1.1").

Run: ``python -m tests.servers.h2server --port 0`` prints ``READY <port>`` once listening;
``--max-streams N`` sets SETTINGS_MAX_CONCURRENT_STREAMS (default 100).
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
from typing import Any
from urllib.parse import parse_qs

BIG_SIZE = 1 << 20
BIG = bytes(range(256)) * (BIG_SIZE // 256)
HELLO = b"Hello, world!"

Scope = dict[str, Any]
Message = dict[str, Any]


async def app(scope: Scope, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    status, payload, extra = await route(scope, body)
    headers = [
        (b"content-length", str(len(payload)).encode()),
        (b"x-http-version", scope["http_version"].encode()),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


async def route(scope: Scope, body: bytes) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    path: str = scope["path"]
    if path == "/hello":
        return 200, HELLO, []
    if path == "/echo":
        echoed = [value for name, value in scope["headers"] if name == b"x-echo"]
        extra = [(b"x-method", scope["method"].encode()), *((b"x-echo", v) for v in echoed)]
        return 200, body, extra
    if path == "/big":
        return 200, BIG, []
    if path == "/slow":
        query = parse_qs(scope["query_string"].decode())
        await asyncio.sleep(int(query.get("ms", ["0"])[0]) / 1000)
        return 200, HELLO, []
    head, _, code = path.strip("/").partition("/")
    if head == "status" and code.isdigit():
        return int(code), f"status {code}".encode(), []
    return 404, b"not found", []


def main(argv: list[str]) -> None:
    import uvloop
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--certfile")
    parser.add_argument("--keyfile")
    parser.add_argument("--max-streams", type=int, default=100)
    args = parser.parse_args(argv)

    # Bind here and hand hypercorn the descriptor: the port is known (and listening) before
    # READY is printed, with no window for another process to take it.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(1024)
    config = Config()
    config.bind = [f"fd://{sock.fileno()}"]
    config.h2_max_concurrent_streams = args.max_streams
    config.loglevel = "WARNING"
    # Hypercorn's default (1000) sends GOAWAY and then drops the streams still running on the
    # connection, which would turn a long test's requests into errors of the server's making.
    config.keep_alive_max_requests = 1 << 40
    if args.certfile:
        config.certfile = args.certfile
        config.keyfile = args.keyfile

    async def run() -> None:
        print(f"READY {sock.getsockname()[1]}", flush=True)
        forever: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await serve(app, config, shutdown_trigger=lambda: forever)

    try:
        uvloop.run(run())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main(sys.argv[1:])
