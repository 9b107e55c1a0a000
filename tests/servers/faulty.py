"""A fault-injecting HTTP/1.1 server: the fault is chosen by the request path.

  /reset              part of a response, then a TCP RST (SO_LINGER 0, then close)
  /stall              never answers (the client must time out)
  /malformed          a garbage status line, then close
  /truncated-chunked  a chunked body cut off, then close
  /wrong-length       Content-Length larger than the body, then close
  /big                a 1 MB body (keep-alive)
  /close-always       "ok" with Connection: close, then close
  /ok-then-close      "ok" advertised as keep-alive, then close at once (a client that reuses
                      the connection races the close: its next request meets a dead socket)
  /hangup             close without answering
  /ok                 "ok" (keep-alive); also any other path

Run: ``python -m tests.servers.faulty --port 0`` prints ``READY <port>``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import struct
import sys

BIG = 1024 * 1024


def _ok(body: bytes = b"ok", *, close: bool = False) -> bytes:
    extra = b"Connection: close\r\n" if close else b""
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


async def _read_request(reader: asyncio.StreamReader) -> str | None:
    """The path of the next request (its body is read and dropped); None at EOF."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    if length:
        await reader.readexactly(length)
    parts = lines[0].split(" ")
    return parts[1] if len(parts) > 1 else "/"


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while (path := await _read_request(reader)) is not None:
            if not await _respond(path.split("?", 1)[0], reader, writer):
                break
    except ConnectionError:
        pass
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def _respond(path: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    """Answer one request; False when the connection must end."""
    if path == "/reset":
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial")
        await writer.drain()
        await asyncio.sleep(0.05)  # let the partial response reach the client first
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
        return False
    if path == "/stall":
        await reader.read()  # until the client gives up and closes
        return False
    if path == "/hangup":
        return False
    replies = {
        "/malformed": (b"HTTP/1.1 abc Garbage\r\nfoo\r\n\r\n", False),
        "/truncated-chunked": (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n10\r\npart",
            False,
        ),
        "/wrong-length": (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", False),
        "/big": (_ok(b"x" * BIG), True),
        "/close-always": (_ok(close=True), False),
        "/ok-then-close": (_ok(), False),
    }
    wire, keep = replies.get(path, (_ok(), True))
    writer.write(wire)
    await writer.drain()
    return keep


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)

    async def serve() -> None:
        server = await asyncio.start_server(_handle, args.host, args.port)
        print(f"READY {server.sockets[0].getsockname()[1]}", flush=True)
        async with server:
            await server.serve_forever()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main(sys.argv[1:])
