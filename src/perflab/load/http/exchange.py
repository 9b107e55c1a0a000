"""The record of one request/response exchange, its error kinds, and how failures map to them.

An :class:`Exchange` is a plain mutable record (slots, no per-field logic) because the client
writes several fields per request on the hot path; derived durations are properties, computed
only when the consumer reads them.
"""

from __future__ import annotations

import enum
import errno as errno_module
import ssl
from dataclasses import dataclass

from httptools import HttpParserUpgrade


class ErrorKind(enum.StrEnum):
    """Why an exchange failed; the value is what results files and reports show."""

    REFUSED = "refused"
    CONNECT_TIMEOUT = "connect_timeout"
    TIMEOUT = "timeout"
    RESET = "reset"
    CLOSED = "closed"
    """The peer closed before the response head was complete (nothing, or a partial head)."""
    PROTOCOL = "protocol"
    """Malformed response, or a body cut short of its Content-Length or chunked framing."""
    TLS = "tls"
    DNS = "dns"
    ADDR_UNAVAILABLE = "addr_unavailable"
    """Local socket exhaustion (ports, file descriptors, buffers): the generator's fault."""
    OTHER = "other"


_ERRNO_KINDS: dict[int, ErrorKind] = {
    errno_module.ECONNREFUSED: ErrorKind.REFUSED,
    errno_module.ECONNRESET: ErrorKind.RESET,
    errno_module.EPIPE: ErrorKind.RESET,
    errno_module.ECONNABORTED: ErrorKind.RESET,
    errno_module.EADDRNOTAVAIL: ErrorKind.ADDR_UNAVAILABLE,
    errno_module.EADDRINUSE: ErrorKind.ADDR_UNAVAILABLE,
    errno_module.EMFILE: ErrorKind.ADDR_UNAVAILABLE,
    errno_module.ENFILE: ErrorKind.ADDR_UNAVAILABLE,
    errno_module.ENOBUFS: ErrorKind.ADDR_UNAVAILABLE,
    errno_module.ENOMEM: ErrorKind.ADDR_UNAVAILABLE,
    errno_module.ETIMEDOUT: ErrorKind.TIMEOUT,
}


def classify_os_error(exc: OSError, *, connecting: bool) -> tuple[ErrorKind, str]:
    """Map a socket-level error to its kind and a short detail (the errno name if any).

    ``connecting`` turns a kernel ``ETIMEDOUT`` into CONNECT_TIMEOUT (no SYN-ACK) rather than
    TIMEOUT (an established connection's retransmissions gave up).
    """
    if isinstance(exc, ssl.SSLError):
        return ErrorKind.TLS, tls_error_detail(exc)
    code = exc.errno
    if code is None:
        return ErrorKind.OTHER, type(exc).__name__
    kind = _ERRNO_KINDS.get(code, ErrorKind.OTHER)
    if kind is ErrorKind.TIMEOUT and connecting:
        kind = ErrorKind.CONNECT_TIMEOUT
    return kind, errno_module.errorcode.get(code, str(code))


def tls_error_detail(exc: ssl.SSLError) -> str:
    """The reason a TLS handshake failed, short enough for a table cell."""
    if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_message:
        return f"certificate verify failed: {exc.verify_message}"
    return str(exc.reason or exc)


def parser_error_detail(exc: Exception) -> str:
    """A short detail for an httptools parse error."""
    if isinstance(exc, HttpParserUpgrade):
        return "unexpected protocol upgrade"
    return str(exc) or type(exc).__name__


def classify_lost(
    exc: Exception | None, any_byte: bool, framing: str | None
) -> tuple[ErrorKind, str]:
    """Classify a connection lost before the response completed.

    Without a socket error: CLOSED while the response head is incomplete (the server hung
    up), PROTOCOL once it is complete (a body cut short of its Content-Length or chunked
    framing breaks the server's own promise). Close-delimited bodies never get here.
    """
    if isinstance(exc, OSError):
        return classify_os_error(exc, connecting=False)
    if exc is not None:
        return ErrorKind.OTHER, f"{type(exc).__name__}: {exc}"
    if framing is None:
        return (
            ErrorKind.CLOSED,
            "closed in the response head" if any_byte else "closed, no response",
        )
    return ErrorKind.PROTOCOL, f"closed before the end of a {framing} body"


