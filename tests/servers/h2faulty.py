"""An h2c (prior knowledge) server that misbehaves on purpose, chosen by path.

Routes:
  /goaway    answered, then a GOAWAY naming this stream as the last one processed: streams
             opened after it on the same connection are never answered
  /goaway-first  the same GOAWAY first, and the answer 50 ms later (a graceful shutdown)
  /reset     RST_STREAM INTERNAL_ERROR instead of a response
  /refuse    RST_STREAM REFUSED_STREAM
  /drop      the connection is aborted, without a GOAWAY
  /garbage   bytes that are not a valid HTTP/2 frame
  /slow      "conn N" after 50 ms
  /peak      the most streams this process has seen open at once on one connection
  other      200 "conn N", N counting connections from 1

Run: ``python -m tests.servers.h2faulty --port 0`` prints ``READY <port>`` once listening;
``--max-streams N`` is the SETTINGS_MAX_CONCURRENT_STREAMS it announces (default
MAX_STREAMS, small so that a test can fill it).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import cast

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
from h2.errors import ErrorCodes
from hyperframe.frame import GoAwayFrame

MAX_STREAMS = 4

_connections = 0
_peak = 0


class FaultyH2(asyncio.Protocol):
    max_streams = MAX_STREAMS

    def __init__(self) -> None:
        global _connections
        _connections += 1
        self.number = _connections
        config = h2.config.H2Configuration(client_side=False, header_encoding=None)
        self.h2 = h2.connection.H2Connection(config)
        self.h2.local_settings = h2.settings.Settings(
            client=False,
            initial_values={h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: self.max_streams},
        )
        self.transport: asyncio.Transport | None = None
        self.open_streams: set[int] = set()
        self.last_answered: int | None = None  # set once a GOAWAY went out

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.h2.initiate_connection()
        self.flush()

    def data_received(self, data: bytes) -> None:
        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError:
            if self.last_answered is None and self.transport is not None:
                self.flush()
                self.transport.close()
            return  # after our GOAWAY h2 accepts nothing more: the client must go away
        for event in events:
            if isinstance(event, h2.events.RequestReceived):
                self.on_request(event.stream_id or 0, dict(event.headers))
            elif isinstance(event, h2.events.StreamReset):
                self.open_streams.discard(event.stream_id or 0)
        self.flush()

    def on_request(self, stream_id: int, headers: dict[bytes, bytes]) -> None:
        global _peak
        if self.last_answered is not None:
            return  # after the GOAWAY: never processed
        self.open_streams.add(stream_id)
        _peak = max(_peak, len(self.open_streams))
        path = headers.get(b":path", b"/")
        if path == b"/goaway":
            self.respond(stream_id, f"conn {self.number}".encode())
            self.h2.close_connection(last_stream_id=stream_id)
            self.last_answered = stream_id
        elif path == b"/goaway-first" and self.transport is not None:
            # Written by hand: h2 itself would refuse to send the answer after its GOAWAY.
            goaway = GoAwayFrame(0)
            goaway.last_stream_id = stream_id
            self.flush()
            self.transport.write(goaway.serialize())
            self.last_answered = stream_id
            loop = asyncio.get_running_loop()
            loop.call_later(0.05, self.respond_late, stream_id, f"conn {self.number}".encode())
        elif path == b"/reset":
            self.reset(stream_id, ErrorCodes.INTERNAL_ERROR)
        elif path == b"/refuse":
            self.reset(stream_id, ErrorCodes.REFUSED_STREAM)
        elif path == b"/drop" and self.transport is not None:
            self.transport.abort()
        elif path == b"/garbage" and self.transport is not None:
            self.flush()
            self.transport.write(b"\x00\x00\x00\x00\x00\x00\x00\x00\x00")  # DATA on stream 0
        elif path == b"/slow":
            loop = asyncio.get_running_loop()
            loop.call_later(0.05, self.respond_late, stream_id, f"conn {self.number}".encode())
        elif path == b"/peak":
            self.respond(stream_id, str(_peak).encode())
        else:
            self.respond(stream_id, f"conn {self.number}".encode())

    def respond(self, stream_id: int, body: bytes) -> None:
        headers = [(b":status", b"200"), (b"content-length", str(len(body)).encode())]
        self.h2.send_headers(stream_id, headers)
        self.h2.send_data(stream_id, body, end_stream=True)
        self.open_streams.discard(stream_id)

    def respond_late(self, stream_id: int, body: bytes) -> None:
        if stream_id in self.open_streams and self.transport is not None:
            self.respond(stream_id, body)
            self.flush()

    def reset(self, stream_id: int, code: ErrorCodes) -> None:
        self.h2.reset_stream(stream_id, code)
        self.open_streams.discard(stream_id)

    def flush(self) -> None:
        data = self.h2.data_to_send()
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)


async def run(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(FaultyH2, host, port)
    print(f"READY {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--max-streams", type=int, default=MAX_STREAMS)
    args = parser.parse_args(argv)
    FaultyH2.max_streams = args.max_streams
    try:
        asyncio.run(run(args.host, args.port))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main(sys.argv[1:])
