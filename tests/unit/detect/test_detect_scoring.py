"""The harness's F1 (TCPDBench rules), checked on hand-worked examples."""

from __future__ import annotations

import pytest
from bench.detectbench.scoring import delays, f_measure, true_positives


def test_true_positives_match_each_point_once_within_the_margin() -> None:
    assert true_positives({10, 20}, {12, 13}, margin=5) == {10}  # 13 is 7 from 20
    assert true_positives({10, 12}, {11}, margin=5) == {10}  # one prediction, one match
    assert true_positives({50}, {45}, margin=5) == {50}  # the margin is inclusive
    assert true_positives({50}, {44}, margin=5) == set()


def test_f_measure_single_annotator() -> None:
    # truth {0, 50, 100}; predicted {0, 52, 80}: TP 0 and 50 -> P = 2/3, R = 2/3
    score = f_measure([[50, 100]], [52, 80])
    assert score.precision == pytest.approx(2 / 3)
    assert score.recall == pytest.approx(2 / 3)
    assert score.f1 == pytest.approx(2 / 3)


def test_no_prediction_still_scores_index_zero() -> None:
    score = f_measure([[30]], [])
    assert (score.precision, score.recall) == (1.0, 0.5)
    assert score.f1 == pytest.approx(2 / 3)
    assert f_measure([[]], []).f1 == 1.0


def test_f_measure_several_annotators() -> None:
    # annotators {0, 40} and {0, 48}; union {0, 40, 48}; predicted {0, 45}
    # precision: 45 matches one of the union (40 and 48 both within 5) -> 2/2 = 1
    # recall: annotator 1 2/2, annotator 2 2/2 -> 1
    assert f_measure([[40], [48]], [45]).f1 == 1.0
    # annotators {0, 40} and {0} (one did not see the shift); predicted {0, 41}
    score = f_measure([[40], []], [41])
    assert score.precision == 1.0
    assert score.recall == 1.0  # annotator 2: {0} all found
    # predicted nothing: recall (1/2 + 1/1) / 2 = 3/4, precision 1
    assert f_measure([[40], []], []).f1 == pytest.approx(2 * 0.75 / 1.75)


def test_delays() -> None:
    assert delays([0, 50, 100], [0, 53, 99, 300]) == [3, 1]
