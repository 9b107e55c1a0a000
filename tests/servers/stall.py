"""A server whose event loop freezes once, for coordinated-omission tests of the engine.

It answers every request with 200 "ok" at once, except that ``--freeze-after S`` seconds
after its first request (default 2.0) the whole event loop blocks in ``time.sleep`` for
``--freeze-for`` seconds (default 1.0): requests sent meanwhile wait in the kernel, exactly
like a server stuck in a GC pause. It freezes only once per process.

Run: ``python -m tests.servers.stall --port 0 [--freeze-after 2.0]`` prints ``READY <port>``.
"""

from __future__ import annotations

import asyncio
import sys
import time

from tests.servers.hello import HttpServer, Request, argument_parser, response, serve

OK = response(200, b"ok")


def main(argv: list[str] | None = None) -> None:
    parser = argument_parser(__doc__ or "")
    parser.add_argument("--freeze-after", type=float, default=2.0)
    parser.add_argument("--freeze-for", type=float, default=1.0)
    args = parser.parse_args(argv)
    armed = False

    def freeze() -> None:
        print(f"FREEZE {args.freeze_for}", file=sys.stderr, flush=True)
        time.sleep(args.freeze_for)

    class Stall(HttpServer):
        def handle(self, request: Request) -> None:
            nonlocal armed
            if not armed:
                armed = True
                asyncio.get_running_loop().call_later(args.freeze_after, freeze)
            close = not request.keep_alive
            self.write(response(200, b"ok", close=True) if close else OK, close=close)

    serve(Stall, args)


if __name__ == "__main__":
    main(sys.argv[1:])
