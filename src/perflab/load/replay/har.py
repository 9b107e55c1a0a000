"""HAR files (HTTP Archive 1.2, as browsers' dev tools and proxies export them).

Each ``log.entries[]`` item gives ``startedDateTime`` (ISO 8601, milliseconds) and a
``request`` with ``method``, ``url``, ``headers`` and ``postData``. What is replayed: the
method, path and query, the request headers except those that belong to one connection or
that perflab sets itself (hop-by-hop headers, HTTP/2 pseudo-headers, ``Host``,
``Content-Length``, ``Expect``), and the body (``postData.text``, or the form ``params``).
Cookies and ``Authorization`` are sent as recorded; they are secrets, so they are never
echoed in a reason or a note. Entries are numbered from 1 in skip reports.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import Counter
from datetime import datetime
from typing import IO, Any
from urllib.parse import urlencode, urlsplit

from perflab.errors import UsageError
from perflab.load.http.request import TOKEN, sendable_header
from perflab.load.replay.accesslog import excerpt, wire_path
from perflab.load.replay.names import Namer
from perflab.load.replay.timing import Raw
from perflab.model.redact import redact_url

_DROP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authorization",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "host",
        "content-length",
        "expect",
        "http2-settings",
    }
)


class HarReader:
    """Turns a HAR document into :class:`~perflab.load.replay.timing.Raw` records."""

    def __init__(self) -> None:
        self.raws: list[Raw] = []
        self.skipped: list[tuple[int, str]] = []
        self.lines = 0
        self.notes: list[str] = []
        self._namer = Namer()
        self._origins: Counter[str] = Counter()
        self._dropped_headers: Counter[str] = Counter()

    def read(self, stream: IO[str], source: str) -> None:
        try:
            doc = json.load(stream)
        except json.JSONDecodeError as exc:
            raise UsageError(
                f"{source}: not a valid HAR file: JSON error at line {exc.lineno}: {exc.msg}"
            ) from None
        log = doc.get("log") if isinstance(doc, dict) else None
        entries = log.get("entries") if isinstance(log, dict) else None
        if not isinstance(entries, list):
            raise UsageError(f"{source}: not a HAR file: no log.entries list")
        self.lines = len(entries)
        for number, entry in enumerate(entries, 1):
            reason = self._add(entry)
            if reason is not None:
                self.skipped.append((number, reason))
        self._notes()

    def _add(self, entry: Any) -> str | None:
        request = entry.get("request") if isinstance(entry, dict) else None
        if not isinstance(request, dict):
            return "no request object"
        method, url = request.get("method"), request.get("url")
        if not isinstance(method, str) or not TOKEN.fullmatch(method):
            return f"invalid method {excerpt(str(method))}"
        if not isinstance(url, str):
            return "no request url"
        try:
            parts = urlsplit(url)
        except ValueError:
            return f"bad url {excerpt(redact_url(url))}"
        if parts.scheme.lower() not in ("http", "https"):
            return f"scheme {parts.scheme or '(none)'!r} cannot be replayed over HTTP"
        try:
            at = datetime.fromisoformat(str(entry.get("startedDateTime"))).timestamp()
        except ValueError:
            return "bad or missing startedDateTime"
        body, reason = _body(request.get("postData"))
        if reason is not None:
            return reason
        path = wire_path((parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
        headers = self._headers(request.get("headers"))
        origin = f"{parts.scheme.lower()}://{parts.netloc.lower()}"
        self._origins[origin] += 1
        self.raws.append((at, True, method, path, self._namer(method, path), headers, body))
        return None

    def _headers(self, given: Any) -> tuple[tuple[str, str], ...]:
        kept: list[tuple[str, str]] = []
        for header in given if isinstance(given, list) else ():
            if not isinstance(header, dict):
                continue
            name, value = header.get("name"), header.get("value")
            if isinstance(name, str) and (name.startswith(":") or name.lower() in _DROP):
                continue
            if not sendable_header(name, value):
                self._dropped_headers[str(name)[:40]] += 1
                continue
            kept.append((str(name), str(value)))
        return tuple(kept)

    def _notes(self) -> None:
        if len(self._origins) > 1:
            main, count = self._origins.most_common(1)[0]
            others = sum(self._origins.values()) - count
            self.notes.append(
                f"{others} request(s) were recorded for other origins than "
                f"{redact_url(main)} ({len(self._origins) - 1} other origin(s)); "
                "their paths are replayed against --target too"
            )
        if self._dropped_headers:
            names = ", ".join(sorted(self._dropped_headers)[:5])
            self.notes.append(
                f"dropped {sum(self._dropped_headers.values())} header(s) that cannot be sent "
                f"over HTTP/1.1 (line breaks or non-Latin-1 values): {names}"
            )


def _body(post: Any) -> tuple[bytes, str | None]:
    """The request body from ``postData``, or a reason when it cannot be decoded."""
    if not isinstance(post, dict):
        return b"", None
    text = post.get("text")
    if isinstance(text, str):
        if post.get("encoding") == "base64":
            try:
                return base64.b64decode(text, validate=True), None
            except (binascii.Error, ValueError):
                return b"", "postData.text is not valid base64"
        return text.encode("utf-8", "replace"), None
    params = post.get("params")
    if isinstance(params, list):
        pairs = [
            (str(p.get("name", "")), str(p.get("value", ""))) for p in params if isinstance(p, dict)
        ]
        return urlencode(pairs).encode(), None
    return b"", None
