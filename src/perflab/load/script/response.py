"""What a script sees of a response: status, headers, body, and helpers to correlate.

Headers are kept raw (bytes pairs) and decoded only when a script asks; most iterations read
one field or none, and decoding every header of every response would be paid per request.
"""

from __future__ import annotations

import json as jsonlib
import re
from typing import Any

from perflab.load.http.exchange import ErrorKind, Exchange
from perflab.load.script.jsonpath import find, find_all

_MISSING: Any = object()


class Response:
    __slots__ = ("_headers", "_json", "exchange", "method", "name", "url")

    def __init__(self, exchange: Exchange, method: str, url: str, name: str) -> None:
        self.exchange = exchange
        self.method = method
        self.url = url
        self.name = name
        self._headers: dict[str, str] | None = None
        self._json: Any = _MISSING

    def __repr__(self) -> str:
        outcome = self.error.value if self.error is not None else str(self.status)
        return f"<Response {self.method} {self.url} {outcome}>"

    @property
    def status(self) -> int:
        """The HTTP status; 0 when no response arrived (see ``error``)."""
        return self.exchange.status

    @property
    def error(self) -> ErrorKind | None:
        """Why no response arrived (refused, timeout, reset, ...); None when one did."""
        return self.exchange.error

    @property
    def error_detail(self) -> str:
        return self.exchange.error_detail

    @property
    def ok(self) -> bool:
        """A response arrived and its status is below 400."""
        return self.exchange.error is None and 0 < self.exchange.status < 400

    @property
    def elapsed_s(self) -> float:
        """Time from sending to the last byte (0 when it failed before connecting)."""
        ex = self.exchange
        return (ex.done_ns - ex.queued_ns) / 1e9 if ex.done_ns and ex.queued_ns else 0.0

    @property
    def body(self) -> bytes:
        return self.exchange.body or b""

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def headers(self) -> dict[str, str]:
        """Lower-case names; repeated fields joined with ", " (``Set-Cookie`` kept apart)."""
        if self._headers is None:
            out: dict[str, str] = {}
            for raw_name, raw_value in self.exchange.headers or ():
                key = raw_name.decode("latin-1").lower()
                value = raw_value.decode("latin-1")
                out[key] = f"{out[key]}, {value}" if key in out else value
            self._headers = out
        return self._headers

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def header_values(self, name: str) -> list[str]:
        """Every value of a repeated field, e.g. each ``Set-Cookie``."""
        wanted = name.lower().encode("latin-1")
        return [v.decode("latin-1") for k, v in self.exchange.headers or () if k.lower() == wanted]

    def json(self) -> Any:
        """The body parsed as JSON (cached). Raises ValueError when it is not JSON."""
        if self._json is _MISSING:
            self._json = jsonlib.loads(self.body)
        return self._json

    def json_path(self, expr: str, default: Any = _MISSING) -> Any:
        """The first value ``expr`` selects (``$.token``, ``$.items[0].id``, ``$..id``).

        Without ``default``, a miss raises KeyError: correlation that silently yields None
        would send a wrong request later and hide the cause.
        """
        try:
            document = self.json()
        except ValueError:
            if default is _MISSING:
                raise KeyError(f"{self.name}: body is not JSON, cannot read {expr}") from None
            return default
        return find(document, expr, default)

    def json_paths(self, expr: str) -> list[Any]:
        """Every value ``expr`` selects (e.g. all ids in a list)."""
        try:
            return find_all(self.json(), expr)
        except ValueError:
            return []

    def regex(self, pattern: str, group: int | str = 1, default: Any = _MISSING) -> Any:
        """A group of the first match of ``pattern`` in the body text (e.g. a CSRF token)."""
        match = re.search(pattern, self.text)
        if match is None:
            if default is _MISSING:
                raise KeyError(f"{self.name}: no match for {pattern!r} in the body")
            return default
        return match.group(group) if match.re.groups else match.group(0)
