"""perflab's built-in demo target: a small shop API to load-test without setting anything up.

``DemoTarget`` runs it in a subprocess for a test or a demo run; ``serve`` runs it in this
process until Ctrl-C (``perflab demo --serve``).

The names load lazily: ``python -m perflab.demo.target`` imports this package first, and an
eager import of ``target`` here would run that module twice (runpy warns about exactly that).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from perflab.lazy import lazy_exports

if TYPE_CHECKING:
    from perflab.demo.process import DemoTarget
    from perflab.demo.target import create_app, serve

__all__ = ["DemoTarget", "create_app", "serve"]

_HOMES = {
    "DemoTarget": "perflab.demo.process",
    "create_app": "perflab.demo.target",
    "serve": "perflab.demo.target",
}


__getattr__ = lazy_exports(__name__, _HOMES)
