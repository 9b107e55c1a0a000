"""Persistence of results: run directories (run.json + interval files) and, later, the catalog."""

from perflab.store.rundir import (
    RunWriter,
    find_run,
    load_run,
    new_run_dir,
    read_generator,
    read_intervals,
)

__all__ = [
    "RunWriter",
    "find_run",
    "load_run",
    "new_run_dir",
    "read_generator",
    "read_intervals",
]
