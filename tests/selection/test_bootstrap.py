"""The paired bootstrap of a difference between two systems on the same problems."""

import numpy as np
import pytest

from harness.core.errors import InputError
from harness.selection.bootstrap import paired_difference, verdict


def _brute_force(a, b, resamples, seed, level=0.95):
    """An independent resampling: draw problem indices, keep each problem's pair, average the differences."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(a), size=(resamples, len(a)))
    means = [float(np.mean([a[i] - b[i] for i in row])) for row in draws]
    alpha = (1 - level) / 2
    return float(np.mean(a - b)), *np.quantile(means, [alpha, 1 - alpha])


def test_paired_difference_equals_an_independent_resampling():
    rng = np.random.default_rng(3)
    a, b = rng.random(57), rng.random(57)
    got = paired_difference(a, b, resamples=400, seed=11)
    want = _brute_force(a, b, 400, 11)
    assert got == pytest.approx(want, abs=1e-12)


def test_pairing_removes_the_shared_problem_difficulty():
    # Problems differ wildly in difficulty; A is ahead of B by 0.02 on every problem. Paired, the interval is a
    # point above 0; resampling the two systems independently would straddle 0.
    difficulty = np.random.default_rng(0).random(200)
    lo_hi = paired_difference(difficulty + 0.02, difficulty, resamples=300, seed=0)
    assert lo_hi[0] == pytest.approx(0.02) and lo_hi[1] > 0.0199
    assert verdict(*lo_hi[1:]) == "holds"
    assert verdict(*paired_difference(difficulty, difficulty + 0.02, resamples=300)[1:]) == "does not hold"


def test_verdict_tie_when_the_interval_contains_zero():
    assert verdict(-0.01, 0.02) == "tie"
    rng = np.random.default_rng(1)
    a = rng.random(300)
    assert verdict(*paired_difference(a, rng.permutation(a), resamples=500)[1:]) == "tie"


def test_paired_difference_refuses_unpaired_input():
    with pytest.raises(InputError):
        paired_difference(np.ones(3), np.ones(4))
