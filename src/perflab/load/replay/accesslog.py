"""Access logs in the common and combined formats (nginx, Apache, and most proxies).

``127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif?x=1 HTTP/1.0" 200 2326`` is
the common format; combined adds ``"referer" "user-agent"``. Both are recognised per line,
so a file may mix them. The timestamp is to the second; when a later field holds an epoch
time with milliseconds (nginx ``$msec``, e.g. ``1700000000.123``) within two seconds of it,
that finer time is used instead.

Lines are read one at a time and only the fields a replay needs are kept, so the raw text of
a large log is never held. A line that cannot be replayed (not in the format, a request line
such as ``"-"`` or TLS bytes sent to a plain-HTTP port, an invalid method, a target that is
not a path) is recorded as ``(line number, reason)`` and the reading goes on.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Iterator
from urllib.parse import quote_from_bytes, urlsplit

from perflab.load.replay.names import Namer
from perflab.load.replay.timing import Raw

# Quoted fields use the unrolled form of ("[^"\\]|\\.)*, several times faster in `re`.
_Q = r'"[^"\\]*(?:\\.[^"\\]*)*"'
# The fields a replay needs: the time and the request line (the rest is only looked at for
# the combined format's two quoted fields and an epoch time with milliseconds).
HEAD = re.compile(
    r'\S+ \S+ (?:\S+|"[^"]*") \[([^\]]+)\] "([^"\\]*(?:\\.[^"\\]*)*)" (?:\d{3}|-) (?:\d+|-)'
)
# The usual line, in one match: a plain method and a path of printable ASCII without escapes.
# Lines it does not fit take the general route (HEAD, then checks that name the problem).
_FAST = re.compile(
    r'\S+ \S+ (?:\S+|"[^"]*") \[([^\]]+)\] "([A-Z][A-Z_-]{1,23}) (/[\x21\x23-\x5b\x5d-\x7e]*)'
    r'(?: HTTP/[0-9.]+)?" (?:\d{3}|-) (?:\d+|-)'
)
_COMBINED = re.compile(" " + _Q + " " + _Q)
_METHOD = re.compile(r"[A-Z][A-Z_-]{1,23}")
_MSEC = re.compile(r"(?<![\d.])(\d{10}\.\d{3,6})(?![\d.])")
_ESCAPE = re.compile(r"\\x([0-9A-Fa-f]{2})|\\(.)")
_UNSAFE = re.compile(r"[^\x21-\x7e]")  # outside printable ASCII: must be percent-encoded
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_EXCERPT = 40
_PRINTABLE = "".join(chr(c) for c in range(0x21, 0x7F))


def excerpt(text: str) -> str:
    """A short, secret-free quote of log text: the query (tokens live there) is cut off, and
    anything unprintable is shown as an escape."""
    head, sep, _query = text.partition("?")
    head = head if not sep else head + "?…"
    if len(head) > _EXCERPT:
        head = head[:_EXCERPT] + "…"
    shown = "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in head)
    return f"'{shown}'"


def parse_time(text: str) -> float:
    """Epoch seconds of ``10/Oct/2000:13:55:36 -0700``; ``ValueError`` when malformed."""
    if len(text) != 26 or text[2] != "/" or text[6] != "/" or text[20] != " ":
        raise ValueError(text)
    month = _MONTHS[text[3:6]] if text[3:6] in _MONTHS else 0
    sign = {"+": 1, "-": -1}.get(text[21], 0)
    if not month or not sign:
        raise ValueError(text)
    fields = (int(text[7:11]), month, int(text[0:2]), int(text[12:14]), int(text[15:17]))
    second = int(text[18:20])
    if fields[2] > 31 or fields[3] > 23 or fields[4] > 59 or second > 60:
        raise ValueError(text)
    utc = calendar.timegm((*fields, second, 0, 0, 0))
    return float(utc - sign * (int(text[22:24]) * 3600 + int(text[24:26]) * 60))


def _unescape(target: str) -> bytes:
    r"""The bytes a server logged as ``\xHH``, ``\"`` or ``\\`` (nginx and Apache escapes)."""
    out = bytearray()
    pos = 0
    for match in _ESCAPE.finditer(target):
        out += target[pos : match.start()].encode("utf-8", "surrogateescape")
        hex_digits, char = match.groups()
        if hex_digits is not None:
            out.append(int(hex_digits, 16))
        else:
            out += char.encode("utf-8", "surrogateescape")
        pos = match.end()
    out += target[pos:].encode("utf-8", "surrogateescape")
    return bytes(out)


def wire_path(target: str) -> str:
    """``target`` as it goes on a request line: printable ASCII is kept exactly as logged;
    anything else (spaces, control bytes, non-ASCII) is percent-encoded."""
    if "\\" in target:
        raw = _unescape(target)
    elif _UNSAFE.search(target):
        raw = target.encode("utf-8", "surrogateescape")
    else:
        return target
    return quote_from_bytes(raw, safe=_PRINTABLE)


