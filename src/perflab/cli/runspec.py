"""Turning ``perflab run`` flags into a :class:`~perflab.model.RunSpec` (and nothing else)."""

from __future__ import annotations

from pathlib import Path

from perflab.errors import UsageError
from perflab.load.http.request import parse_header
from perflab.load.http.url import parse_url
from perflab.model import (
    HttpRequest,
    LoadModel,
    LoadProfile,
    RunSpec,
    Stage,
    parse_duration,
    parse_rate,
    parse_stages,
    parse_threshold,
)

DEFAULT_VUS = 10
DEFAULT_DURATION_S = 10.0


def _body(data: str | None) -> bytes:
    if data is None:
        return b""
    if data.startswith("@"):
        try:
            return Path(data[1:]).read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read --data file {data[1:]!r}: {exc.strerror}") from None
    return data.encode()


def _tags(tags: list[str]) -> dict[str, str]:
    out = {}
    for tag in tags:
        key, sep, value = tag.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"bad tag {tag!r}: expected KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def _profile(
    rate: str | None,
    vus: int | None,
    duration: str | None,
    iterations: int | None,
    stages: str | None,
    max_inflight: int,
    connections: int | None,
) -> LoadProfile:
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


def build_spec(
    target: str,
    *,
    rate: str | None,
    vus: int | None,
    duration: str | None,
    iterations: int | None,
    stages: str | None,
    max_inflight: int,
    connections: int | None,
    thresholds: list[str],
    abort_on_fail: bool,
    workers: int,
    name: str | None,
    tags: list[str],
    method: str,
    headers: list[str],
    data: str | None,
    timeout: str,
    connect_timeout: str,
    insecure: bool,
    cacert: str | None,
) -> RunSpec:
    if target.endswith(".py"):
        raise UsageError(f"TARGET {target!r}: scenario files are not supported yet; give a URL")
    parsed = parse_url(target)
    method = method.upper()
    if not method.isalpha():
        raise UsageError(f"bad method {method!r}: expected an HTTP method such as GET or POST")
    request = HttpRequest(
        url=target,
        method=method,
        headers=tuple(parse_header(h) for h in headers),
        body=_body(data),
        name=f"{method} {parsed.path.split('?', 1)[0]}",
    )
    spec = RunSpec(
        requests=(request,),
        load=_profile(rate, vus, duration, iterations, stages, max_inflight, connections),
        name=name or parsed.origin.host,
        workers=workers,
        thresholds=tuple(parse_threshold(t) for t in thresholds),
        abort_on_fail=abort_on_fail,
        timeout_s=parse_duration(timeout, what="--timeout"),
        connect_timeout_s=parse_duration(connect_timeout, what="--connect-timeout"),
        insecure=insecure,
        ca_file=cacert,
        tags=_tags(tags),
    )
    known = {request.name}
    for th in spec.thresholds:
        if th.scope is not None and th.scope not in known:
            raise UsageError(
                f"threshold {th.source!r} names request {th.scope!r}; this run has: "
                + ", ".join(sorted(known))
            )
    spec.validate()
    return spec
