"""A synthetic run (run.json document, interval rows, generator rows) of any length.

For report tests and ``bench/bench_report.py``: a 1-hour run with 10 request names is 36,000
interval rows, as the store would hand them to a renderer. Latencies are log-normal around a
level that drifts over time, with an incident (slow and failing) in the middle third, so
every chart has something to show. Histograms come from a pool of pre-encoded blobs per
latency level (encoding 100,000 fresh ones would dominate the bench); each row still carries
its own bytes object, decoded independently, as with real rows.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from perflab.stats import LatencyHistogram

_LEVELS = 12
_VARIANTS = 16
PHASES = ("connect", "tls", "send", "wait", "receive")


def _scaled(hist: LatencyHistogram, times: int) -> LatencyHistogram:
    indices, counts = hist.to_sparse()
    return LatencyHistogram.from_sparse(
        indices, counts * times, min_us=hist.min, max_us=hist.max, sum_us=hist.sum * times
    )


def _summary(hist: LatencyHistogram) -> dict[str, float]:
    s = hist.summary()
    return {
        k: round(s[k] / 1000.0, 6)
        for k in ("min", "mean", "p50", "p90", "p95", "p99", "p99.9", "max")
    }


def synthetic_run(
    seconds: int = 3600,
    names: int = 10,
    rps: int = 100,
    *,
    seed: int = 0,
    errors: bool = True,
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """(doc, intervals, generator) of a run of ``seconds`` by ``names`` at ``rps`` per name."""
    rng = np.random.default_rng(seed)
    pools: list[list[tuple[LatencyHistogram, bytes, LatencyHistogram, bytes]]] = []
    for level in range(_LEVELS):
        median = 2_000 * 1.35**level
        pool = []
        for _ in range(_VARIANTS):
            service = np.maximum(rng.lognormal(math.log(median), 0.6, rps), 50)
            latency = service + rng.exponential(200 * (level + 1), rps)
            s, c = LatencyHistogram(), LatencyHistogram()
            s.record_many(service)
            c.record_many(latency)
            pool.append((c, c.to_bytes(), s, s.to_bytes()))
        pools.append(pool)
    request_names = [f"GET /api/v1/resource-{i}" for i in range(names - 1)] + ["POST /orders"]
    incident = (seconds // 3, 2 * seconds // 3)
    used = np.zeros((names, _LEVELS, _VARIANTS), dtype=np.int64)
    intervals: list[dict[str, Any]] = []
    for second in range(seconds):
        drift = 3 + 2 * math.sin(2 * math.pi * second / max(seconds, 1))
        bad = incident[0] <= second < incident[1] and errors
        for n, name in enumerate(request_names):
            level = min(_LEVELS - 1, max(0, round(drift + n % 3 + (4 if bad else 0))))
            variant = int(rng.integers(_VARIANTS))
            used[n, level, variant] += 1
            _, c_blob, service, s_blob = pools[level][variant]
            kinds: dict[str, int] = {}
            if bad and n % 2 == 0:
                kinds = {"http_503": int(rng.integers(0, 6)), "timeout": int(rng.integers(0, 2))}
                kinds = {k: v for k, v in kinds.items() if v}
            failed = sum(kinds.values())
            intervals.append(
                {
                    "second": second,
                    "name": name,
                    "kind": "request",
                    "requests": rps,
                    "ok": rps - failed,
                    "errors": failed,
                    "dropped": 0,
                    "bytes_in": rps * 512,
                    "new_connections": 5 if second == 0 else 0,
                    "errors_by_kind": kinds,
                    "phase_us": {
                        "connect": 900 if second == 0 else 0,
                        "tls": 0,
                        "send": rps * 30,
                        "wait": int(service.sum * 0.9),
                        "receive": int(service.sum * 0.1),
                    },
                    "checks_ok": 0,
                    "checks_failed": 0,
                    "latency_hist": c_blob,
                    "service_hist": s_blob,
                    "wait_hist": s_blob,
                }
            )
    generator = _generator_rows(seconds, rng)
    doc = _document(seconds, request_names, rps, pools, used, intervals)
    return doc, intervals, generator


def _generator_rows(seconds: int, rng: np.random.Generator) -> list[dict[str, Any]]:
    lags = []
    for scale in (20, 60, 400):
        h = LatencyHistogram()
        h.record_many(rng.exponential(scale, 2_000))
        lags.append(h.to_bytes())
    return [
        {
            "second": second,
            "workers": 2,
            "cpu_pct_max": round(35 + 10 * math.sin(second / 60) + rng.random() * 5, 2),
            "inflight": int(rng.integers(5, 40)),
            "connections": 50,
            "sched_lag_hist": lags[second % 3],
            "loop_lag_hist": lags[0],
        }
        for second in range(seconds)
    ]


def _document(
    seconds: int,
    request_names: list[str],
    rps: int,
    pools: list[list[tuple[LatencyHistogram, bytes, LatencyHistogram, bytes]]],
    used: np.ndarray[Any, np.dtype[np.int64]],
    intervals: list[dict[str, Any]],
) -> dict[str, Any]:
    by_name: dict[str, Any] = {}
    all_c, all_s = LatencyHistogram(), LatencyHistogram()
    all_errors: dict[str, int] = {}
    for n, name in enumerate(request_names):
        c, s = LatencyHistogram(), LatencyHistogram()
        for level, variant in zip(*np.nonzero(used[n]), strict=True):
            times = int(used[n, level, variant])
            c.merge(_scaled(pools[level][variant][0], times))
            s.merge(_scaled(pools[level][variant][2], times))
        kinds: dict[str, int] = {}
        for row in intervals[n :: len(request_names)]:
            for k, v in row["errors_by_kind"].items():
                kinds[k] = kinds.get(k, 0) + v
                all_errors[k] = all_errors.get(k, 0) + v
        by_name[name] = _block(c, s, seconds * rps, kinds, seconds)
        all_c.merge(c)
        all_s.merge(s)
    totals = _block(all_c, all_s, seconds * rps * len(request_names), all_errors, seconds)
    passed = totals["latency_ms"]["p99"] < 50
    thresholds = [
        {
            "threshold": "p99<50ms",
            "scope": None,
            "metric": "p99",
            "observed": totals["latency_ms"]["p99"],
            "limit": 50.0,
            "passed": passed,
        },
        {
            "threshold": "error_rate<1%",
            "scope": None,
            "metric": "error_rate",
            "observed": totals["error_rate"],
            "limit": 0.01,
            "passed": totals["error_rate"] < 0.01,
        },
    ]
    return {
        "schema": "perflab.run/1",
        "id": "5f0c0ffee0ddba11" + "0" * 16,
        "name": "synthetic",
        "status": "passed" if all(t["passed"] for t in thresholds) else "failed",
        "started_at": "2026-01-01T00:00:00Z",
        "ended_at": "2026-01-01T01:00:00Z",
        "config": {
            "requests": [
                {
                    "name": name,
                    "method": name.split()[0],
                    "url": f"http://user:hunter2@127.0.0.1:8080{name.split()[1]}?page=1",
                    "headers": {"Authorization": "Bearer not-redacted-upstream"},
                }
                for name in request_names
            ],
            "model": "open",
            "duration_s": float(seconds),
            "thresholds": [t["threshold"] for t in thresholds],
            "tags": {"env": "synthetic"},
            "script": None,
        },
        "environment": {
            "perflab": "0.1.0",
            "python": "3.11",
            "cpu_count": 2,
            "os": "Linux",
            "hostname": "bench",
            "git_commit": None,
        },
        "duration_s": float(seconds),
        "totals": totals,
        "by_name": by_name,
        "thresholds": thresholds,
        "generator": {
            "workers": 2,
            "cpu_pct": 38.0,
            "saturated": False,
            "saturation_reasons": [],
            "sched_lag_us": {"count": seconds * 2000, "p50": 40.0, "p99": 900.0},
            "loop_lag_us": {"count": seconds * 2000, "p50": 20.0, "p99": 90.0},
            "max_connections": 50,
            "socket_errors": {},
            "worker_errors": [],
        },
    }


def _block(
    corrected: LatencyHistogram,
    service: LatencyHistogram,
    requests: int,
    kinds: dict[str, int],
    seconds: int,
) -> dict[str, Any]:
    errors = sum(kinds.values())
    return {
        "requests": requests,
        "errors": errors,
        "error_rate": round(errors / requests, 6) if requests else 0.0,
        "rps": round(requests / seconds, 3),
        "dropped": 0,
        "latency_ms": _summary(corrected),
        "service_ms": _summary(service),
        "phases_mean_ms": {"connect": 0.9, "tls": 0.0, "send": 0.03, "wait": 3.1, "receive": 0.3},
        "errors_by_kind": dict(sorted(kinds.items(), key=lambda kv: -kv[1])),
        "bytes_in": requests * 512,
        "new_connections": 5,
    }