class AccessLogReader:
    """Parses lines into :data:`~perflab.load.replay.timing.Raw` records, counting skips.

    The first ``PROBE_LINES`` log lines are read in full, to learn whether the log is in the
    combined format and carries an epoch time with milliseconds; after that, unless it does,
    a usual line costs one regular-expression match (about 1 µs).
    """

    PROBE_LINES = 1000

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit
        self.raws: list[Raw] = []
        self.skipped: list[tuple[int, str]] = []
        self.lines = 0
        self.matched = 0  # lines in the log format at all (replayable or not)
        self.combined = 0
        self._msec = 0  # lines where an epoch time with milliseconds was found
        self._namer = Namer()
        self._time_text = ""
        self._time = 0.0

    @property
    def format(self) -> str:
        probed = min(self.matched, self.PROBE_LINES)
        return "combined" if probed and self.combined * 2 >= probed else "common"

    @property
    def full(self) -> bool:
        return self.limit is not None and len(self.raws) >= self.limit

    def feed(self, lines: Iterable[str], first: int = 1) -> None:
        """Parse ``lines`` (numbered from ``first``) until they end or ``limit`` is reached."""
        numbered = enumerate(lines, first)
        self.lines = max(self.lines, first - 1)
        left = -1 if self.limit is None else self.limit - len(self.raws)
        while self.matched < self.PROBE_LINES or self._msec:  # the general route
            number, line = next(numbered, (0, ""))
            if not number:
                return
            self.lines = number
            if self._line(number, line):
                left -= 1
                if left == 0:
                    return
        self._feed_fast(numbered, left)

    def _feed_fast(self, numbered: Iterator[tuple[int, str]], left: int) -> None:
        """The hot loop: usual lines in one match; the rest go the general route."""
        fast, append, namer, general = _FAST.match, self.raws.append, self._namer, self._line
        stamp_text, at = self._time_text, self._time
        number, matched = self.lines, 0
        for number, line in numbered:
            found = fast(line)
            if found is None:
                if not general(number, line):
                    continue
                stamp_text, at = self._time_text, self._time
            else:
                stamp, method, path = found.groups()
                if stamp != stamp_text:
                    if not self._parse_stamp(number, stamp):
                        continue
                    stamp_text, at = stamp, self._time
                append((at, False, method, path, namer(method, path), (), b""))
                matched += 1
            left -= 1
            if left == 0:
                break
        self.lines = number
        self.matched += matched

    def _parse_stamp(self, number: int, stamp: str) -> bool:
        try:
            self._time = parse_time(stamp)
        except ValueError:
            self.skipped.append((number, f"bad timestamp {stamp[:30]!r}"))
            return False
        self._time_text = stamp
        return True

    def _line(self, number: int, line: str) -> bool:
        """The general route for one line: whether a request was added (else it is skipped)."""
        text = line.rstrip()
        if not text:
            return False
        found = HEAD.match(text)
        if found is None:
            self.skipped.append((number, "not a common or combined log line"))
            return False
        self.matched += 1
        stamp, request = found.groups()
        request_target = _request_target(request)
        if isinstance(request_target, str):
            self.skipped.append((number, request_target))
            return False
        method, target = request_target
        if stamp != self._time_text and not self._parse_stamp(number, stamp):
            return False
        at, precise = self._time, False
        if self._msec or self.matched <= self.PROBE_LINES:
            at, precise = self._probe(text[found.end() :], at)
        path = wire_path(target)
        self.raws.append((at, precise, method, path, self._namer(method, path), (), b""))
        return True

    def _probe(self, tail: str, at: float) -> tuple[float, bool]:
        """Look at what follows the common fields: combined format? an exact time?"""
        if self.matched <= self.PROBE_LINES and _COMBINED.match(tail):
            self.combined += 1
        fine = _MSEC.search(tail)
        if fine is not None and abs(float(fine.group(1)) - at) < 2.0:
            self._msec += 1
            return float(fine.group(1)), True
        return at, False


def _request_target(request: str) -> tuple[str, str] | str:
    """``(method, target)`` of a logged request line, or the reason it cannot be replayed."""
    parts = request.split(" ")
    if len(parts) == 3 and parts[2].startswith("HTTP/"):
        method, target = parts[0], parts[1]
    elif len(parts) == 2:  # HTTP/0.9 style, no version
        method, target = parts
    elif request in ("-", ""):
        return "no request line ('-': the client sent nothing, or closed first)"
    elif request.startswith("\\x16\\x03"):
        return "TLS handshake bytes on a plain-HTTP port, not a request"
    else:
        return f"bad request line {excerpt(request)}"
    if not _METHOD.fullmatch(method):
        return f"invalid method {excerpt(method)}"
    if target[:1] != "/":
        if not target.startswith(("http://", "https://")):
            return f"request target {excerpt(target)} is not a path"
        split = urlsplit(target)
        target = (split.path or "/") + (f"?{split.query}" if split.query else "")
    return method, target


def is_log_line(line: str) -> bool:
    """Whether ``line`` starts like a common or combined log line."""
    return HEAD.match(line) is not None
