"""perflab's built-in demo target: a small shop API to load-test without setting anything up.

``DemoTarget`` runs it in a subprocess for a test or a demo run; ``serve`` runs it in this
process until Ctrl-C (``perflab demo --serve``).

The names load lazily: ``python -m perflab.demo.target`` imports this package first, and an
eager import of ``target`` here would run that module twice (runpy warns about exactly that).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from perflab.demo.process import DemoTarget
    from perflab.demo.target import create_app, serve

__all__ = ["DemoTarget", "create_app", "serve"]

_HOMES = {
    "DemoTarget": "perflab.demo.process",
    "create_app": "perflab.demo.target",
    "serve": "perflab.demo.target",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
