"""An HTTP/1.1 test server whose latency is set from the command line: A/B tests of perflab compare.

Every request is answered "Hello, world!" after ``--delay-ms`` x ``--factor`` milliseconds (a
timer on the event loop, so concurrent requests wait in parallel and the latency is set by
the delay, not by the CPU). A run at ``--factor 1.2`` is a 20 % latency regression.

Run: ``python -m tests.servers.slowish --port 0 --delay-ms 5 --factor 1.2`` prints
``READY <port>`` once listening.
"""

from __future__ import annotations

import asyncio
import sys

from tests.servers.hello import HELLO, HttpServer, Request, argument_parser, response, serve


def main(argv: list[str] | None = None) -> None:
    parser = argument_parser(__doc__ or "")
    parser.add_argument("--delay-ms", type=float, default=5.0, help="base delay (ms)")
    parser.add_argument("--factor", type=float, default=1.0, help="multiplies the delay")
    args = parser.parse_args(argv)
    delay_s = args.delay_ms * args.factor / 1000.0

    class Slowish(HttpServer):
        def handle(self, request: Request) -> None:
            close = not request.keep_alive
            wire = response(200, HELLO, head=request.method == "HEAD", close=close)
            asyncio.get_running_loop().call_later(delay_s, self.write_late, wire, close)

        def write_late(self, wire: bytes, close: bool) -> None:
            self.write(wire, close=close)

    serve(Slowish, args)


if __name__ == "__main__":
    main(sys.argv[1:])
