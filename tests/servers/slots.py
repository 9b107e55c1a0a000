"""An HTTP/1.1 test server whose capacity is known by construction: ``--slots`` workers,
each serving one request at a time for exactly ``--service-ms``.

Capacity is ``slots / service`` requests per second (4 slots x 20 ms = 200 req/s). Requests
queue first come, first served for the earliest free slot; each slot's timeline is kept in
virtual time (a request starts at ``max(arrival, slot free)``, ends ``service`` later), so
timer overshoot never lowers the capacity. Service is a timer, not CPU work: the server stays
idle on a busy machine and its capacity does not depend on it.

Run: ``python -m tests.servers.slots --port 0 --slots 4 --service-ms 20`` prints
``READY <port>`` once listening.
"""

from __future__ import annotations

import asyncio
import heapq
import sys

from tests.servers.hello import HELLO, HttpServer, Request, argument_parser, response, serve


def main(argv: list[str] | None = None) -> None:
    parser = argument_parser(__doc__ or "")
    parser.add_argument("--slots", type=int, default=4, help="requests served at once")
    parser.add_argument("--service-ms", type=float, default=20.0, help="time per request")
    args = parser.parse_args(argv)
    service_s = args.service_ms / 1000.0
    free_at = [0.0] * args.slots  # a min-heap of when each slot is next free (loop time)

    class Slots(HttpServer):
        def handle(self, request: Request) -> None:
            loop = asyncio.get_running_loop()
            start = max(loop.time(), free_at[0])
            heapq.heapreplace(free_at, start + service_s)
            close = not request.keep_alive
            wire = response(200, HELLO, head=request.method == "HEAD", close=close)
            loop.call_at(start + service_s, self.write_late, wire, close)

        def write_late(self, wire: bytes, close: bool) -> None:
            self.write(wire, close=close)  # a no-op if the client has gone

    serve(Slots, args)


if __name__ == "__main__":
    main(sys.argv[1:])
