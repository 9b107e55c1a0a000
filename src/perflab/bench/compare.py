"""Compare two benchmark result documents: the gate's verdict per benchmark and overall.

Benchmarks are matched by name and parameters. Each pair goes through
:func:`perflab.stats.gate.compare_groups` with the per-process value groups (that module
explains why processes are the units). Benchmarks in one document only, or failed on either
side, are listed and not judged; differing machines are a note, since ratios across
machines measure the machines too.
"""

from __future__ import annotations

import math
from typing import Any

from perflab.bench.results import series
from perflab.errors import UsageError
from perflab.stats.benchstats import EmptySamples
from perflab.stats.gate import compare_groups

__all__ = ["METHOD", "compare_docs"]

METHOD = (
    "ratio of medians (candidate/base) with a hierarchical-bootstrap 95% CI; a change needs "
    "Mann-Whitney U on per-process medians p < 0.05, a CI excluding 1 and |ratio-1| >= "
    "the minimum effect"
)


def _groups(entry: dict[str, Any], where: Any) -> list[list[float]]:
    """Per-process values; null stays as NaN (dropped later), anything non-numeric is refused."""
    groups = []
    for process in entry.get("processes") or []:
        values = process.get("values") if isinstance(process, dict) else None
        for value in values or []:
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                raise UsageError(
                    f"{where}: benchmark {entry.get('name')!r} has a non-numeric value {value!r}"
                )
        groups.append([math.nan if v is None else float(v) for v in values or []])
    return groups


def _ref(doc: dict[str, Any]) -> dict[str, Any]:
    env = doc.get("environment") or {}
    return {
        "id": doc.get("id"),
        "name": doc.get("name"),
        "path": doc.get("path"),
        "started_at": doc.get("started_at"),
        "git_commit": env.get("git_commit"),
    }


def compare_docs(
    base: dict[str, Any],
    candidate: dict[str, Any],
    *,
    min_effect: float | None = None,
    seed: int = 0,
    resamples: int = 2000,
) -> dict[str, Any]:
    """The comparison document (``--json``); raises UsageError when nothing can be compared."""
    base_series, cand_series = series(base), series(candidate)
    rows: list[dict[str, Any]] = []
    skipped: list[str] = []
    for key, cand in cand_series.items():
        name = cand["name"]
        old = base_series.get(key)
        if old is None:
            continue
        label = f"{name} {key[1]}" if key[1] != "{}" else name
        if "failed" in (old.get("status"), cand.get("status")):
            skipped.append(
                f"{label}: failed in the {'base' if old['status'] == 'failed' else 'candidate'}"
            )
            continue
        try:
            result = compare_groups(
                _groups(old, base.get("path", "base")),
                _groups(cand, candidate.get("path", "candidate")),
                min_effect=min_effect,
                seed=seed,
                resamples=resamples,
            )
        except EmptySamples:
            skipped.append(f"{label}: no usable values")
            continue
        rows.append(
            {
                "name": name,
                "params": cand.get("params") or {},
                "unit": cand.get("unit", "s"),
                "base": result.base,
                "candidate": result.candidate,
                "ratio": result.ratio,
                "ci_low": result.ci_low,
                "ci_high": result.ci_high,
                "p_value": result.p_value,
                "min_effect": result.min_effect,
                "units": result.units,
                "verdict": result.verdict,
            }
        )
    if not rows:
        raise UsageError(
            "no benchmark to compare: the two results share no successful benchmark "
            "(same name and params)"
        )
    verdicts = {r["verdict"] for r in rows}
    overall = (
        "slower" if "slower" in verdicts else "faster" if "faster" in verdicts else "no_change"
    )
    notes = list(skipped)
    machines = [(d.get("environment") or {}).get("machine") for d in (base, candidate)]
    if machines[0] != machines[1]:
        notes.append(f"different machines: {machines[0]} vs {machines[1]}")
    return {
        "verdict": overall,
        "benchmarks": rows,
        "base": _ref(base),
        "candidate": _ref(candidate),
        "added": sorted(f"{k[0]} {k[1]}" for k in cand_series.keys() - base_series.keys()),
        "removed": sorted(f"{k[0]} {k[1]}" for k in base_series.keys() - cand_series.keys()),
        "min_effect": min_effect,
        "method": METHOD,
        "notes": notes,
    }
