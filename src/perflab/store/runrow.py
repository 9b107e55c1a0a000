"""A run as the catalog holds it: the row (:class:`RunRow`) and how a run document maps to it.

Only summary figures become columns, for filtering and listing; the whole document is kept as
JSON text next to them. Secrets were redacted when run.json was written and are redacted again
here, so a document from a careless writer cannot leak them into a shared catalog.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from perflab.errors import UsageError
from perflab.model.redact import redact_headers, redact_url


@dataclass(frozen=True)
class RunRow:
    """One catalogued run: what a list of runs shows without opening its directory.

    Latencies are the coordinated-omission-corrected ones of ``totals.latency_ms``.
    """

    id: str
    kind: str
    name: str
    status: str
    started_at: str | None
    ended_at: str | None
    path: Path
    target: str | None
    model: str | None
    rate: float | None
    vus: int | None
    duration_s: float | None
    requests: int | None
    errors: int | None
    error_rate: float | None
    rps: float | None
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    p999_ms: float | None
    git_commit: str | None
    tags: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["path"] = str(self.path)
        return out


def run_columns(doc: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """The ``runs`` row of a run document (``kind`` 'load'); ``path`` is stored absolute."""
    if not doc.get("id"):
        raise UsageError(f"run document at {path} has no id")
    config = doc.get("config") or {}
    totals = doc.get("totals") or {}
    latency = totals.get("latency_ms") or {}
    model, rate, vus = _load_shape(config)
    return {
        "id": str(doc["id"]),
        "kind": "load",
        "name": str(doc.get("name") or ""),
        "status": str(doc.get("status") or "unknown"),
        "started_at": doc.get("started_at"),
        "ended_at": doc.get("ended_at"),
        "path": str(Path(path).resolve()),
        "target": _target(config),
        "model": model,
        "rate": rate,
        "vus": vus,
        "duration_s": doc.get("duration_s"),
        "requests": totals.get("requests"),
        "errors": totals.get("errors"),
        "error_rate": totals.get("error_rate"),
        "rps": totals.get("rps"),
        "p50_ms": latency.get("p50"),
        "p90_ms": latency.get("p90"),
        "p99_ms": latency.get("p99"),
        "p999_ms": latency.get("p99.9"),
        "git_commit": (doc.get("environment") or {}).get("git_commit"),
        "summary": json.dumps(_scrubbed(doc), sort_keys=True),
    }


def profile_columns(doc: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """The ``runs`` row of a profile (``kind`` 'profile', schema ``perflab.profile/1``): a
    profile is found, listed and resolved like a run, by id prefix or path."""
    if not doc.get("id"):
        raise UsageError(f"profile document at {path} has no id")
    target = doc.get("target") or {}
    cmdline = target.get("cmdline") or []
    return {
        "id": str(doc["id"]),
        "kind": "profile",
        "name": str(doc.get("name") or ""),
        "status": "interrupted" if doc.get("interrupted") else "passed",
        "started_at": doc.get("started_at"),
        "ended_at": doc.get("ended_at"),
        "path": str(Path(path).resolve()),
        "target": " ".join(str(a) for a in cmdline)[:500] or f"pid {target.get('pid')}",
        "duration_s": doc.get("duration_s"),
        "requests": doc.get("samples"),
        "summary": json.dumps(_scrubbed(doc), sort_keys=True),
    }


def run_tags_of(doc: Mapping[str, Any]) -> list[tuple[str, str]]:
    tags = (doc.get("config") or {}).get("tags") or {}
    return sorted((str(k), str(v)) for k, v in tags.items())


def _load_shape(config: Mapping[str, Any]) -> tuple[str | None, float | None, int | None]:
    """(model, peak arrival rate for open, peak VUs for closed) over the start and stages."""
    model = config.get("model")
    targets = [config.get("start")] + [s.get("target") for s in config.get("stages") or []]
    peaks = [float(t) for t in targets if isinstance(t, int | float)]
    peak = max(peaks) if peaks else None
    if peak is None:
        return model, None, None
    return model, (peak if model == "open" else None), (round(peak) if model == "closed" else None)


def _target(config: Mapping[str, Any]) -> str | None:
    """What was loaded: a scenario's base URL, the one URL, or the URLs' common origin."""
    script = config.get("script") or {}
    if script.get("base_url"):
        return redact_url(str(script["base_url"]))
    urls = [str(r["url"]) for r in config.get("requests") or [] if r.get("url")]
    if not urls:
        return str(script["path"]) if script.get("path") else None
    if len(set(urls)) == 1:
        return redact_url(urls[0])
    origins = {urlsplit(u)[:2] for u in urls}
    if len(origins) == 1:
        scheme, netloc = origins.pop()
        return redact_url(f"{scheme}://{netloc}")
    return f"{redact_url(urls[0])} (+{len(origins) - 1} hosts)"


def _scrubbed(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The document to store: run.json already redacts; redact again, it costs nothing."""
    out = {k: v for k, v in doc.items() if k != "path"}
    config = dict(out.get("config") or {})
    if config.get("requests"):
        config["requests"] = [
            {
                **r,
                "url": redact_url(str(r.get("url", ""))),
                "headers": dict(redact_headers((r.get("headers") or {}).items())),
            }
            for r in config["requests"]
        ]
    if out.get("config") is not None:
        out["config"] = config
    return out
