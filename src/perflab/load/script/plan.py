"""A scenario file plus command-line overrides -> a :class:`~perflab.model.RunSpec`.

Precedence: command line > ``PERFLAB_BASE_URL`` (for the base URL) > the file's
``options`` > defaults. ``--duration`` given with a file that defines ``scenarios`` caps the
whole run (scenarios are cut at that point, later ones do not start); ``--vus``,
``--rate``, ``--stages`` and ``--iterations`` only apply to a file without ``scenarios``,
where they shape its one default scenario. ``--threshold`` replaces the file's thresholds.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from perflab.errors import UsageError
from perflab.load.http.url import parse_url
from perflab.load.script.api import Scenario, User
from perflab.load.script.loader import LoadedScript, ScriptError, import_script
from perflab.model import HttpRequest, LoadModel, LoadProfile, RunSpec, Stage, parse_threshold
from perflab.model.profile import build_profile
from perflab.model.script import ScenarioSpec, ScriptSpec
from perflab.model.units import parse_duration, target_at

BASE_URL_ENV = "PERFLAB_BASE_URL"
MAX_DURATION_S = 600.0  # an iterations-only scenario still ends (k6's maxDuration default)
DEFAULT_MAX_VUS = 1000


@dataclass(slots=True)
class Overrides:
    """What the command line says; None means "not given"."""

    base_url: str | None = None
    rate: str | None = None
    vus: int | None = None
    duration: str | None = None
    stages: str | None = None
    iterations: int | None = None
    max_inflight: int | None = None
    connections: int | None = None
    thresholds: list[str] = field(default_factory=list)
    name: str | None = None
    workers: int = 0
    tags: dict[str, str] = field(default_factory=dict)
    abort_on_fail: bool = False
    timeout: str | None = None
    connect_timeout_s: float = 10.0
    insecure: bool = False
    ca_file: str | None = None
    http2: bool = False


def script_spec(path: str | Path, overrides: Overrides | None = None) -> RunSpec:
    """Import and validate the file, and describe the run it asks for."""
    o = overrides or Overrides()
    loaded = import_script(path)
    opts = loaded.options
    base_url = o.base_url or os.environ.get(BASE_URL_ENV) or opts.get("base_url")
    if not base_url:
        raise UsageError(
            f"{loaded.path.name}: no base URL; give --base-url, set {BASE_URL_ENV}, "
            "or put 'base_url' in the file's options"
        )
    parse_url(str(base_url))  # one clear line for a bad URL
    scenarios = _scenarios(loaded, o)
    thresholds = o.thresholds or list(opts.get("thresholds", []))
    timeout = o.timeout or opts.get("timeout") or "60s"
    spec = RunSpec(
        requests=(HttpRequest(url=str(base_url)),),
        load=scenarios[0].load,
        name=o.name or str(opts.get("name") or loaded.path.stem),
        workers=o.workers,
        thresholds=tuple(parse_threshold(t) for t in thresholds),
        abort_on_fail=o.abort_on_fail,
        timeout_s=parse_duration(str(timeout), what="timeout"),
        connect_timeout_s=o.connect_timeout_s,
        insecure=o.insecure,
        ca_file=o.ca_file,
        tags={**{str(k): str(v) for k, v in dict(opts.get("tags", {})).items()}, **o.tags},
        script=ScriptSpec(
            path=str(loaded.path),
            base_url=str(base_url),
            scenarios=tuple(scenarios),
            http2=o.http2 or bool(opts.get("http2", False)),
        ),
    )
    spec.validate()
    return spec


def _scenarios(loaded: LoadedScript, o: Overrides) -> list[ScenarioSpec]:
    opts = loaded.options
    file = loaded.path.name
    if not loaded.users:
        raise ScriptError(f"{file}: no User subclass with tasks found; define one")
    if loaded.scenarios is None:
        users = tuple((n, t.cls.weight) for n, t in loaded.users.items())
        # The command line's load shape replaces the file's as a whole: --rate with a file
        # saying vus=10 means an open-model run, not a conflict.
        shape: dict[str, Any] = (
            {"rate": o.rate, "vus": o.vus, "stages": o.stages}
            if (o.rate, o.vus, o.stages) != (None, None, None)
            else {
                "rate": _opt_rate(opts.get("rate")),
                "vus": opts.get("vus"),
                "stages": opts.get("stages"),
            }
        )
        duration = o.duration or (None if o.stages else _opt_str(opts.get("duration")))
        profile = _profile(
            file,
            rate=shape["rate"],
            vus=shape["vus"],
            duration=duration if not shape["stages"] else None,
            stages=shape["stages"],
            iterations=o.iterations if o.iterations is not None else opts.get("iterations"),
            max_vus=o.max_inflight or opts.get("max_vus"),
            connections=o.connections or opts.get("connections"),
        )
        return [ScenarioSpec("default", users, profile)]
    given = [
        flag
        for flag, value in (
            ("--rate", o.rate),
            ("--vus", o.vus),
            ("--stages", o.stages),
            ("--iterations", o.iterations),
        )
        if value is not None
    ]
    if given:
        raise UsageError(
            f"{file} defines its own scenarios; {', '.join(given)} cannot override them "
            "(--duration caps the run; edit the scenarios for the rest)"
        )
    cap = parse_duration(o.duration) if o.duration else None
    out = []
    for sc in loaded.scenarios:
        spec = _scenario(loaded, sc, o)
        if cap is not None:
            if spec.start_s >= cap:
                continue
            spec = replace(spec, load=_truncate(spec.load, cap - spec.start_s))
        out.append(spec)
    if not out:
        raise UsageError(f"--duration {o.duration} ends the run before any scenario starts")
    return out


def _scenario(loaded: LoadedScript, sc: Scenario, o: Overrides) -> ScenarioSpec:
    file = loaded.path.name
    users = []
    for cls in sc.user_types():
        if not (isinstance(cls, type) and issubclass(cls, User)):
            raise ScriptError(f"{file}: scenario {sc.name!r}: {cls!r} is not a User subclass")
        if cls.__name__ not in loaded.users:
            raise ScriptError(
                f"{file}: scenario {sc.name!r} uses {cls.__name__}, which is not a runnable "
                "user type of this file (abstract, or defined elsewhere)"
            )
        users.append((cls.__name__, cls.weight))
    if not users:
        raise ScriptError(f"{file}: scenario {sc.name!r} has no users")
    start = parse_duration(sc.start) if isinstance(sc.start, str) else float(sc.start)
    profile = _profile(
        f"{file}: scenario {sc.name!r}",
        rate=_opt_rate(sc.rate),
        vus=sc.vus,
        duration=_opt_str(sc.duration),
        stages=sc.stages,
        iterations=sc.iterations,
        max_vus=sc.max_vus or o.max_inflight,
        connections=o.connections or loaded.options.get("connections"),
    )
    return ScenarioSpec(sc.name, tuple(users), profile, start)


def _profile(
    where: str,
    *,
    rate: str | None,
    vus: Any,
    duration: str | None,
    stages: str | None,
    iterations: Any,
    max_vus: Any,
    connections: Any,
) -> LoadProfile:
    try:
        profile = build_profile(
            rate,
            None if vus is None else int(vus),
            duration,
            None if iterations is None else int(iterations),
            stages,
            int(max_vus or DEFAULT_MAX_VUS),
            None if connections is None else int(connections),
        )
    except UsageError as exc:
        raise UsageError(f"{where}: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{where}: {exc}") from None
    if profile.duration_s <= 0:  # iterations only: bound it anyway
        profile = replace(profile, stages=(Stage(MAX_DURATION_S, profile.start),))
    if profile.peak() <= 0:
        what = "rate" if profile.model is LoadModel.OPEN else "number of users"
        raise UsageError(f"{where}: the {what} must be positive somewhere")
    return profile


def _truncate(load: LoadProfile, seconds: float) -> LoadProfile:
    stages, t = [], 0.0
    for stage in load.stages:
        if t + stage.duration_s <= seconds:
            stages.append(stage)
            t += stage.duration_s
            continue
        left = seconds - t
        if left > 0:  # cut the ramp where it is at the cap
            prev = stages[-1].target if stages else load.start
            end = target_at(prev, (stage,), left)
            stages.append(Stage(left, end))
        break
    return replace(load, stages=tuple(stages))


def _opt_rate(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return f"{value}/s"
    return str(value)


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)
