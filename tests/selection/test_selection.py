"""Selection estimators against closed forms, brute-force enumeration and hand-made examples."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from harness.core.errors import InputError
from harness.selection import (
    best_of_n,
    bootstrap_ci,
    group_ids,
    majority_vote,
    pack,
    pass_at_n,
    votes,
    weighted_vote,
)


def _subsets(N, n):
    return itertools.combinations(range(N), n)


def _bon_value(cor, sc, idx):
    top = max(sc[i] for i in idx)
    tied = [i for i in idx if sc[i] == top]
    return sum(cor[i] for i in tied) / len(tied)


def _vote_value(cor, grp, w, idx):
    tot = {}
    for i in idx:
        if grp[i] >= 0 and w[i] != 0:
            tot[grp[i]] = tot.get(grp[i], 0.0) + w[i]
    if not tot:
        return 0.0
    top = max(tot.values())
    tied = [g for g, v in tot.items() if math.isclose(v, top, rel_tol=0, abs_tol=1e-12)]
    gc = {g: np.mean([cor[i] for i in range(len(grp)) if grp[i] == g]) for g in tied}
    return sum(gc.values()) / len(tied)


def _enumerate(value, N, n):
    vals = [value(idx) for idx in _subsets(N, n)]
    return sum(vals) / len(vals)


def test_pass_at_n_matches_enumeration():
    rng = np.random.default_rng(1)
    for N in (1, 5, 9):
        for c in range(N + 1):
            cor = np.zeros(N)
            cor[rng.choice(N, c, replace=False)] = 1
            got = pass_at_n(pack([cor]), range(1, N + 1))[0]
            want = [_enumerate(lambda idx: float(any(cor[i] for i in idx)), N, n) for n in range(1, N + 1)]
            np.testing.assert_allclose(got, want, atol=1e-12)


def test_pass_at_n_large_n_is_stable():
    # C(500, 250) overflows float64; the log-factorial form must still give 1 - C(N-c, n)/C(N, n) accurately.
    cor = np.zeros(500)
    cor[:3] = 1
    got = pass_at_n(pack([cor]), [1, 250, 498, 500])[0]
    want = [1 - math.comb(497, n) / math.comb(500, n) for n in (1, 250, 498, 500)]
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_perfect_scorer_best_of_n_equals_pass_at_n():
    rng = np.random.default_rng(2)
    cors = [rng.random(N) < 0.3 for N in (16, 16, 7, 30)]
    b = pack(cors)
    ns = list(range(1, 31))
    np.testing.assert_allclose(best_of_n(b, [c.astype(float) for c in cors], ns), pass_at_n(b, ns), atol=1e-12)


def test_constant_scorer_best_of_n_is_mean_accuracy():
    cors = [np.array([1, 0, 0, 1, 0]), np.array([0, 0, 0]), np.array([1, 1, 1, 1, 0, 1])]
    b = pack(cors)
    got = best_of_n(b, [np.zeros(len(c)) for c in cors], [1, 2, 3, 5, 6])
    np.testing.assert_allclose(got, np.array([[c.mean()] * 5 for c in cors]), atol=1e-12)


def test_best_of_n_matches_enumeration_with_ties():
    cor = np.array([1, 0, 0, 1, 1, 0, 0, 1, 0])
    sc = np.array([0.2, 0.9, 0.2, 0.9, -np.inf, 0.5, -np.inf, 0.1, 0.2])
    got = best_of_n(pack([cor]), [sc], range(1, 10))[0]
    want = [_enumerate(lambda idx: _bon_value(cor, sc, idx), 9, n) for n in range(1, 10)]
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_best_of_n_agrees_with_monte_carlo():
    rng = np.random.default_rng(3)
    N = 40
    cor = rng.random(N) < 0.4
    sc = rng.integers(0, 6, N).astype(float)  # only 6 levels: many ties
    ns = [1, 2, 3, 5, 8, 13, 21, 34, 40]
    got = best_of_n(pack([cor]), [sc], ns)[0]
    draws = 20_000
    for n, g in zip(ns, got):
        # 20,000 uniformly random n-subsets (first n of random permutations), each scored with ties split evenly.
        idx = rng.random((draws, N)).argsort(axis=1)[:, :n]
        s, c = sc[idx], cor[idx]
        tied = s == s.max(axis=1, keepdims=True)
        vals = (tied * c).sum(axis=1) / tied.sum(axis=1)
        se = vals.std() / math.sqrt(draws)
        assert abs(vals.mean() - g) < 0.005 and abs(vals.mean() - g) < 4 * se + 1e-12, (n, g, vals.mean(), se)


def test_majority_vote_hand_made():
    # Answers A A B B B (+ one without an answer), A is right. Enumerating the 2- and 3-subsets of the five
    # voters: n=2 -> (1 AA + 6 AB ties * 0.5) / 10 = 0.4; n=3 -> 3 AAB / 10 = 0.3; n=4 -> leaving out a B
    # (3/5) gives an AABB tie (0.5), leaving out an A gives ABBB (0): 0.3; n=N -> B wins: 0 (exact).
    b = pack([[1, 1, 0, 0, 0]], [group_ids(["A", "A", "B", "B", "B"])])
    acc = majority_vote(b, [1, 2, 3, 4, 5], mc_samples=20_000, seed=0)[0]
    np.testing.assert_allclose(acc, [0.4, 0.4, 0.3, 0.3, 0.0], atol=0.01)
    assert acc[0] == pytest.approx(0.4, abs=1e-12) and acc[-1] == 0.0  # n = 1 and n = N are exact
    # A response without an answer never wins, even when it is the only one drawn.
    b2 = pack([[1, 0]], [group_ids(["7", None])])
    np.testing.assert_allclose(majority_vote(b2, [1, 2], mc_samples=4000)[0], [0.5, 1.0], atol=0.03)
    assert majority_vote(b2, [2])[0, 0] == 1.0


def test_votes_match_enumeration_small_pool():
    rng = np.random.default_rng(4)
    N = 7
    cor = np.array([1, 0, 1, 0, 0, 1, 0])
    grp = np.array([0, 1, 0, 2, 1, 0, -1])
    sc = rng.normal(size=N)
    b = pack([cor], [grp])
    ns = list(range(1, N + 1))
    maj, wsig = votes(b, [None, [sc]], ns, weights="sigmoid", mc_samples=20_000)
    wraw = weighted_vote(b, [sc], ns, weights="raw", mc_samples=20_000)
    sig = 1 / (1 + np.exp(-sc))
    for got, w in ((maj, np.ones(N)), (wsig, sig), (wraw, sc)):
        want = [_enumerate(lambda idx: _vote_value(cor, grp, w, idx), N, n) for n in ns]
        np.testing.assert_allclose(got[0], want, atol=0.012)
        assert got[0, -1] == pytest.approx(want[-1], abs=1e-12)  # n = N is exact


def test_weighted_vote_sigmoid_differs_from_raw():
    # A (right) scores 0.5; two B's score -0.2 each. raw: A 0.5 > B -0.4 -> right. sigmoid: A 0.62 < B 0.90 ->
    # wrong. softmax: A e^0.5 = 1.649 > B 2 e^-0.2 = 1.637 -> right.
    b = pack([[1, 0, 0]], [group_ids(["A", "B", "B"])])
    sc = [np.array([0.5, -0.2, -0.2])]
    assert weighted_vote(b, sc, [3], weights="raw")[0, 0] == 1.0
    assert weighted_vote(b, sc, [3], weights="sigmoid")[0, 0] == 0.0
    assert weighted_vote(b, sc, [3], weights="softmax")[0, 0] == 1.0
    # raw with n=1: whoever is drawn wins, so 1/3 (a negative total still beats no vote).
    assert weighted_vote(b, sc, [1], weights="raw", mc_samples=6000)[0, 0] == pytest.approx(1 / 3, abs=0.02)


def test_exact_ties_in_weighted_totals():
    # 0.1 + 0.2 != 0.2 + 0.1 in float64 by order alone; both classes total the same and must tie at n = N.
    b = pack([[1, 1, 0, 0]], [[0, 0, 1, 1]])
    acc = weighted_vote(b, [np.array([0.1, 0.2, 0.2, 0.1])], [4], weights="raw", mc_samples=64)
    assert acc[0, 0] == 0.5


def test_prefix_estimator_is_first_n():
    cor = [np.array([0, 1, 1, 0, 1]), np.array([1, 0, 0])]
    grp = [np.array([0, 1, 1, 2, 1]), np.array([0, 1, 1])]
    sc = [np.array([0.3, 0.1, 0.9, 0.9, 0.0]), np.array([-1.0, 2.0, 0.5])]
    b = pack(cor, grp)
    ns = [1, 2, 3, 4, 5]
    np.testing.assert_array_equal(pass_at_n(b, ns, subsets="prefix"), [[0, 1, 1, 1, 1], [1, 1, 1, 1, 1]])
    # BoN: first n of problem 0: n=1 -> r0 wrong; n=2 -> r0 (0.3) wrong; n=3 -> r2 right; n>=4 -> r2/r3 tie 0.5.
    np.testing.assert_allclose(best_of_n(b, sc, ns, subsets="prefix"), [[0, 0, 1, .5, .5], [1, 0, 0, 0, 0]])
    # Majority: problem 0 groups 0,1,1,2,1 -> n=1 group0 wrong; n=2 tie 0/1 -> .5; n>=3 group 1 right.
    # Problem 1 groups 0,1,1 -> n=1 right, n=2 tie .5, n=3 wrong (clipped to N=3 beyond).
    np.testing.assert_allclose(majority_vote(b, ns, subsets="prefix"), [[0, .5, 1, 1, 1], [1, .5, 0, 0, 0]])


def test_ragged_pools_equal_separate_problems():
    rng = np.random.default_rng(5)
    sizes = [3, 12, 6, 12]
    cors = [rng.random(N) < 0.5 for N in sizes]
    grps = [rng.integers(-1, 4, N) for N in sizes]
    scs = [rng.normal(size=N).round(1) for N in sizes]
    ns = [1, 2, 4, 8, 16]
    b = pack(cors, grps)
    assert b.clipped(ns) == {4: 1, 8: 2, 16: 4}
    joint = [pass_at_n(b, ns), best_of_n(b, scs, ns), weighted_vote(b, scs, ns, mc_samples=2000, seed=1)]
    for i in range(len(sizes)):
        alone = pack([cors[i]], [grps[i]])
        np.testing.assert_allclose(joint[0][i], pass_at_n(alone, ns)[0], atol=1e-12)
        np.testing.assert_allclose(joint[1][i], best_of_n(alone, [scs[i]], ns)[0], atol=1e-12)
        np.testing.assert_allclose(joint[2][i], weighted_vote(alone, [scs[i]], ns, mc_samples=2000)[0], atol=0.05)
    # n beyond N is clipped: the 3-response problem's n=4, 8, 16 all equal n=3.
    np.testing.assert_allclose(joint[1][0, 2:], best_of_n(pack([cors[0]]), [scs[0]], [3])[0, 0])


def test_votes_seeded_and_shared_across_weightings():
    rng = np.random.default_rng(6)
    cors = [rng.random(20) < 0.5 for _ in range(30)]
    grps = [rng.integers(0, 5, 20) for _ in range(30)]
    scs = [rng.normal(size=20) for _ in range(30)]
    b = pack(cors, grps)
    alone = majority_vote(b, [1, 4, 16], seed=9)
    together = votes(b, [None, scs, scs], [1, 4, 16], seed=9)
    np.testing.assert_array_equal(alone, together[0])
    assert not np.array_equal(alone, majority_vote(b, [1, 4, 16], seed=10))


def test_votes_at_small_n_do_not_depend_on_the_larger_n_asked_alongside():
    """The scan stops at the largest n asked for: asking n = 32 too (which scans every response) leaves the
    n <= 8 columns bit-identical, since both calls draw the same subsets."""
    rng = np.random.default_rng(8)
    cors = [rng.random(32) < 0.4 for _ in range(25)]
    grps = [rng.integers(0, 6, 32) for _ in range(25)]
    scs = [rng.normal(size=32) for _ in range(25)]
    b = pack(cors, grps)
    short = votes(b, [None, scs], [1, 2, 4, 8], seed=3)
    full = votes(b, [None, scs], [1, 2, 4, 8, 32], seed=3)
    for a, f in zip(short, full):
        np.testing.assert_array_equal(a, f[:, :4])


def test_bootstrap_ci_contains_estimate_and_shrinks():
    rng = np.random.default_rng(7)
    widths = []
    for P in (25, 400):
        acc = (rng.random((P, 3)) < [0.2, 0.5, 0.9]).astype(float)
        mean, low, high = bootstrap_ci(acc, resamples=1000, seed=0)
        np.testing.assert_allclose(mean, acc.mean(axis=0))
        assert np.all(low <= mean) and np.all(mean <= high) and np.all(low < high)
        widths.append(high - low)
    assert np.all(widths[1] < widths[0] / 2)  # ~ 1/sqrt(P): 4x narrower for 16x the problems


def test_bad_input_is_input_error():
    b = pack([[1, 0]])
    with pytest.raises(InputError):
        best_of_n(b, [np.array([np.nan, 0.0])], [1])
    with pytest.raises(InputError):
        best_of_n(b, [np.array([0.0])], [1])
    with pytest.raises(InputError):
        pass_at_n(b, [0])
    with pytest.raises(InputError):
        weighted_vote(b, [np.array([0.0, 1.0])], [1], weights="tanh")
