"""``perflab.load.run(spec)``: the load engine's front door."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable
from typing import Any

from perflab import environment
from perflab.errors import TargetError
from perflab.load.coordinator import Coordinator, Progress
from perflab.load.http.url import Origin, parse_url
from perflab.load.sink import RunSink
from perflab.load.transport import Transport
from perflab.model.spec import RunSpec
from perflab.store.rundir import RUN_SCHEMA


def check_reachable(origin: Origin, timeout_s: float = 5.0) -> None:
    """Fail fast (exit 3) when nothing listens, instead of a run full of refused connections."""
    try:
        with socket.create_connection((origin.host, origin.port), timeout=timeout_s):
            pass
    except socket.gaierror as exc:
        raise TargetError(f"cannot resolve {origin.host!r}: {exc.strerror}") from exc
    except TimeoutError as exc:
        raise TargetError(
            f"{origin.host}:{origin.port} did not accept a connection within {timeout_s:g}s"
        ) from exc
    except OSError as exc:
        raise TargetError(
            f"cannot connect to {origin.host}:{origin.port}: {exc.strerror or exc}",
            hint="is the target running and listening there?",
        ) from exc


def new_document(spec: RunSpec) -> dict[str, Any]:
    return {
        "schema": RUN_SCHEMA,
        "id": uuid.uuid4().hex,
        "name": spec.name,
        "status": "running",
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "ended_at": None,
        "config": spec.to_config(),
        "environment": environment.capture(),
    }


def run(
    spec: RunSpec,
    *,
    sink: RunSink | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    transport: Transport | None = None,
    preflight: bool = True,
) -> dict[str, Any]:
    """Run a load test and return its run document (the content of run.json).

    Raises UsageError for a bad spec and TargetError when the target cannot be reached before
    the run starts. Per-request failures during the run are counted, never raised. Ctrl-C
    ends the run with status ``interrupted`` and everything collected so far.
    """
    spec.validate()
    if preflight:
        check_reachable(parse_url(spec.requests[0].url).origin, spec.connect_timeout_s)
    coordinator = Coordinator(spec, transport=transport, sink=sink, on_progress=on_progress)
    return coordinator.run(new_document(spec))
