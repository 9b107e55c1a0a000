"""A WebSocket test server (the ``websockets`` library), chosen by path.

Routes:
  /echo    every message is sent back at once
  /delay   every message is sent back after DELAY_MS milliseconds
  /close   the server closes (code 1000) right after the handshake
  other    closed with code 1008 ("unknown path")

Run: ``python -m tests.servers.wsserver --port 0`` prints ``READY <port>`` once listening.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from websockets.asyncio.server import ServerConnection, serve

DELAY_MS = 50


async def handler(ws: ServerConnection) -> None:
    path = ws.request.path if ws.request is not None else ""
    if path == "/echo":
        async for message in ws:
            await ws.send(message)
    elif path == "/delay":
        async for message in ws:
            await asyncio.sleep(DELAY_MS / 1000)
            await ws.send(message)
    elif path == "/close":
        await ws.close(1000, "bye")
    else:
        await ws.close(1008, "unknown path")


async def run(host: str, port: int) -> None:
    async with serve(handler, host, port) as server:
        bound = next(iter(server.sockets)).getsockname()[1]
        print(f"READY {bound}", flush=True)
        await server.serve_forever()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        asyncio.run(run(args.host, args.port))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main(sys.argv[1:])
