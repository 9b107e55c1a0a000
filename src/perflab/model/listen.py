"""The ``[HOST]:PORT`` listen-address grammar shared by every flag that opens a port.

One parser, so ``--prometheus``, ``--ui`` and ``perflab ui --port`` accept and reject the same
spellings. It lives in the pure base because both the exporters and the dashboard use it.
"""

from __future__ import annotations

from perflab.errors import UsageError

LOOPBACK = "127.0.0.1"

__all__ = ["LOOPBACK", "parse_listen"]


def parse_listen(value: str, *, flag: str, example_port: int) -> tuple[str, int]:
    """``[HOST]:PORT`` (or a bare port) as (host, port); no host means 127.0.0.1.

    Listening on every interface must be asked for (``0.0.0.0:PORT``): these endpoints have no
    authentication. Port 0 picks a free port. IPv6 hosts go in brackets: ``[::1]:PORT``.

    Raises:
        UsageError: not a port, a port outside 0..65535, or a bare IPv6 address.
    """
    text = value.strip()
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host, port_text = "", text
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise UsageError(
            f"{flag} {value!r}: write IPv6 addresses in brackets, [::1]:{example_port}"
        )
    if not port_text.isdigit() or int(port_text) > 65535:
        raise UsageError(
            f"{flag} {value!r}: expected [HOST]:PORT with a port 0..65535, e.g. :{example_port}"
        )
    return host or LOOPBACK, int(port_text)
