"""F1 of predicted change points as in van den Burg & Williams (2020), TCPDBench.

* Index 0 is a change point in every annotator's set and in the prediction.
* A prediction within ``margin`` of a true point is a true positive; each true point is
  matched at most once, to its closest unused prediction (true points taken in order).
* Several annotators: precision is over the union of their sets, recall the mean of the
  per-annotator recalls, F1 from those two.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MARGIN = 5


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float
    f1: float


def true_positives(
    truth: Iterable[int], predicted: Iterable[int], margin: int = MARGIN
) -> set[int]:
    """The true points matched by a prediction within ``margin`` (one prediction each)."""
    left = set(predicted)
    hits: set[int] = set()
    for tau in sorted(set(truth)):
        close = sorted((abs(tau - x), x) for x in left if abs(tau - x) <= margin)
        if close:
            hits.add(tau)
            left.remove(close[0][1])
    return hits


def f_measure(
    annotations: Sequence[Iterable[int]], predicted: Iterable[int], margin: int = MARGIN
) -> Score:
    """Precision, recall and F1 of ``predicted`` against one or more annotators' sets."""
    sets = [{0, *a} for a in annotations] or [{0}]
    guess = {0, *predicted}
    union = set().union(*sets)
    precision = len(true_positives(union, guess, margin)) / len(guess)
    recall = sum(len(true_positives(t, guess, margin)) / len(t) for t in sets) / len(sets)
    f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return Score(precision, recall, f1)


def delays(truth: Iterable[int], predicted: Iterable[int], margin: int = MARGIN) -> list[int]:
    """``|prediction - truth|`` of each matched true point other than 0."""
    left = set(predicted)
    out = []
    for tau in sorted(set(truth) - {0}):
        close = sorted((abs(tau - x), x) for x in left if abs(tau - x) <= margin)
        if close:
            out.append(close[0][0])
            left.remove(close[0][1])
    return out
