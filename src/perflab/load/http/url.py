"""Target URLs, validated once when a test is defined so the hot path never re-parses them.

Every problem is reported as one :class:`~perflab.errors.UsageError` line that names the bad
value and says what is expected, because URLs come straight from the command line or a spec.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from perflab.errors import UsageError

_DEFAULT_PORTS = {"http": 80, "https": 443}
_BAD_CHARS = re.compile(r"[\x00-\x20\x7f]")
# Characters left alone when percent-encoding a path: everything legal in a path or query,
# and "%" so that escapes the user already wrote are kept, not double-encoded.
_PATH_SAFE = "!#$%&'()*+,/:;=?@[]~"


@dataclass(frozen=True, slots=True)
class Origin:
    """Where connections go: a pool holds connections to exactly one origin.

    Invariants: ``scheme`` is ``"http"`` or ``"https"``; ``host`` is lower-case ASCII (IDNA
    encoded) and an IPv6 literal is stored without brackets; ``1 <= port <= 65535``.
    """

    scheme: str
    host: str
    port: int

    @property
    def is_tls(self) -> bool:
        return self.scheme == "https"

    @property
    def netloc_header(self) -> str:
        """The ``Host`` header value: the port only when it is not the scheme's default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.port == _DEFAULT_PORTS[self.scheme]:
            return host
        return f"{host}:{self.port}"

    def __str__(self) -> str:
        return f"{self.scheme}://{self.netloc_header}"


@dataclass(frozen=True, slots=True)
class Target:
    """An origin plus the request target sent on the request line.

    Invariant: ``path`` starts with ``/``, includes the query, excludes the fragment, and is
    pure ASCII (non-ASCII characters are percent-encoded as UTF-8).
    """

    origin: Origin
    path: str = "/"

    @property
    def url(self) -> str:
        return f"{self.origin}{self.path}"

    def __str__(self) -> str:
        return self.url


def parse_url(url: str) -> Target:
    """Parse an absolute ``http``/``https`` URL into a :class:`Target`.

    Raises:
        UsageError: on a missing or unsupported scheme, whitespace or control characters,
            credentials, a missing host or a bad port, with the offending value in the message.
    """
    bad = _BAD_CHARS.search(url)
    if bad:
        what = "a space" if bad.group() == " " else f"control character {bad.group()!r}"
        raise UsageError(
            f"URL {url!r} contains {what}; percent-encode it (a space is %20)",
        )
    if "://" not in url:
        raise UsageError(
            f"URL {url!r} has no scheme; expected http:// or https://, e.g. http://{url}",
        )
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # e.g. an unbalanced "[" in the host
        raise UsageError(f"URL {url!r} is not a valid URL: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise UsageError(
            f"URL {url!r} has scheme {parts.scheme!r}; expected http or https",
        )
    netloc = parts.netloc
    if "@" in netloc:
        raise UsageError(
            f"URL {url!r} contains credentials; pass them as a header instead, "
            "e.g. -H 'Authorization: Basic ...'",
        )
    host, port = _split_host_port(url, netloc, _DEFAULT_PORTS[scheme])
    path = parts.path or "/"
    if not path.startswith("/"):
        raise UsageError(f"URL {url!r} has a path that does not start with '/'")
    if parts.query:
        path = f"{path}?{parts.query}"
    if not path.isascii():
        path = quote(path, safe=_PATH_SAFE)
    return Target(Origin(scheme, host, port), path)


def _split_host_port(url: str, netloc: str, default_port: int) -> tuple[str, int]:
    """Split ``host[:port]`` (or ``[v6]:port``) and validate both halves."""
    if netloc.startswith("["):
        end = netloc.find("]")
        host, rest = netloc[1:end], netloc[end + 1 :]
        try:
            ipaddress.IPv6Address(host)
        except ValueError as exc:
            raise UsageError(f"URL {url!r} has a bad IPv6 address {host!r}") from exc
        if rest and not rest.startswith(":"):
            raise UsageError(f"URL {url!r} has text after the IPv6 address: {rest!r}")
        port_text = rest[1:] if rest else None
    else:
        host, sep, port_text_raw = netloc.partition(":")
        port_text = port_text_raw if sep else None
    if not host:
        raise UsageError(f"URL {url!r} has no host; expected e.g. http://localhost:8080/")
    return _normalize_host(url, host), _parse_port(url, port_text, default_port)


def _normalize_host(url: str, host: str) -> str:
    if ":" in host:
        return host.lower()
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise UsageError(f"URL {url!r} has a host that is not a valid name: {host!r}") from exc
    if not re.fullmatch(r"[A-Za-z0-9._~-]+", host):
        raise UsageError(f"URL {url!r} has a host with characters not allowed in a name: {host!r}")
    return host.lower()


def _parse_port(url: str, text: str | None, default: int) -> int:
    if text is None:
        return default
    if not text:
        raise UsageError(f"URL {url!r} has an empty port after ':'; expected an integer 1-65535")
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 65535:
        raise UsageError(f"URL {url!r} has bad port {text!r}; expected an integer 1-65535")
    return int(text)
