"""The load engine's HTTP/2 client: h2's protocol state machine on our own asyncio transport.

Layers, bottom up: ``request`` builds and validates header lists (cached: the engine repeats
requests); ``stream`` is the per-request record; ``multiplex`` runs a connection's streams on
h2 without I/O (bytes in, completed exchanges out); ``connection`` is the ``asyncio.Protocol``
around it; ``dial`` opens sockets and TLS contexts; ``pool`` places requests on connections,
queues, retries and times them out. Exchanges, error kinds and origins are shared with the
HTTP/1.1 client so that results and reports do not care which protocol produced them.
"""

from perflab.load.h2.dial import make_h2_ssl_context
from perflab.load.h2.pool import H2Pool

__all__ = ["H2Pool", "make_h2_ssl_context"]
