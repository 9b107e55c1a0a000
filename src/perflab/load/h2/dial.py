"""Opening the TCP socket under an HTTP/2 connection, and the TLS context that asks for h2.

TCP connect and TLS handshake are separate steps (not one ``create_connection`` call) so that
the exchange that opened a connection can report ``connect_ns`` and ``tls_ns`` apart, as the
HTTP/1.1 client does.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
from time import monotonic_ns
from typing import Any

from perflab.load.http.tls import make_ssl_context
from perflab.load.http.url import Origin

_Address = tuple[int, Any]  # (family, sockaddr)


def make_h2_ssl_context(
    *,
    insecure: bool = False,
    ca_file: str | os.PathLike[str] | None = None,
) -> ssl.SSLContext:
    """A client context like ``make_ssl_context``'s that offers only ``h2`` via ALPN.

    A new context rather than a changed one: a context given to an HTTP/1.1 pool must keep
    offering only ``http/1.1``, and ``ssl.SSLContext`` cannot be copied.

    Raises:
        UsageError: when ``ca_file`` is missing or holds no usable certificate.
    """
    context = make_ssl_context(insecure=insecure, ca_file=ca_file)
    context.set_alpn_protocols(["h2"])
    return context


class Dialer:
    """Connects TCP sockets to one origin; the host is resolved once and the result kept.

    With one connection per origin a lookup per connection would be cheap, but a GOAWAY storm
    reconnects often, and a load test should not measure the resolver.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, origin: Origin) -> None:
        self._loop = loop
        self._origin = origin
        self._addrs: list[_Address] | None = _numeric_address(origin)

    async def connect(self) -> tuple[socket.socket, int]:
        """A connected non-blocking socket (TCP_NODELAY) and the TCP connect time in ns.

        Raises:
            OSError: from the last address tried; ``socket.gaierror`` when the lookup fails.
        """
        addrs = self._addrs or await self._lookup()
        error: OSError | None = None
        for family, address in addrs:
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.setblocking(False)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                started = monotonic_ns()
                await self._loop.sock_connect(sock, address)
                return sock, monotonic_ns() - started
            except OSError as exc:
                sock.close()
                error = exc
            except BaseException:
                sock.close()
                raise
        assert error is not None  # addrs is never empty
        raise error

    async def _lookup(self) -> list[_Address]:
        infos = await self._loop.getaddrinfo(
            self._origin.host, self._origin.port, type=socket.SOCK_STREAM
        )
        if not infos:
            raise socket.gaierror(socket.EAI_NONAME, "no address")
        self._addrs = [(family, address) for family, _, _, _, address in infos]
        return self._addrs


def _numeric_address(origin: Origin) -> list[_Address] | None:
    """The address of an IP-literal host without a lookup; None for names."""
    try:
        infos = socket.getaddrinfo(
            origin.host, origin.port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST
        )
    except socket.gaierror:
        return None
    return [(family, address) for family, _, _, _, address in infos]
