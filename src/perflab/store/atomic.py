"""Crash-safe file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_bytes_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)  # mkstemp's 0600 would hide results from the rest of the team
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, doc: Any, *, indent: int | None = 2) -> None:
    """``indent=None`` writes one compact line with the C encoder, ~8x faster than the
    pure-Python one that indentation needs: for files rewritten every second of a run."""
    text = json.dumps(doc, indent=indent, separators=(",", ":") if indent is None else None)
    write_bytes_atomic(path, (text + "\n").encode())
