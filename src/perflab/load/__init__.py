"""The load engine: schedulers, the HTTP client, workers and the coordinator.

``perflab.load.run(spec)`` runs a :class:`~perflab.model.RunSpec` and returns its run
document; results stream into the sink it is given (e.g. ``perflab.store.RunWriter``).
The names load lazily so a worker process importing ``perflab.load.worker`` does not pull in
the coordinator's dependencies (the store, pyarrow).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from perflab.lazy import lazy_exports

if TYPE_CHECKING:
    from perflab.load.api import check_reachable, run
    from perflab.load.coordinator import Progress

__all__ = ["Progress", "check_reachable", "run"]
_HOMES = {
    "Progress": "perflab.load.coordinator",
    "check_reachable": "perflab.load.api",
    "run": "perflab.load.api",
}


__getattr__ = lazy_exports(__name__, _HOMES)
