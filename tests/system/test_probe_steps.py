"""benchmarks/probe_steps.py: its logistic regression is the regularised optimum (the whole probe runs by hand)."""

from __future__ import annotations

import sys

import numpy as np
from _paths import REPO

sys.path.insert(0, str(REPO / "benchmarks"))


def test_logistic_regression_reaches_the_regularised_optimum():
    import probe_steps
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 5))
    y = (x @ np.array([1.5, -2.0, 0.0, 0.5, 0.0]) + 0.3 + rng.normal(size=400) > 0).astype(float)
    w, b = probe_steps.fit_logistic(x, y, l2=1e-2)
    p = 1 / (1 + np.exp(-(x @ w + b)))
    # the gradient of mean log-loss + l2/2 |w|^2 (bias unshrunk) vanishes at the optimum
    np.testing.assert_allclose(x.T @ (p - y) / len(y) + 1e-2 * w, 0, atol=1e-9)
    assert abs(np.mean(p - y)) < 1e-9
    assert w[0] > 0 > w[1] and abs(w[2]) < 0.3


def test_centring_removes_each_groups_mean():
    import probe_steps
    x = np.array([[1.0, 2.0], [3.0, 6.0], [10.0, 0.0]])
    np.testing.assert_allclose(probe_steps.centred(x, np.array([0, 0, 1])), [[-1, -2], [1, 2], [0, 0]])
