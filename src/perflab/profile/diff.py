"""Differential profiles: which functions take a larger or smaller share of the samples?

**Unit.** A function is its name and file, without the line: py-spy reports the line being
executed when a sample is taken, so one function's samples are spread over many lines, and an
edit anywhere above it renumbers them all; by line, a diff would report renumbering as change.
A function's *total* share is the fraction of samples whose stack contains it (once, however
deeply it recurses), its *self* share the fraction whose innermost frame it is. Each profile
is normalized by its own sample count, so profiles of different lengths compare.

**Test.** Each sample of a profile either contains the function or not, so its count is
binomial, and base and candidate are two independent samples: a pooled two-proportion z test
per function (:func:`perflab.stats.proportions.two_proportion_ztest`), Benjamini-Hochberg
corrected over all functions. A function changed when its total share's q value is at most
``alpha`` *and* the share moved by at least ``min_effect_pct`` percentage points. Under an
A/A comparison BH keeps the chance of any false call at or below ``alpha``.

**Caveat: samples are not independent.** Consecutive samples (10 ms apart at py-spy's
default 100 Hz) often land in the same call, so a profile holds fewer independent
observations than samples, and the binomial variance is a *lower bound* on the real noise.
The minimum effect is the guard: a shift of a percentage point or more is not what a few
correlated runs of samples produce in profiles of thousands of samples. For profiles of few
samples, or of phases that run for seconds each, raise it (or profile longer).

**Shares are relative.** When one function grows from 10 % to 20 %, every other share
shrinks by a ninth although nothing else changed. Reporting those as "shrank" would be
literally true and practically wrong, so each significant change is checked against the rest
of the profile: the pooled self shares of the functions whose ratio agrees with the weighted
median (:func:`~perflab.stats.proportions.common_ratio`) estimate how the shares of unchanged
code moved, assuming most of the samples are in code that did not change. A change whose
ratio is within noise of that common factor (Katz's log-ratio test, Holm corrected over all
functions, so that a diluted function is rarely called a real change) or within the minimum
effect of it keeps its verdict, because the share did move, but is marked
``explained_by_others``, ranked after the real changes and explained in its ``note``.
``change_vs_rest_pct`` is the function's change relative to that unchanged rest, which is
its change in time if the unchanged rest took the same time in both runs. Callers of a
function that grew grow with it: their total share contains it (``self`` tells them apart).

**Calibration** (``tests/unit/profile/test_diff.py``, seeded multinomial profiles of 2,000
samples over 8 stacks): A/A, any "grew"/"shrank" in 3.7 % of 1,000 pairs; a function raised
from 10 % to 20 %, called "grew" in 300 of 300 pairs, while a diluted function was called a
real shrink in 4.0 % of them; raised from 10 % to 13 %, called "grew" in 67 %.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal, NamedTuple

import numpy as np
import numpy.typing as npt

from perflab.profile.flamegraph import (
    DEFAULT_MIN_SHARE,
    FrameTree,
    Orientation,
    build_tree,
    function_key,
    page_data,
    render_page,
    visible_nodes,
)
from perflab.stats.proportions import (
    benjamini_hochberg,
    common_ratio,
    holm,
    ratio_ztest,
    two_proportion_ztest,
)

__all__ = [
    "DEFAULT_MIN_EFFECT_PCT",
    "SCHEMA",
    "FunctionChange",
    "ProfileDiff",
    "Verdict",
    "diff_profiles",
    "render_diff_flamegraph",
]

SCHEMA = "perflab.profile-diff/1"
DEFAULT_MIN_EFFECT_PCT = 1.0
Verdict = Literal["grew", "shrank", "no significant change"]
Stacks = Mapping[tuple[str, ...], int]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
UNCHANGED_COLOR = "#dcdcdc"
TABLE_UNCHANGED = 40  # unchanged functions listed in the page, the largest moves first


@dataclass(frozen=True)
class FunctionChange:
    """One function's shares (in %) in both profiles, the change (in points), and the verdict.

    The verdict and ``total_q`` are about the total share; ``self_q`` is the same test on the
    self share, for telling a function that got slower from one whose callees did.
    """

    function: str
    base_samples: int
    cand_samples: int
    base_total_pct: float
    cand_total_pct: float
    total_change_pp: float
    total_p: float
    total_q: float
    base_self_pct: float
    cand_self_pct: float
    self_change_pp: float
    self_q: float
    change_vs_rest_pct: float | None
    verdict: Verdict
    explained_by_others: bool
    note: str


@dataclass(frozen=True)
class ProfileDiff:
    """The ranked comparison: real changes first, then changes explained by others, then the
    rest, each by the absolute change of the total share."""

    base_samples: int
    cand_samples: int
    min_effect_pct: float
    alpha: float
    rest_ratio: float
    rest_variance: float
    rows: tuple[FunctionChange, ...]

    @property
    def changed(self) -> list[FunctionChange]:
        return [row for row in self.rows if row.verdict != "no significant change"]

    def to_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, **asdict(self), "rows": [asdict(row) for row in self.rows]}


class _Counts(NamedTuple):
    """Per function: samples whose stack holds it, samples whose stack ends in it; all samples."""

    containing: Mapping[str, int]
    ending: Mapping[str, int]
    samples: int


@dataclass(frozen=True)
class _Changes:
    """Element-wise results of comparing counts ``xb / nb`` with ``xc / nc``."""

    change_pp: FloatArray
    p: FloatArray
    q: FloatArray
    significant: BoolArray
    explained: BoolArray
    vs_rest: FloatArray


def _compare(
    xb: FloatArray,
    nb: int,
    xc: FloatArray,
    nc: int,
    rest: tuple[float, float],
    min_pp: float,
    alpha: float,
) -> _Changes:
    change = 100.0 * (xc / nc - xb / nb)
    _, p = two_proportion_ztest(xb, nb, xc, nc)
    q = benjamini_hochberg(p)
    significant = (q <= alpha) & (np.abs(change) >= min_pp)
    # Against the rest: did the share move by more than the unchanged code's shares did?
    rest_ratio, rest_variance = rest
    _, p_rest = ratio_ztest(xb, nb, xc, nc, rest_ratio, rest_variance)
    # Holm over all functions: testing only the significant ones would re-test draws selected
    # for having moved, and a single diluted function called a real change misleads.
    q_rest = holm(p_rest)
    residual = 100.0 * (xc / nc - rest_ratio * xb / nb)
    real = (q_rest <= alpha) & (np.abs(residual) >= min_pp) & (np.sign(residual) == np.sign(change))
    with np.errstate(divide="ignore", invalid="ignore"):
        vs_rest = np.where(xb > 0, 100.0 * ((xc / nc) / (xb / nb) / rest_ratio - 1.0), np.nan)
    return _Changes(change, p, q, significant, significant & ~real, vs_rest)


def _note(verdict: Verdict, explained: bool, xb: float, xc: float, vs_rest: float) -> str:
    if xb == 0 and xc > 0:
        return "new in the candidate"
    if xc == 0 and xb > 0:
        return "not in the candidate"
    if explained:
        moved, others = ("fell", "grew") if verdict == "shrank" else ("rose", "shrank")
        return (
            f"its share {moved} because other functions {others}: against the rest of the "
            f"profile it changed {vs_rest:+.1f} %, within noise"
        )
    return ""


def diff_profiles(
    base: Stacks,
    cand: Stacks,
    *,
    min_effect_pct: float = DEFAULT_MIN_EFFECT_PCT,
    alpha: float = 0.05,
) -> ProfileDiff:
    """Compare two profiles function by function (method, caveats: the module docstring).

    Args:
        base: The reference profile, stacks root to leaf -> samples.
        cand: The candidate profile, in the same form.
        min_effect_pct: The smallest change of a total share, in percentage points, that is
            called a change however significant.
        alpha: The false discovery rate across all functions.

    Raises:
        ValueError: a profile without samples, a negative count, or a bad parameter.
    """
    return _diff(_function_counts(base), _function_counts(cand), min_effect_pct, alpha)


def _function_counts(stacks: Stacks) -> _Counts:
    """Samples per function, whose stack holds it and whose stack ends in it (no tree: a diff
    needs only these, and the tree of 50,000 distinct stacks costs as much again)."""
    containing: dict[str, int] = {}
    ending: dict[str, int] = {}
    keys: dict[str, str] = {}
    samples = 0
    for stack, count in stacks.items():
        if count < 0:
            raise ValueError(f"negative sample count {count} for stack {stack!r}")
        if not count:
            continue
        samples += count
        functions = [keys.get(f) or keys.setdefault(f, function_key(f)) for f in stack]
        for function in set(functions):
            containing[function] = containing.get(function, 0) + count
        if functions:
            ending[functions[-1]] = ending.get(functions[-1], 0) + count
    return _Counts(containing, ending, samples)


def _diff(base: _Counts, cand: _Counts, min_effect_pct: float, alpha: float) -> ProfileDiff:
    if min_effect_pct < 0 or not 0 < alpha < 1:
        raise ValueError("need min_effect_pct >= 0 and 0 < alpha < 1")
    nb, nc = base.samples, cand.samples
    if not nb or not nc:
        raise ValueError("cannot compare a profile without samples")
    functions = sorted(base.containing.keys() | cand.containing.keys())
    xb = np.array([base.containing.get(f, 0) for f in functions], dtype=float)
    xc = np.array([cand.containing.get(f, 0) for f in functions], dtype=float)
    sb = np.array([base.ending.get(f, 0) for f in functions], dtype=float)
    sc = np.array([cand.ending.get(f, 0) for f in functions], dtype=float)
    rest = common_ratio(sb, nb, sc, nc)
    total = _compare(xb, nb, xc, nc, rest, min_effect_pct, alpha)
    _, p_self = two_proportion_ztest(sb, nb, sc, nc)
    q_self = benjamini_hochberg(p_self)
    rows = []
    for i, function in enumerate(functions):
        verdict: Verdict = "no significant change"
        if total.significant[i]:
            verdict = "grew" if total.change_pp[i] > 0 else "shrank"
        vs_rest = float(total.vs_rest[i])
        rows.append(
            FunctionChange(
                function=function,
                base_samples=int(xb[i]),
                cand_samples=int(xc[i]),
                base_total_pct=float(100.0 * xb[i] / nb),
                cand_total_pct=float(100.0 * xc[i] / nc),
                total_change_pp=float(total.change_pp[i]),
                total_p=float(total.p[i]),
                total_q=float(total.q[i]),
                base_self_pct=float(100.0 * sb[i] / nb),
                cand_self_pct=float(100.0 * sc[i] / nc),
                self_change_pp=float(100.0 * (sc[i] / nc - sb[i] / nb)),
                self_q=float(q_self[i]),
                change_vs_rest_pct=vs_rest if np.isfinite(vs_rest) else None,
                verdict=verdict,
                explained_by_others=bool(total.explained[i]),
                note=_note(verdict, bool(total.explained[i]), xb[i], xc[i], vs_rest),
            )
        )
    rows.sort(key=_rank)
    return ProfileDiff(nb, nc, min_effect_pct, alpha, rest[0], rest[1], tuple(rows))


def _rank(row: FunctionChange) -> tuple[int, float, str]:
    tier = 2 if row.verdict == "no significant change" else int(row.explained_by_others)
    return tier, -abs(row.total_change_pp), row.function


def _same_paths(base: FrameTree, cand: FrameTree, order: list[tuple[int, int]]) -> list[int]:
    """For each candidate node of ``order`` (preorder), the base node at the same call path,
    or -1 where the base never took that path."""
    path: list[int] = []
    same: list[int] = []
    for node, depth in order:
        del path[depth:]
        if not depth:
            found = 0
        else:
            parent = path[-1]
            found = base.children[parent].get(cand.frames[node], -1) if parent >= 0 else -1
        path.append(found)
        same.append(found)
    return same


def diff_color(change_pp: float, largest_pp: float, *, real: bool) -> str:
    """Red for growth, blue for shrinkage, stronger with ``|change| / largest``; a change that
    only moved with the rest of the profile gets the palest tint of its direction."""
    strength = 0.12 if not real else 0.25 + 0.75 * min(abs(change_pp) / (largest_pp or 1.0), 1.0)
    faded = round(225 - 190 * strength)
    return f"#ff{faded:02x}{faded:02x}" if change_pp > 0 else f"#{faded:02x}{faded:02x}ff"


def render_diff_flamegraph(
    base: Stacks,
    cand: Stacks,
    *,
    title: str,
    meta: Mapping[str, str] | None = None,
    orientation: Orientation = "flame",
    min_effect_pct: float = DEFAULT_MIN_EFFECT_PCT,
    alpha: float = 0.05,
    min_share: float = DEFAULT_MIN_SHARE,
) -> str:
    """A differential flame graph (Gregg's): the candidate's shape, colored by change.

    Frames are merged by function (no lines, see :func:`diff_profiles`) so that both profiles
    have the same frames. A frame's color compares its total share *at this call path* in
    both profiles with the same test, minimum effect and rest-of-profile check as the table;
    frames that exist only in the base have no width in the candidate and are not drawn, so
    the ranked table below the graph lists them.
    """
    base_tree, cand_tree = build_tree(base, function_key), build_tree(cand, function_key)
    counts = [_Counts(t.containing, t.ending, t.samples) for t in (base_tree, cand_tree)]
    result = _diff(counts[0], counts[1], min_effect_pct, alpha)
    order = visible_nodes(cand_tree, min_share)
    same = _same_paths(base_tree, cand_tree, order)
    b = [base_tree.total[j] if j >= 0 else 0 for j in same]
    bs = [base_tree.self_[j] if j >= 0 else 0 for j in same]
    v = np.array([cand_tree.total[node] for node, _ in order[1:]], dtype=float)
    rest = (result.rest_ratio, result.rest_variance)
    changes = _compare(
        np.array(b[1:], dtype=float),
        result.base_samples,
        v,
        result.cand_samples,
        rest,
        min_effect_pct,
        alpha,
    )
    largest = float(np.max(np.abs(changes.change_pp[changes.significant]), initial=0.0))
    colors = [UNCHANGED_COLOR]
    for change, significant, explained in zip(
        changes.change_pp, changes.significant, changes.explained, strict=True
    ):
        real = bool(significant and not explained)
        colors.append(diff_color(change, largest, real=real) if significant else UNCHANGED_COLOR)
    unchanged = [row for row in result.rows if row.verdict == "no significant change"]
    shown = result.changed + unchanged[:TABLE_UNCHANGED]
    data = page_data(cand_tree, order, colors, "diff", b=b, bs=bs, base_total=result.base_samples)
    return render_page(
        data,
        title=title,
        meta=meta,
        orientation=orientation,
        min_share=min_share,
        table=[asdict(row) for row in shown],
        table_omitted=len(result.rows) - len(shown),
    )
