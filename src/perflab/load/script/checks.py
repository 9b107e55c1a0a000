"""Checks: assertions on a response that are counted, not raised.

A failed check is a data point (``checks>99%`` is a threshold like any other), as in k6;
raising would end the virtual user's iteration and hide how often the problem happens.
Each check has a stable ``name`` (default: a description such as ``status 200``), and
results are counted per check name and per request name.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from perflab.errors import UsageError
from perflab.load.script.jsonpath import compile_path, find_all
from perflab.model.units import parse_duration

if TYPE_CHECKING:
    from perflab.load.script.response import Response

_ANY = object()


@dataclass(frozen=True, slots=True)
class Check:
    """A named predicate on a :class:`~perflab.load.script.session.Response`."""

    name: str
    predicate: Callable[[Response], bool]

    def __call__(self, response: Response) -> bool:
        try:
            return bool(self.predicate(response))
        except (ValueError, KeyError, TypeError, IndexError, UnicodeDecodeError):
            return False  # e.g. a JSON check on an HTML error page: the check fails


def check(name: str, predicate: Callable[[Response], bool]) -> Check:
    """A custom check: ``check("has 3 items", lambda r: len(r.json()) == 3)``."""
    return Check(name, predicate)


def status(*codes: int, name: str | None = None) -> Check:
    """The status is one of ``codes`` (default: any 2xx)."""
    if codes:
        wanted = frozenset(codes)
        label = "status " + "|".join(str(c) for c in codes)
        return Check(name or label, lambda r: r.status in wanted)
    return Check(name or "status 2xx", lambda r: 200 <= r.status < 300)


def header(
    header_name: str,
    *,
    equals: str | None = None,
    contains: str | None = None,
    regex: str | None = None,
    name: str | None = None,
) -> Check:
    """The header is present (and equals / contains / matches, when given)."""
    pattern = re.compile(regex) if regex is not None else None
    key = header_name.lower()

    def predicate(r: Response) -> bool:
        value = r.headers.get(key)
        if value is None:
            return False
        if equals is not None and value != equals:
            return False
        if contains is not None and contains not in value:
            return False
        return pattern is None or pattern.search(value) is not None

    detail = equals or contains or regex
    label = f"header {header_name}" + (f" ~ {detail}" if detail else "")
    return Check(name or label, predicate)


def body_contains(text: str, *, name: str | None = None) -> Check:
    needle = text.encode()
    return Check(name or f"body contains {text!r}", lambda r: needle in r.body)


def body_regex(pattern: str, *, name: str | None = None) -> Check:
    compiled = re.compile(pattern.encode())
    return Check(name or f"body matches {pattern!r}", lambda r: compiled.search(r.body) is not None)


def json_path(expr: str, *, equals: Any = _ANY, name: str | None = None) -> Check:
    """``expr`` selects something in the JSON body (equal to ``equals``, when given)."""
    compile_path(expr)  # a bad expression is a script error, found when the check is made

    def predicate(r: Response) -> bool:
        found = find_all(r.json(), expr)
        if not found:
            return False
        return equals is _ANY or found[0] == equals

    # The expected value stays out of the default name: it often varies per user (an id),
    # and one check name per value would explode the checks table.
    label = f"json {expr}" + ("" if equals is _ANY else " equals expected")
    return Check(name or label, predicate)


def latency_under(limit: str | float, *, name: str | None = None) -> Check:
    """The response took less than ``limit`` (``"200ms"``, or seconds as a number)."""
    seconds = parse_duration(limit) if isinstance(limit, str) else float(limit)
    if seconds <= 0:
        raise UsageError(f"latency_under needs a positive limit, got {limit!r}")
    return Check(name or f"latency < {limit}", lambda r: r.elapsed_s < seconds)
