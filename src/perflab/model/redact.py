"""Secrets never reach a report: header values, URL passwords and token-like query values."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "[redacted]"
_SECRET_HEADERS = {
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "api-key",
    "x-auth-token",
    "x-csrf-token",
}
_SECRET_WORDS = re.compile(
    r"token|secret|passw|pwd|api[-_]?key|auth|session|signature|cookie", re.I
)


def is_secret_name(name: str) -> bool:
    return name.lower() in _SECRET_HEADERS or bool(_SECRET_WORDS.search(name))


def redact_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, REDACTED if is_secret_name(k) else v) for k, v in headers]


def redact_url(url: str) -> str:
    """Hide the password of ``user:pass@host`` and secret-looking query values."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        netloc = f"{user}:{REDACTED}@{hostport}" if ":" in userinfo else netloc
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(is_secret_name(k) for k, _ in pairs):
            query = urlencode([(k, REDACTED if is_secret_name(k) else v) for k, v in pairs])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_text(text: str, secrets: Iterable[str]) -> str:
    """Remove known secret values from free text (error messages echoing a header)."""
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    return text


def redact_argv(argv: Iterable[str]) -> list[str]:
    """A command line fit to store: the value after a secret-named flag (``--password x``,
    ``--token=x``), ``NAME=value`` with a secret name, and URL passwords are hidden."""
    out: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            out.append(REDACTED)
            hide_next = False
            continue
        name, eq, _value = arg.partition("=")
        if arg.startswith("-") and is_secret_name(name.lstrip("-")):
            out.append(f"{name}={REDACTED}" if eq else arg)
            hide_next = not eq
        elif eq and not arg.startswith("-") and is_secret_name(name) and "/" not in name:
            out.append(f"{name}={REDACTED}")
        else:
            out.append(redact_url(arg) if "://" in arg else arg)
    return out
