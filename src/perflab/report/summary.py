"""What a run's verdict is and why, its key numbers and tables, as plain data.

Shared by the HTML, Markdown and JUnit renderers so they never disagree. Everything here
reads a run document (run.json); nothing touches files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from perflab.model.redact import REDACTED, is_secret_name, redact_url
from perflab.report.units import format_ms

LATENCY_COLUMNS = ("p50", "p90", "p99", "p99.9", "max")
_GOOD = {"passed"}
_WARN = {"interrupted", "running"}


@dataclass(frozen=True, slots=True)
class Verdict:
    status: str
    tone: str  # "pass", "warn" or "fail": the banner's colour
    headline: str
    reasons: list[str]


@dataclass(frozen=True, slots=True)
class ThresholdRow:
    threshold: str
    observed: str
    passed: bool


def format_rate(fraction: float) -> str:
    return f"{fraction * 100:.2f}%"


def format_observed(metric: str, value: float | None) -> str:
    """A threshold's observed value in the unit people wrote it in."""
    if value is None:
        return "no data"
    if metric in ("error_rate", "checks"):
        return format_rate(value)
    if metric.startswith("p") or metric in ("max", "mean", "min"):
        return format_ms(value)
    return f"{value:,.4g}"


def thresholds(doc: Mapping[str, Any]) -> list[ThresholdRow]:
    return [
        ThresholdRow(
            str(r.get("threshold", "?")),
            format_observed(str(r.get("metric", "")), r.get("observed")),
            bool(r.get("passed")),
        )
        for r in doc.get("thresholds") or []
    ]


def verdict(doc: Mapping[str, Any]) -> Verdict:
    """The banner: the run's status, and every reason a reader should not trust it blindly."""
    status = str(doc.get("status", "unknown"))
    rows = thresholds(doc)
    failed = [t for t in rows if not t.passed]
    reasons = [f"threshold {t.threshold} failed: observed {t.observed}" for t in failed]
    generator = doc.get("generator") or {}
    if generator.get("saturated"):
        why = "; ".join(generator.get("saturation_reasons") or []) or "see generator health"
        reasons.append(f"the load generator was saturated ({why}): latencies may describe it")
    reasons.extend(str(note) for note in generator.get("host_noise") or [])
    if doc.get("stop_reason"):
        reasons.append(f"run ended early: {doc['stop_reason']}")
    reasons.extend(str(note) for note in doc.get("notes") or [])
    for exc in doc.get("exceptions") or []:
        where, kind = exc.get("where", "?"), exc.get("type", "?")
        reasons.append(f"{where} raised {kind} {exc.get('count', 1):,} time(s)")
    reasons.extend(str(e) for e in generator.get("worker_errors") or [])
    totals = doc.get("totals") or {}
    if totals.get("errors"):
        reasons.append(f"{totals['errors']:,} errors ({format_rate(totals.get('error_rate', 0))})")
    tone = "pass" if status in _GOOD else "warn" if status in _WARN else "fail"
    if tone == "pass" and reasons:  # passed, but errors, saturation or notes need a look
        tone = "warn"
    checked = f": {len(rows) - len(failed)} of {len(rows)} thresholds passed" if rows else ""
    return Verdict(status, tone, f"{status.upper()}{checked}", reasons)


def key_numbers(doc: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(label, value, detail) for the summary cards; latency cards add the service time."""
    totals = doc.get("totals") or {}
    lat = totals.get("latency_ms") or {}
    svc = totals.get("service_ms") or {}
    errors = f"{totals.get('errors', 0):,} errors"
    out = [
        ("requests", f"{totals.get('requests', 0):,}", ""),
        ("throughput", f"{totals.get('rps', 0):,.1f}/s", ""),
        ("error rate", format_rate(totals.get("error_rate", 0.0)), errors),
        ("duration", f"{doc.get('duration_s', 0):,.1f}s", ""),
    ]
    for p in ("p50", "p99", "p99.9"):
        if p in lat:
            service = f"service time {format_ms(svc[p])}" if p in svc else ""
            out.append((p, format_ms(lat[p]), service))
    if totals.get("dropped"):
        out.append(("dropped", f"{totals['dropped']:,}", "not sent: over --max-inflight"))
    if "checks" in totals:
        out.append(("checks passed", format_rate(totals["checks"]), ""))
    return out


def request_rows(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per request name (and "all" when there are several), figures formatted."""
    by_name = list((doc.get("by_name") or {}).items())
    if len(by_name) != 1 and doc.get("totals"):
        by_name.append(("all", doc["totals"]))
    rows = []
    for name, s in by_name:
        lat, svc = s.get("latency_ms") or {}, s.get("service_ms") or {}
        rows.append(
            {
                "name": name,
                "requests": f"{s.get('requests', 0):,}",
                "rps": f"{s.get('rps', 0):,.1f}",
                "errors": f"{s.get('errors', 0):,}",
                "error_rate": format_rate(s.get("error_rate", 0.0)),
                "failing": bool(s.get("errors")),
                "dropped": f"{s.get('dropped', 0):,}",
                **{c: format_ms(lat[c]) if c in lat else "-" for c in LATENCY_COLUMNS},
                "service_p50": format_ms(svc["p50"]) if "p50" in svc else "-",
                "service_p99": format_ms(svc["p99"]) if "p99" in svc else "-",
            }
        )
    return rows


def target(doc: Mapping[str, Any]) -> str:
    """What was load-tested: the base URL of a scenario, else the request URL(s)."""
    config = doc.get("config") or {}
    script = config.get("script") or {}
    if script.get("base_url"):
        return f"{redact_url(str(script['base_url']))} ({script.get('path', 'scenario')})"
    urls = [str(r.get("url", "")) for r in config.get("requests") or [] if r.get("url")]
    if not urls:
        return "-"
    more = f" and {len(urls) - 1} more" if len(urls) > 1 else ""
    return redact_url(urls[0]) + more


def redacted(value: Any) -> Any:
    """A deep copy with secret-named keys, header pairs and URL passwords hidden.

    run.json is redacted when written; this second pass guards reports against older or
    hand-edited files.
    """
    if isinstance(value, Mapping):
        return {
            k: REDACTED
            if is_secret_name(str(k)) and value[k] not in (None, "", {}, [])
            else redacted(value[k])
            for k in value
        }
    if isinstance(value, list | tuple):
        if len(value) == 2 and isinstance(value[0], str) and is_secret_name(value[0]):
            return [value[0], REDACTED]
        return [redacted(v) for v in value]
    if isinstance(value, str) and "://" in value:
        return redact_url(value)
    return value