def body_framing(head: bytes | None) -> str | None:
    """How the final response in ``head`` delimits its body: ``"Content-Length"``,
    ``"chunked"`` or ``"close"``; None while its head is incomplete.

    ``head`` holds the response's first bytes: maybe interim (1xx) heads, then the final
    head, then body bytes. Only called when a connection is lost mid-response.
    """
    if head is None:
        return None
    start = 0
    while True:
        end = head.find(b"\r\n\r\n", start)
        if end < 0:
            return None
        block = head[start:end]
        start = end + 4
        if block[9:10] != b"1":  # "HTTP/1.1 1xx": an interim head, skip it
            break
    transfer_encoding: bytes | None = None
    has_length = False
    for field in block.lower().split(b"\r\n")[1:]:
        name, _, value = field.partition(b":")
        name = name.strip()
        if name == b"transfer-encoding":
            transfer_encoding = value
        elif name == b"content-length":
            has_length = True
    if transfer_encoding is not None:  # it overrides Content-Length (RFC 9112, 6.3)
        return "chunked" if b"chunked" in transfer_encoding else "close"
    return "Content-Length" if has_length else "close"


@dataclass(slots=True)
class Exchange:
    """One request and its response, with monotonic-clock timestamps in nanoseconds.

    Invariants once ``on_done`` has been called: ``done_ns`` is set; ``error`` is None exactly
    when the exchange succeeded, and then ``status`` is the final (non-1xx) status and
    ``queued_ns <= start_ns <= sent_ns <= first_byte_ns <= done_ns``. On an error, the
    timestamps of phases never reached stay 0 and ``status`` is 0. ``connect_ns`` and
    ``tls_ns`` are non-zero only when ``new_connection`` is true.

    ``retried`` is true when the request was re-sent on a fresh connection because a reused
    keep-alive connection closed before any response byte (see ``ConnectionPool``); then
    ``start_ns`` is still the first attempt's, so the lost attempt counts as service time.
    """

    status: int = 0
    error: ErrorKind | None = None
    error_detail: str = ""
    queued_ns: int = 0
    start_ns: int = 0
    connect_ns: int = 0
    tls_ns: int = 0
    sent_ns: int = 0
    first_byte_ns: int = 0
    done_ns: int = 0
    bytes_in: int = 0
    new_connection: bool = False
    retried: bool = False
    headers: list[tuple[bytes, bytes]] | None = None
    body: bytes | None = None
    timeout_ns: int = 0
    """This request's own timeout; 0 means the pool's request timeout."""

    @property
    def ok(self) -> bool:
        """True when a complete response arrived, whatever its status code."""
        return self.error is None and self.done_ns != 0

    @property
    def queue_ns(self) -> int:
        """Time waiting for a free connection under the pool's limit."""
        return self.start_ns - self.queued_ns if self.start_ns else 0

    @property
    def send_ns(self) -> int:
        """From a usable connection to the request written (includes DNS on a new connection)."""
        if not self.sent_ns:
            return 0
        return max(0, self.sent_ns - self.start_ns - self.connect_ns - self.tls_ns)

    @property
    def wait_ns(self) -> int:
        """Time to first byte after the request was written."""
        return self.first_byte_ns - self.sent_ns if self.first_byte_ns else 0

    @property
    def receive_ns(self) -> int:
        """From the first response byte to the last."""
        return self.done_ns - self.first_byte_ns if self.first_byte_ns else 0

    @property
    def service_ns(self) -> int:
        """Connection setup when needed + send + wait + receive; excludes queueing."""
        return self.done_ns - self.start_ns if self.start_ns else 0

    @property
    def total_ns(self) -> int:
        """From submission to completion, including time queued for a connection."""
        return self.done_ns - self.queued_ns
