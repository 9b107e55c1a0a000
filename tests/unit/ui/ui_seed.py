"""A catalog with three stored runs for the dashboard's tests (two of one test, one of another).

Each run is written the way ``perflab run`` writes one (a :class:`RunWriter` appending seconds,
compacted at the end) and indexed; its config carries a URL password and an Authorization
header, which no page may show.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

from tests.synthetic_run import synthetic_run

from perflab.store import Catalog, RunWriter

SECRETS = ("hunter2", "not-redacted-upstream")
RUNS = (
    ("checkout", "2026-01-01T00:00:00Z", "ci"),
    ("checkout", "2026-01-02T00:00:00Z", "ci"),
    ("search", "2026-02-01T00:00:00Z", "dev"),
)


@dataclass(frozen=True)
class Seeded:
    db: Path
    root: Path
    ids: tuple[str, ...]


def seed_catalog(folder: Path, seconds: int = 12) -> Seeded:
    """Write the runs of RUNS under ``folder/perflab-runs`` and index them in ``folder``."""
    root = folder / "perflab-runs"
    db = folder / "perflab.db"
    ids = []
    with Catalog.open(str(db)) as catalog:
        for n, (name, started, env) in enumerate(RUNS):
            doc, intervals, generator = synthetic_run(seconds, 2, 40, seed=n, errors=n == 1)
            doc.update(id=f"{n}{n}c0ffee{n}" + "0" * 24, name=name, started_at=started)
            doc["config"]["tags"] = {"env": env}
            path = root / f"run-{n}"
            writer = RunWriter(path)
            writer.begin(doc)
            for second, rows in itertools.groupby(intervals, key=lambda r: r["second"]):
                writer.interval(second, list(rows), generator[second])
            writer.end(doc)
            catalog.index_run(doc, path)
            ids.append(doc["id"])
    return Seeded(db, root, tuple(ids))
