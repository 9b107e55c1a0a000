"""The two decision rules under test, each as ``(base, candidate) -> "slower" | "faster" |
"no_change"`` on the same per-process value groups.

- perflab: :func:`perflab.stats.gate.compare_groups` as ``perflab bench compare`` calls it
  (processes as units, Mann-Whitney U + bootstrap CI + noise-derived minimum effect).
- pyperf: what ``pyperf compare_to`` does with its defaults. ``CompareResult`` asks
  ``is_significant_benchs``, which pools every value of every run as independent and calls
  ``pyperf._utils.is_significant`` (Student's two-sample t-test, 95 %); ``--min-speed`` is
  off by default, so significance is the t-test alone. The direction is the ratio of means
  (``compute_normalized_mean``). As in pyperf, a t-test that raises counts as significant.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from pyperf._utils import is_significant

from perflab.stats.gate import compare_groups

Groups = npt.NDArray[np.float64]


def perflab_rule(base: Groups, candidate: Groups, seed: int) -> str:
    return compare_groups(base, candidate, seed=seed).verdict


def pyperf_rule(base: Groups, candidate: Groups, seed: int) -> str:
    del seed  # the t-test is deterministic
    values1 = [float(v) for v in base.ravel()]
    values2 = [float(v) for v in candidate.ravel()]
    try:
        significant, _t = is_significant(values1, values2)
    except Exception:  # pyperf's own fallback: "significant"
        significant = True
    if not significant:
        return "no_change"
    return "slower" if np.mean(values2) > np.mean(values1) else "faster"


RULES = {"perflab": perflab_rule, "pyperf": pyperf_rule}
