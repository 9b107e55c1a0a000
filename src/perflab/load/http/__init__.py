"""The load engine's HTTP/1.1 client: callback-driven, one parser per connection.

Layers, bottom up: ``url`` and ``request`` turn user input into validated wire bytes (once,
at definition time); ``exchange`` is the per-request record; ``connection`` is the
``asyncio.Protocol`` hot path; ``pool`` owns connections, limits, retries and timeouts;
``tls`` builds client contexts.
"""

from perflab.load.http.exchange import ErrorKind, Exchange
from perflab.load.http.pool import ConnectionPool, PinnedConnection
from perflab.load.http.request import RequestSpec, parse_header
from perflab.load.http.tls import make_ssl_context
from perflab.load.http.url import Origin, Target, parse_url

__all__ = [
    "ConnectionPool",
    "ErrorKind",
    "Exchange",
    "Origin",
    "PinnedConnection",
    "RequestSpec",
    "Target",
    "make_ssl_context",
    "parse_header",
    "parse_url",
]
