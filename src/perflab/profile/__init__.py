"""Sampling profiles of live processes: where the CPU time goes while a system is under load.

The pipeline: a sampler (py-spy for Python, perf for native code; perflab samples nothing
itself) -> folded :data:`Stacks` (:mod:`.folded`) -> a stored profile directory
(:mod:`.artifact`, schema ``perflab.profile/1``) -> views computed from stacks alone
(:mod:`.top`, :mod:`.speedscope`, the flame graph), so every view works from a saved profile
as well as from a live one::

    result = profile_pid(1234, duration_s=30)        # or profile_command([...], None)
    print(format_top_table(top_functions(result.stacks, 15)))

and beside the sampler: the flame graph and its differential (:mod:`.flamegraph`,
:mod:`.diff`), a target's memory over a load test with a leak verdict (:mod:`.monitor`,
:mod:`.leak`, :mod:`.watch`) and tracemalloc growth of a Python target (:mod:`.allocations`).

Names load lazily: importing the package does not import the store (and pyarrow).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from perflab.lazy import lazy_exports

if TYPE_CHECKING:
    from perflab.profile.allocations import GrowthRow, start_traced, take_snapshot, top_growth
    from perflab.profile.artifact import (
        PROFILE_SCHEMA,
        ProfileResult,
        ProfileTarget,
        load_profile,
        new_profile_dir,
        save_profile,
    )
    from perflab.profile.diff import ProfileDiff, diff_profiles, render_diff_flamegraph
    from perflab.profile.flamegraph import render_flamegraph
    from perflab.profile.folded import (
        Frame,
        Stacks,
        format_folded,
        merge,
        parse_folded,
        parse_frame,
        total_samples,
    )
    from perflab.profile.leak import LeakVerdict, leak_verdict
    from perflab.profile.monitor import ProcessMonitor
    from perflab.profile.native import fold_perf_script
    from perflab.profile.sampler import ProfileInterrupted, profile_command, profile_pid
    from perflab.profile.series import MemorySeries, load_memory_series
    from perflab.profile.speedscope import to_speedscope
    from perflab.profile.tooling import ProfileProgress
    from perflab.profile.top import TopRow, format_top_table, top_functions
    from perflab.profile.watch import TargetWatch, WatchPlan

__all__ = [
    "PROFILE_SCHEMA",
    "Frame",
    "GrowthRow",
    "LeakVerdict",
    "MemorySeries",
    "ProcessMonitor",
    "ProfileDiff",
    "ProfileInterrupted",
    "ProfileProgress",
    "ProfileResult",
    "ProfileTarget",
    "Stacks",
    "TargetWatch",
    "TopRow",
    "WatchPlan",
    "diff_profiles",
    "fold_perf_script",
    "format_folded",
    "format_top_table",
    "leak_verdict",
    "load_memory_series",
    "load_profile",
    "merge",
    "new_profile_dir",
    "parse_folded",
    "parse_frame",
    "profile_command",
    "profile_pid",
    "render_diff_flamegraph",
    "render_flamegraph",
    "save_profile",
    "start_traced",
    "take_snapshot",
    "to_speedscope",
    "top_functions",
    "top_growth",
    "total_samples",
]
_HOMES = {
    "PROFILE_SCHEMA": "perflab.profile.artifact",
    "ProfileResult": "perflab.profile.artifact",
    "ProfileTarget": "perflab.profile.artifact",
    "load_profile": "perflab.profile.artifact",
    "new_profile_dir": "perflab.profile.artifact",
    "save_profile": "perflab.profile.artifact",
    "Frame": "perflab.profile.folded",
    "Stacks": "perflab.profile.folded",
    "format_folded": "perflab.profile.folded",
    "merge": "perflab.profile.folded",
    "parse_folded": "perflab.profile.folded",
    "parse_frame": "perflab.profile.folded",
    "total_samples": "perflab.profile.folded",
    "fold_perf_script": "perflab.profile.native",
    "ProfileInterrupted": "perflab.profile.sampler",
    "profile_command": "perflab.profile.sampler",
    "profile_pid": "perflab.profile.sampler",
    "to_speedscope": "perflab.profile.speedscope",
    "ProfileProgress": "perflab.profile.tooling",
    "TopRow": "perflab.profile.top",
    "format_top_table": "perflab.profile.top",
    "top_functions": "perflab.profile.top",
    "GrowthRow": "perflab.profile.allocations",
    "start_traced": "perflab.profile.allocations",
    "take_snapshot": "perflab.profile.allocations",
    "top_growth": "perflab.profile.allocations",
    "ProfileDiff": "perflab.profile.diff",
    "diff_profiles": "perflab.profile.diff",
    "render_diff_flamegraph": "perflab.profile.diff",
    "render_flamegraph": "perflab.profile.flamegraph",
    "LeakVerdict": "perflab.profile.leak",
    "leak_verdict": "perflab.profile.leak",
    "MemorySeries": "perflab.profile.series",
    "ProcessMonitor": "perflab.profile.monitor",
    "load_memory_series": "perflab.profile.series",
    "TargetWatch": "perflab.profile.watch",
    "WatchPlan": "perflab.profile.watch",
}

__getattr__ = lazy_exports(__name__, _HOMES)
