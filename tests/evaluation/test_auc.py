"""ROC AUC, pooled and within-problem: known values on hand-made scores."""

import numpy as np
import pytest

from harness.evaluation.auc import roc_auc, roc_auc_ci


def test_auc_known_values():
    assert roc_auc(np.array([3.0, 2.0, 1.0]), np.array([True, False, False])) == 1.0
    assert roc_auc(np.array([1.0, 2.0, 3.0]), np.array([True, False, False])) == 0.0
    assert roc_auc(np.array([1.0, 1.0]), np.array([True, False])) == 0.5  # a tie counts half
    assert roc_auc(np.array([0.2, 0.9, 0.5, 0.1]), np.array([True, True, False, False])) == 0.75
    assert roc_auc(np.array([1.0, 2.0]), np.array([True, True])) is None


def test_difficulty_alone_gives_pooled_but_not_within_problem_auc():
    # An easy problem (mostly correct) scored high and a hard one scored low, but no order inside either problem:
    # the pooled AUC rewards knowing the difficulty, the within-problem AUC sees chance.
    easy = (np.array([5.0, 5.0, 5.0, 5.0]), [True, True, True, False])
    hard = (np.array([1.0, 1.0, 1.0, 1.0]), [True, False, False, False])
    r = roc_auc_ci([easy[0], hard[0]], [easy[1], hard[1]], n_boot=50)
    assert r["auc"] == pytest.approx((9 + 0.5 * 6) / 16)  # of 16 pairs: 9 ordered right, 6 tied, 1 wrong
    assert r["within_auc"] == 0.5
    assert r["mixed_problems"] == 2


def test_within_problem_auc_of_a_perfect_ranker_is_one_and_ci_brackets_it():
    rng = np.random.default_rng(0)
    scores, labels = [], []
    for _ in range(30):
        lab = rng.random(8) < 0.5
        lab[0], lab[1] = True, False
        scores.append(lab.astype(float) + rng.random(8) * 0.1)
        labels.append(lab)
    r = roc_auc_ci(scores, labels, n_boot=50)
    assert r["within_auc"] == 1.0 and r["within_ci_low"] == 1.0 and r["auc"] == 1.0
