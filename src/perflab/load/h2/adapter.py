"""The HTTP/1.1 pool's interface on top of an :class:`H2Pool`, so the URL-mode executors
(open and closed) drive HTTP/2 without knowing it.

Executors pass around an opaque per-request value they got from ``Work``; for HTTP/2 it is
the request's parts instead of HTTP/1.1 wire bytes. Virtual users "pin" the pool itself:
on HTTP/2 they share its multiplexed connection(s), as a browser's tabs do.
"""

from __future__ import annotations

from perflab.load.h2.pool import H2Pool
from perflab.load.h2.stream import OnDone
from perflab.load.http.exchange import Exchange

H2Request = tuple[str, str, tuple[tuple[str, str], ...], bytes]  # method, path, headers, body


class H2PoolAdapter:
    busy = False  # never "busy": streams multiplex

    def __init__(self, pool: H2Pool) -> None:
        self.pool = pool
        self.origin = pool.origin

    def submit(
        self,
        request: H2Request,
        on_done: OnDone,
        *,
        keep_body: bool = False,
        exchange: Exchange | None = None,
        grow: bool = True,
    ) -> None:
        """``grow`` is for HTTP/1.1 pools: one connection carries every stream here."""
        method, path, headers, body = request
        self.pool.submit(
            method, path, headers, body, on_done, keep_body=keep_body, exchange=exchange
        )

    def pin(self) -> H2PoolAdapter:
        return self

    def close(self) -> None:
        """A user leaving does not close the shared connection."""

    async def warm(self, count: int) -> int:
        """One connection serves every stream; it opens with the first request."""
        return 0

    @property
    def open(self) -> int:
        return self.pool.open

    @property
    def errors_by_errno(self) -> dict[str, int]:
        return self.pool.errors_by_errno

    async def aclose(self) -> None:
        await self.pool.aclose()
