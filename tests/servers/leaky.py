"""An HTTP server that leaks a known number of bytes per request, for the leak verdict.

Every request (any path, any method) appends a ``bytearray`` of ``--leak-bytes`` bytes to a
global list that is never cleared, and answers "Hello, world!". The buffer is filled with a
non-zero byte, so every page is written and the leak shows in RSS, not only in virtual
size. ``--leak-bytes 0`` is the control: the same server, the same work, no leak.

A request leaks a little more than N in RSS: malloc's 16-byte chunk header and rounding,
the bytearray object (~56 bytes) and the list slot (8 bytes, amortized) add ~0.4 % at 20 KB.

Run: ``python -m tests.servers.leaky --port 0 --leak-bytes 20000`` prints ``READY <port>``.
"""

from __future__ import annotations

import sys

from tests.servers.hello import HELLO, HttpServer, Request, argument_parser, response, serve

LEAKED: list[bytearray] = []


def main(argv: list[str] | None = None) -> None:
    parser = argument_parser(__doc__ or "")
    parser.add_argument("--leak-bytes", type=int, default=0, help="bytes kept per request")
    args = parser.parse_args(argv)
    leak_bytes: int = args.leak_bytes

    class Leaky(HttpServer):
        keepalive_timeout = args.keepalive_timeout

        def handle(self, request: Request) -> None:
            if leak_bytes > 0:
                LEAKED.append(bytearray(b"\x01") * leak_bytes)
            close = not request.keep_alive
            self.write(
                response(200, HELLO, head=request.method == "HEAD", close=close), close=close
            )

    serve(Leaky, args)


if __name__ == "__main__":
    main(sys.argv[1:])
