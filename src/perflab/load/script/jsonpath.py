"""A small JSONPath subset, compiled once per expression: what load-test correlation needs.

Supported: ``$`` (the root), ``.key``, ``['key']`` / ``["key"]``, ``[N]`` (negative counts
from the end), ``[*]`` and ``.*`` (every element), and ``..key`` (that key at any depth).
Filters and slices are left out on purpose: a correlation that needs them is clearer as a
line of Python on ``response.json()``. Expressions are cached, so a task that extracts the
same path on every iteration parses it once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from perflab.errors import UsageError

_TOKEN = re.compile(
    r"""\.\.(?P<deep>[A-Za-z_][\w-]*)
      | \.(?P<key>[A-Za-z_$][\w$-]*)
      | \.\*(?P<dotstar>)
      | \[\s*(?P<index>-?\d+)\s*\]
      | \[\s*\*\s*\](?P<star>)
      | \[\s*'(?P<sq>[^']*)'\s*\]
      | \[\s*"(?P<dq>[^"]*)"\s*\]""",
    re.VERBOSE,
)

Step = tuple[str, Any]  # ("key", name) | ("index", n) | ("all", None) | ("deep", name)


@lru_cache(maxsize=512)
def compile_path(expr: str) -> tuple[Step, ...]:
    """Parse ``expr`` into steps.

    Raises:
        UsageError: naming the expression and the position that could not be read.
    """
    text = expr.strip()
    if not text.startswith("$"):
        raise UsageError(f"JSON path {expr!r} must start with '$' (e.g. '$.token', '$[0].id')")
    steps: list[Step] = []
    pos = 1
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise UsageError(
                f"JSON path {expr!r}: cannot read {text[pos:]!r} "
                "(supported: .key ['key'] [N] [*] ..key)"
            )
        groups = match.groupdict()
        if groups["deep"] is not None:
            steps.append(("deep", groups["deep"]))
        elif groups["key"] is not None:
            steps.append(("key", groups["key"]))
        elif groups["index"] is not None:
            steps.append(("index", int(groups["index"])))
        elif groups["sq"] is not None or groups["dq"] is not None:
            steps.append(("key", groups["sq"] if groups["sq"] is not None else groups["dq"]))
        else:
            steps.append(("all", None))
        pos = match.end()
    return tuple(steps)


def find_all(document: Any, expr: str) -> list[Any]:
    """Every value ``expr`` selects in ``document`` (empty when nothing matches)."""
    nodes: list[Any] = [document]
    for kind, arg in compile_path(expr):
        nodes = list(_step(nodes, kind, arg))
        if not nodes:
            break
    return nodes


_MISSING = object()


def find(document: Any, expr: str, default: Any = _MISSING) -> Any:
    """The first value ``expr`` selects; ``default`` when none, else ``KeyError``."""
    found = find_all(document, expr)
    if found:
        return found[0]
    if default is _MISSING:
        raise KeyError(f"JSON path {expr!r} matched nothing")
    return default


def _step(nodes: list[Any], kind: str, arg: Any) -> Iterator[Any]:
    for node in nodes:
        if kind == "key":
            if isinstance(node, dict) and arg in node:
                yield node[arg]
        elif kind == "index":
            if isinstance(node, list) and -len(node) <= arg < len(node):
                yield node[arg]
        elif kind == "all":
            if isinstance(node, dict):
                yield from node.values()
            elif isinstance(node, list):
                yield from node
        else:
            yield from _deep(node, arg)


def _deep(node: Any, key: str) -> Iterator[Any]:
    if isinstance(node, dict):
        if key in node:
            yield node[key]
        for value in node.values():
            yield from _deep(value, key)
    elif isinstance(node, list):
        for value in node:
            yield from _deep(value, key)
