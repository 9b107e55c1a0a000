"""Medians over rounds, warnings about noisy runs, and perflab's ratios to each peer."""

from __future__ import annotations

import statistics
from typing import Any

from loadbench.model import BUSY_PCT_WARN, STEAL_PCT_WARN, TARGETS, Sample


def add_warnings(s: Sample) -> None:
    """Flag the figures a reader should not trust: a busy machine, the hypervisor taking CPU
    from our cores, a tool's rate that nginx does not confirm, failing requests."""
    if s.busy_before_pct and max(s.busy_before_pct) > BUSY_PCT_WARN:
        cores = ", ".join(f"{b:.0f}%" for b in s.busy_before_pct)
        s.warnings.append(f"machine busy before the run (per core: {cores}): figures are noise")
        s.noisy = True
    if s.other_cpu_pct is not None and s.other_cpu_pct > BUSY_PCT_WARN:
        s.warnings.append(f"{s.other_cpu_pct:.0f}% of a core used by other processes during run")
        s.noisy = True
    if s.steal_pct and max(s.steal_pct) > STEAL_PCT_WARN:
        gen, srv = s.steal_pct
        s.warnings.append(
            f"the hypervisor took {gen:.1f}% of the generator's core and {srv:.1f}% of "
            "nginx's during the run (steal)"
        )
        s.noisy = True
    if s.steady and s.rps and abs(s.steady["served_rps"] / s.rps - 1) > 0.1:
        s.warnings.append(
            f"nginx served {s.steady['served_rps']:,.0f} req/s while load flowed; the tool "
            f"reports {s.rps:,.0f}"
        )
    if s.errors and s.requests and s.errors / s.requests > 0.001:
        s.warnings.append(f"{s.errors} failed requests")


SUMMARY_FIELDS = (
    "rps",
    "cpu_us_per_req",
    "user_us_per_req",
    "sys_us_per_req",
    "steady_us_per_req",
    "gen_cpu_pct",
    "nginx_cpu_pct",
    "p50_ms",
    "p99_ms",
    "other_cpu_pct",
    "served_rps",
    "steal_max_pct",
)
EXTRA_FIELDS = ("sched_lag_p50_us", "sched_lag_p99_us", "rps_aggregate", "dropped")


def median(values: list[Any]) -> float | None:
    vals = [v for v in values if v is not None]
    return float(statistics.median(vals)) if vals else None


def summarize(runs: dict[str, list[Sample]]) -> dict[str, dict[str, Any]]:
    """Per tool: medians of each figure, or the reason it has none.

    Medians are over the quiet runs (no noise warning) when there is at least one, else over
    all ok runs with ``noisy: true``: on a shared machine one quiet run says more than the
    median of three disturbed ones. Rounds are interleaved, so a noisy spell hits several
    tools once rather than one tool every time.
    """
    out: dict[str, dict[str, Any]] = {}
    for name, samples in runs.items():
        ok = [s for s in samples if s.status == "ok"]
        quiet = [s for s in ok if not s.noisy]
        row: dict[str, Any] = {
            "runs": len(samples),
            "ok_runs": len(ok),
            "quiet_runs": len(quiet),
            "target_rps": samples[0].target_rps,
        }
        if not ok:
            row["status"], row["reason"] = samples[-1].status, samples[-1].reason
            out[name] = row
            continue
        use = quiet or ok
        row["status"], row["noisy"] = "ok", not quiet
        for attr in SUMMARY_FIELDS:
            row[attr] = median([getattr(s, attr) for s in use])
        for key in EXTRA_FIELDS:
            row[key] = median([s.extra.get(key) for s in use])
        row["saturated"] = any(s.extra.get("saturated") for s in use)
        out[name] = row
    return out


RATIO_FIELDS = {  # ratio name -> (Sample field, True when perflab / peer, else peer / perflab)
    "rps_ratio": ("rps", True),
    "cpu_efficiency_ratio": ("cpu_us_per_req", False),
    "steady_cpu_efficiency_ratio": ("steady_us_per_req", False),
}


def ratios(
    runs: dict[str, list[Sample]],
    mine: str = "perflab",
    targets: dict[str, float] = TARGETS,
) -> dict[str, dict[str, Any]]:
    """``mine`` against each peer of ``targets``: RPS, and requests per CPU-second (whole run
    and steady).

    Each ratio is the median of per-round ratios (perflab's run i against the peer's run i),
    over the rounds where both runs were quiet if there are any: the host's speed drifts
    between rounds, and pairing cancels much of that drift.
    """
    own = runs.get(mine, [])
    out: dict[str, dict[str, Any]] = {}
    for peer, target in targets.items():
        pairs = [(a, b) for a, b in zip(own, runs.get(peer, []), strict=False)
                 if a.status == b.status == "ok"]  # fmt: skip
        quiet = [(a, b) for a, b in pairs if not (a.noisy or b.noisy)]
        use = quiet or pairs
        if not use:
            continue
        row: dict[str, Any] = {"target": target, "rounds": len(use), "noisy": not quiet}
        for name, (attr, forward) in RATIO_FIELDS.items():
            vals = []
            for a, b in use:
                x, y = getattr(a, attr), getattr(b, attr)
                if x and y:
                    vals.append(x / y if forward else y / x)
            row[name] = median(vals)
            row[name.replace("ratio", "met")] = row[name] is not None and row[name] >= target
        out[peer] = row
    return out
