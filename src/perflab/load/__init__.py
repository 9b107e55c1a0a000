"""The load engine: schedulers, the HTTP client, workers and the coordinator.

``perflab.load.run(spec)`` runs a :class:`~perflab.model.RunSpec` and returns its run
document; results stream into the sink it is given (e.g. ``perflab.store.RunWriter``).
The names load lazily so a worker process importing ``perflab.load.worker`` does not pull in
the coordinator's dependencies (the store, pyarrow).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from perflab.load.api import check_reachable, run
    from perflab.load.coordinator import Progress

__all__ = ["Progress", "check_reachable", "run"]
_HOMES = {
    "Progress": "perflab.load.coordinator",
    "check_reachable": "perflab.load.api",
    "run": "perflab.load.api",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
