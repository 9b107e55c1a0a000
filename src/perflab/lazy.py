"""Lazy package exports: a package names its API without importing every module at once.

Used where an eager import would cost (a worker process importing ``perflab.load.worker``
must not pull in the store and pyarrow) or misbehave (``python -m perflab.demo.target``
would otherwise import its own module twice).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` that imports ``name`` from ``homes[name]`` on first use."""

    def __getattr__(name: str) -> Any:
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(homes[name]), name)

    return __getattr__
