"""Turning ``perflab run`` flags into a :class:`~perflab.model.RunSpec` (and nothing else)."""

from __future__ import annotations

from pathlib import Path

from perflab.errors import UsageError
from perflab.load.http.request import parse_header
from perflab.load.http.url import parse_url
from perflab.model import HttpRequest, RunSpec, parse_duration, parse_threshold
from perflab.model.profile import build_profile

DEFAULT_MAX_INFLIGHT = 1000


def _body(data: str | None) -> bytes:
    if data is None:
        return b""
    if data.startswith("@"):
        try:
            return Path(data[1:]).read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read --data file {data[1:]!r}: {exc.strerror}") from None
    return data.encode()


def parse_tags(tags: list[str]) -> dict[str, str]:
    out = {}
    for tag in tags:
        key, sep, value = tag.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"bad tag {tag!r}: expected KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


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
    http2: bool = False,
) -> RunSpec:
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
        load=build_profile(rate, vus, duration, iterations, stages, max_inflight, connections),
        name=name or parsed.origin.host,
        workers=workers,
        thresholds=tuple(parse_threshold(t) for t in thresholds),
        abort_on_fail=abort_on_fail,
        timeout_s=parse_duration(timeout, what="--timeout"),
        connect_timeout_s=parse_duration(connect_timeout, what="--connect-timeout"),
        insecure=insecure,
        ca_file=cacert,
        http2=http2,
        tags=parse_tags(tags),
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
