"""From the user's words for load (``--rate 500/s``, ``--vus 50 --duration 1m``,
``--stages ...``) to a :class:`~perflab.model.spec.LoadProfile`; shared by the command line
and scenario files so both read the same options the same way."""

from __future__ import annotations

from perflab.errors import UsageError
from perflab.model.spec import LoadModel, LoadProfile
from perflab.model.units import Stage, parse_duration, parse_rate, parse_stages

DEFAULT_VUS = 10
DEFAULT_DURATION_S = 10.0


def build_profile(
    rate: str | None,
    vus: int | None,
    duration: str | None,
    iterations: int | None,
    stages: str | None,
    max_inflight: int,
    connections: int | None,
) -> LoadProfile:
    """The load of a run from its command-line style options (``perflab run`` flags, a
    scenario file's ``options`` or one of its ``Scenario``s): which model, stages, length."""
    if rate is not None and vus is not None:
        raise UsageError("give either --rate (open model) or --vus (closed model), not both")
    open_model = rate is not None or (vus is None and stages is not None and "/" in stages)
    model = LoadModel.OPEN if open_model else LoadModel.CLOSED
    if iterations is not None and iterations < 1:
        raise UsageError(f"bad --iterations {iterations}: must be at least 1")
    if vus is not None and vus < 1:
        raise UsageError(f"bad --vus {vus}: must be at least 1")
    start = parse_rate(rate) if rate is not None else float(vus if vus is not None else 0)
    if stages is not None:
        if duration is not None:
            raise UsageError("give --duration or --stages, not both (stages set the duration)")
        staged = parse_stages(stages, rates=open_model)
        if rate is None and vus is None:
            start = 0.0
        return LoadProfile(model, staged, start, iterations, max_inflight, connections)
    if not open_model and vus is None:
        start = float(DEFAULT_VUS)
    if duration is not None:
        seconds = parse_duration(duration)
    elif iterations is not None:
        seconds = 0.0 if not open_model else iterations / start + 1.0
    else:
        seconds = DEFAULT_DURATION_S
    return LoadProfile(
        model, (Stage(seconds, start),), start, iterations, max_inflight, connections
    )
