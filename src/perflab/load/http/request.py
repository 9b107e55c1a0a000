"""Request definitions and their wire bytes.

A request is validated and serialized once, when the test is defined; the engine then writes
the same ``bytes`` object for every iteration, so the hot path never formats a request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from perflab import __version__
from perflab.errors import UsageError
from perflab.load.http.url import Origin, Target

USER_AGENT = f"perflab/{__version__}"

# RFC 9110 token: what a method or a header name may contain.
TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# A field value may not carry CR, LF or NUL (they would split or corrupt the request).
_BAD_VALUE = re.compile(r"[\r\n\x00]")
# Methods whose requests carry a body by definition: they get "Content-Length: 0" when empty,
# as curl and browsers do, because some servers answer 411 without it.
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# Stands in for "no target given": a dataclass field without a default cannot follow
# ``method``'s default, and the contract's field order (method first) is kept for positional
# calls such as ``RequestSpec("POST", target)``.
_MISSING = Target(Origin("http", "missing.invalid", 80))


@dataclass(frozen=True, slots=True)
class RequestSpec:
    """One request of a test: what to send, and the name it is reported under.

    Invariants (checked on construction): ``method`` is an HTTP token, every header name is a
    token, no header value contains CR, LF or NUL, and a caller-given ``Content-Length``
    matches ``body``. ``Transfer-Encoding`` cannot be given: bodies are sent with a length.
    """

    method: str = "GET"
    target: Target = _MISSING
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    name: str = ""

    def __post_init__(self) -> None:
        if self.target is _MISSING:
            raise TypeError("RequestSpec() missing required argument: 'target'")
        if not TOKEN.fullmatch(self.method):
            raise UsageError(
                f"HTTP method {self.method!r} is not valid; expected a token such as GET or POST",
            )
        for key, value in self.headers:
            _check_header(key, value)
            lowered = key.lower()
            if lowered == "transfer-encoding":
                raise UsageError(
                    f"header {key!r} cannot be set; perflab sends bodies with Content-Length",
                )
            if lowered == "content-length" and value.strip() != str(len(self.body)):
                raise UsageError(
                    f"header 'Content-Length: {value}' does not match the body "
                    f"({len(self.body)} bytes); leave it out and perflab sets it",
                )

    @property
    def label(self) -> str:
        """The name results are grouped under: ``name``, or ``METHOD path`` when unnamed."""
        return self.name or f"{self.method} {self.target.path}"

    def wire(self) -> bytes:
        """The complete HTTP/1.1 request.

        ``Host`` and ``User-Agent`` come first unless the caller gave them; ``Content-Length``
        is added when there is a body (or the method implies one). Header names and values are
        encoded as Latin-1, the encoding HTTP/1.1 field values are defined in.
        """
        given = {key.lower() for key, _ in self.headers}
        lines = [f"{self.method} {self.target.path} HTTP/1.1"]
        if "host" not in given:
            lines.append(f"Host: {self.target.origin.netloc_header}")
        if "user-agent" not in given:
            lines.append(f"User-Agent: {USER_AGENT}")
        if "content-length" not in given and (self.body or self.method in _BODY_METHODS):
            lines.append(f"Content-Length: {len(self.body)}")
        lines.extend(f"{key}: {value}" for key, value in self.headers)
        try:
            head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        except UnicodeEncodeError as exc:
            raise UsageError(
                f"request {self.label!r} has a header that is not Latin-1 text: {exc.object!r}",
            ) from exc
        return head + self.body


def parse_header(text: str) -> tuple[str, str]:
    """Parse a header given as ``Name: value`` (curl ``-H`` syntax).

    ``Name;`` means the header with an empty value, as in curl. Surrounding whitespace of the
    value is dropped.

    Raises:
        UsageError: when there is no ``:``, the name is empty or not a token, or the value
            contains CR, LF or NUL.
    """
    name, sep, value = text.partition(":")
    if not sep:
        if text.endswith(";") and TOKEN.fullmatch(text[:-1]):
            return text[:-1], ""
        raise UsageError(f"header {text!r} is not in the form 'Name: value'")
    name, value = name.strip(), value.strip()
    if not name:
        raise UsageError(f"header {text!r} has an empty name; expected 'Name: value'")
    _check_header(name, value)
    return name, value


def sendable_header(name: object, value: object) -> bool:
    """Whether a header can go on an HTTP/1.1 request as is (what ``RequestSpec`` accepts):
    for data from files (HAR, logs) where a bad header is dropped rather than an error."""
    if not isinstance(name, str) or not isinstance(value, str) or not TOKEN.fullmatch(name):
        return False
    if _BAD_VALUE.search(value):
        return False
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def _check_header(name: str, value: str) -> None:
    if not name:
        raise UsageError(f"header with value {value!r} has an empty name; expected 'Name: value'")
    if not TOKEN.fullmatch(name):
        raise UsageError(
            f"header name {name!r} has characters not allowed in a header name "
            "(letters, digits and !#$%&'*+.^_`|~- only)",
        )
    if _BAD_VALUE.search(value):
        raise UsageError(
            f"header {name!r} has a value with a line break or NUL: {value!r}",
        )
