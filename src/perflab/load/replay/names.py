"""Metric names for replayed requests: ``METHOD /path`` with ids collapsed to ``{id}``.

A day of access log holds thousands of distinct URLs (``/users/1``, ``/users/2``, …); one
histogram row per URL would swamp the coordinator and make the summary unreadable. A path
segment becomes ``{id}`` when it is all digits, a UUID, or a long hex token (12 or more hex
characters with at least one digit: hashes, object ids). The query string never enters the
name; it is still sent. Past ``MAX_NAMES`` distinct names, the rarest are folded into one
``METHOD (other)`` name per method.
"""

from __future__ import annotations

import re
from collections import Counter

ID = "{id}"
OTHER = "(other)"
MAX_NAMES = 200  # distinct names kept in a plan; the rarer ones are folded, see fold_rare
_ID_SEGMENT = re.compile(
    r"/(?:\d+"
    r"|\{?[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}\}?"
    r"|(?=[a-fA-F]*\d)[0-9a-fA-F]{12,})"
    r"(?=/|\Z)"
)
_CACHE_LIMIT = 100_000  # distinct raw routes remembered; cleared when full (memory bound)


def group_path(path: str) -> str:
    """The route of ``path`` (query dropped, ids replaced): ``/a/42?x=1`` -> ``/a/{id}``."""
    route = path.partition("?")[0]
    if _ID_SEGMENT.search(route) is None:
        return route
    return _ID_SEGMENT.sub("/" + ID, route)


class Namer:
    """Names for a stream of requests; each distinct name is one shared string object."""

    def __init__(self) -> None:
        self._by_method: dict[str, dict[str, str]] = {}  # method -> raw route -> name
        self._names: dict[str, str] = {}

    def __call__(self, method: str, path: str) -> str:
        query = path.find("?")
        raw = path if query < 0 else path[:query]
        routes = self._by_method.get(method)
        if routes is None:
            routes = self._by_method[method] = {}
        name = routes.get(raw)
        if name is None:
            if len(routes) >= _CACHE_LIMIT:
                routes.clear()
            name = f"{method} {group_path(raw)}"
            name = routes[raw] = self._names.setdefault(name, name)
        return name


def fold_rare(counts: Counter[str], keep: int = MAX_NAMES) -> dict[str, str]:
    """Renames that bound the number of names: all but the ``keep`` most frequent names
    become ``METHOD (other)``. Empty when there are at most ``keep`` names.

    Routes with slugs (``/products/blue-shoes``) are not ids and are not collapsed; a log
    full of them would otherwise make thousands of rows.
    """
    if len(counts) <= keep:
        return {}
    kept = {name for name, _ in counts.most_common(keep)}
    return {name: f"{name.partition(' ')[0]} {OTHER}" for name in counts if name not in kept}
