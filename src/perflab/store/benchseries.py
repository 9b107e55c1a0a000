"""One benchmark's stored series (name + params + machine), oldest first, for ``perflab bench
history`` and ``perflab detect --bench``.

A series that is not there is a :class:`~perflab.errors.UsageError` that says what *is*
there: close names (difflib), the stored parameter sets, or the machines that have it, so a
typo or a run on another host is one line to fix.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from perflab.errors import UsageError

if TYPE_CHECKING:
    from perflab.store.catalog import Catalog

__all__ = ["benchmark_series", "params_json"]


def params_json(given: Sequence[str]) -> str | None:
    """``["n=100", "mode=fast"]`` (each may also be comma-separated) as the canonical JSON the
    runner stores (``{"mode": "fast", "n": 100}``); None when nothing is given.

    A value that parses as JSON (``100``, ``1.5``, ``true``) is that value, else a string.
    """
    params: dict[str, Any] = {}
    for part in (p.strip() for text in given for p in text.split(",")):
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"bad --params {part!r}: expected NAME=VALUE, e.g. n=100")
        try:
            params[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            params[key.strip()] = value.strip()
    # The same canonical form as perflab.bench.registry.params_key (the catalog's key).
    return json.dumps(params, sort_keys=True, default=repr) if given else None


def _params_text(params: str) -> str:
    try:
        loaded = json.loads(params)
    except json.JSONDecodeError:
        return params
    if not isinstance(loaded, dict):
        return params
    return ",".join(f"{k}={json.dumps(v)}" for k, v in loaded.items()) or "(none)"


def benchmark_series(
    catalog: Catalog,
    name: str,
    params: str | None = None,
    machine: str | None = None,
    *,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """The stored results of ``name`` (``params``: canonical JSON; ``machine``: a machine key;
    None: any), the newest ``limit`` of them, oldest first.

    Raises UsageError when nothing matches, naming the closest benchmark names, or the
    parameter sets and machines that do have results.
    """
    rows = catalog.benchmark_history(name, params, machine, limit=limit)
    if rows:
        rows.reverse()  # the catalog gives newest first
        return rows
    keys = catalog.benchmark_keys(name)
    if not keys:
        names = sorted({key[0] for key in catalog.benchmark_keys()})
        close = difflib.get_close_matches(name, names, n=5, cutoff=0.5)
        known = (
            f"did you mean {', '.join(map(repr, close))}?"
            if close
            else f"stored: {', '.join(names[:8])}{' ...' if len(names) > 8 else ''}"
            if names
            else "it holds no benchmark results yet"
        )
        raise UsageError(f"no benchmark {name!r} in the catalog {catalog.url}; {known}")
    if params is not None and params not in {key[1] for key in keys}:
        stored = sorted({_params_text(key[1]) for key in keys})
        raise UsageError(
            f"no results of {name!r} with --params {_params_text(params)}; "
            f"stored: {'; '.join(stored)}"
        )
    machines = sorted({key[2] for key in keys if params is None or key[1] == params})
    raise UsageError(
        f"no results of {name!r} on machine {machine!r}; stored on {len(machines)} other "
        f"machine(s): {'; '.join(machines[:3])}",
        hint="--all-machines, or --machine KEY",
    )
