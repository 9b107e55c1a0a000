"""Client TLS contexts.

Verification is on by default, as in curl: a load test against a server with a bad
certificate should fail loudly (as ErrorKind.TLS per request), not measure something else.
"""

from __future__ import annotations

import os
import ssl

from perflab.errors import UsageError


def make_ssl_context(
    *,
    insecure: bool = False,
    ca_file: str | os.PathLike[str] | None = None,
) -> ssl.SSLContext:
    """Build the one context a pool shares for all its connections.

    Args:
        insecure: skip certificate and host-name verification (curl ``-k``).
        ca_file: PEM file of CAs to trust *instead of* the system store (curl ``--cacert``).

    ALPN offers only ``http/1.1``, so a server never switches to HTTP/2 under us.

    Raises:
        UsageError: when ``ca_file`` is missing or holds no usable certificate.
    """
    try:
        context = ssl.create_default_context(cafile=os.fspath(ca_file) if ca_file else None)
    except FileNotFoundError as exc:
        raise UsageError(f"CA file {os.fspath(ca_file or '')!r} not found") from exc
    except ssl.SSLError as exc:
        raise UsageError(
            f"CA file {os.fspath(ca_file or '')!r} holds no usable PEM certificate: {exc.reason}",
        ) from exc
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["http/1.1"])
    return context
