"""Persistence of results: run directories (run.json + interval files) and the run catalog.

The catalog names load lazily: SQLAlchemy is imported only by code that looks runs up, not by
every worker process that writes a run directory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from perflab.lazy import lazy_exports
from perflab.store.rundir import (
    RunWriter,
    find_run,
    load_run,
    new_run_dir,
    read_generator,
    read_intervals,
)

if TYPE_CHECKING:
    from perflab.store.catalog import Catalog
    from perflab.store.dsn import redact_dsn
    from perflab.store.runrow import RunRow

__all__ = [
    "Catalog",
    "RunRow",
    "RunWriter",
    "find_run",
    "load_run",
    "new_run_dir",
    "read_generator",
    "read_intervals",
    "redact_dsn",
]
_HOMES = {
    "Catalog": "perflab.store.catalog",
    "RunRow": "perflab.store.runrow",
    "redact_dsn": "perflab.store.dsn",
}

__getattr__ = lazy_exports(__name__, _HOMES)
