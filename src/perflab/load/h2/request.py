"""Request header lists for HTTP/2: pseudo-headers first, names lower-case, no hop-by-hop.

HTTP/2 forbids connection-specific fields (RFC 9113, 8.2.2) and a server may reset a stream
that carries one, so a header set written for HTTP/1.1 is translated rather than rejected:
``Host`` becomes ``:authority``, the hop-by-hop fields are dropped.

Lists are validated here, once per distinct request (the result is cached), so that h2's own
per-request validation and normalization can be switched off: after HPACK they are the
largest client-side cost per request.
"""

from __future__ import annotations

import re
from functools import lru_cache

from perflab.errors import UsageError
from perflab.load.http.request import USER_AGENT
from perflab.load.http.url import Origin

RequestHeaders = tuple[tuple[bytes, bytes], ...]

_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"}
)
# Methods whose requests carry a body by definition: "content-length: 0" when empty, as the
# HTTP/1.1 client sends, so that both protocols present the same request to the server.
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# RFC 9110 tokens (header names lower-case, as HTTP/2 requires); no CR, LF or NUL in values.
_METHOD = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9a-z-]+")
_BAD_VALUE = re.compile(r"[\r\n\x00]")


@lru_cache(maxsize=4096)
def request_headers(
    origin: Origin,
    method: str,
    path: str,
    headers: tuple[tuple[str, str], ...],
    body_length: int,
) -> RequestHeaders:
    """The header list of one request, cached: the engine sends the same few over and over.

    ``user-agent`` and ``content-length`` are added as the HTTP/1.1 client adds them; a
    caller-given ``te`` survives only as ``trailers``, the one value HTTP/2 allows. Values
    lose surrounding whitespace and are encoded as UTF-8.

    Raises:
        UsageError: a method or header name that is not a token, a value with CR, LF or
            NUL, or a path that does not start with ``/`` or holds whitespace.
    """
    if not _METHOD.fullmatch(method):
        raise UsageError(f"HTTP method {method!r} is not valid; expected a token such as GET")
    if not path.startswith("/") or any(c.isspace() or c == "\x00" for c in path):
        raise UsageError(f"request path {path!r} must start with '/' and hold no whitespace")
    authority = origin.netloc_header
    fields: list[tuple[bytes, bytes]] = []
    given: set[str] = set()
    for name, raw_value in headers:
        lowered = name.lower()
        value = raw_value.strip()
        if not _NAME.fullmatch(lowered) or _BAD_VALUE.search(value):
            raise UsageError(f"header {name!r}: {raw_value!r} cannot be sent over HTTP/2")
        given.add(lowered)
        if lowered == "host":
            authority = value
        elif lowered in _HOP_BY_HOP or (lowered == "te" and value.lower() != "trailers"):
            continue
        else:
            fields.append((lowered.encode(), value.encode()))
    pseudo = [
        (b":method", method.encode()),
        (b":scheme", origin.scheme.encode()),
        (b":authority", authority.encode()),
        (b":path", path.encode()),
    ]
    if "user-agent" not in given:
        pseudo.append((b"user-agent", USER_AGENT.encode()))
    if "content-length" not in given and (body_length or method in _BODY_METHODS):
        pseudo.append((b"content-length", str(body_length).encode()))
    return (*pseudo, *fields)
