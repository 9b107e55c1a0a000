"""One request's life in the HTTP/2 client: queued in the pool, then a stream on a connection.

A plain slotted record, like :class:`~perflab.load.http.exchange.Exchange`: the pool and the
connection write its fields on the hot path, and the caller sees only the exchange.
"""

from __future__ import annotations

from collections.abc import Callable

from perflab.load.h2.request import RequestHeaders
from perflab.load.http.exchange import Exchange

OnDone = Callable[[Exchange], None]


class Stream:
    """A submitted request and what its response has delivered so far.

    Invariants: ``stream_id`` is 0 until a connection opens the stream; ``deadline_ns`` is
    ``exchange.start_ns + timeout_ns`` once started and survives a retry (timeouts run from
    the first attempt, as in the HTTP/1.1 pool); ``sent`` is the count of body bytes handed
    to h2, which is ``len(body)`` once END_STREAM is queued.
    """

    __slots__ = (
        "body",
        "chunks",
        "deadline_ns",
        "exchange",
        "headers",
        "keep_body",
        "on_done",
        "response_headers",
        "sent",
        "stream_id",
        "timeout_ns",
    )

    def __init__(
        self,
        exchange: Exchange,
        headers: RequestHeaders,
        body: bytes,
        on_done: OnDone,
        keep_body: bool,
        timeout_ns: int,
    ) -> None:
        self.exchange = exchange
        self.headers = headers
        self.body = body
        self.on_done = on_done
        self.keep_body = keep_body
        self.timeout_ns = timeout_ns
        self.deadline_ns = 0
        self.stream_id = 0
        self.sent = 0
        self.chunks: list[bytes] = []
        self.response_headers: list[tuple[bytes, bytes]] = []

    def reset_for_retry(self) -> None:
        """Forget the lost attempt, keeping ``start_ns`` and the deadline (see the class)."""
        ex = self.exchange
        ex.retried = True
        ex.new_connection = False
        ex.connect_ns = ex.tls_ns = ex.sent_ns = ex.first_byte_ns = ex.bytes_in = ex.status = 0
        self.stream_id = 0
        self.sent = 0
        self.chunks = []
        self.response_headers = []
