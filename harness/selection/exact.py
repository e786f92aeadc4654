"""Closed forms for the expectation over uniformly random n-subsets of a problem's N responses.

Everything reduces to h(k, n) = C(N-k, n) / C(N, n): the probability that a random n-subset avoids k given
responses. It is computed from log-factorials so that N = 500 neither overflows nor loses precision.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from harness.selection.arrays import Batch


def _log_factorial(upto: int) -> np.ndarray:
    # lgamma per entry, not a cumulative sum of logs: no error accumulates along k.
    return np.array([math.lgamma(k + 1.0) for k in range(upto + 1)])


def avoid_prob(N: np.ndarray, k: np.ndarray, n: np.ndarray, lf: np.ndarray | None = None) -> np.ndarray:
    """C(N-k, n) / C(N, n) elementwise (broadcasting); 0 where N-k < n."""
    N, k, n = np.broadcast_arrays(*(np.asarray(x, dtype=np.int64) for x in (N, k, n)))
    if lf is None:
        lf = _log_factorial(int(N.max(initial=0)))
    ok = (N - k >= n) & (k >= 0)
    rest = np.where(ok, N - k, 0)
    log_h = lf[rest] - lf[np.where(ok, rest - n, 0)] - lf[N] + lf[N - np.minimum(n, N)]
    return np.where(ok, np.exp(np.where(ok, log_h, 0.0)), 0.0)


def pass_at_n(batch: Batch, ns: Sequence[int]) -> np.ndarray:
    """(P, L): 1 - C(N-c, n)/C(N, n), the chance that a random n-subset holds a correct response."""
    n_eff = batch.effective_n(ns)
    c = batch.correct.sum(axis=1).round().astype(np.int64)
    return 1.0 - avoid_prob(batch.sizes[:, None], c[:, None], n_eff)


def level_structure(scores: np.ndarray, batch: Batch):
    """Sort each problem's responses by score (descending, padding last) and find the tie levels.

    Returns (order, above, size): `order` sorts the row; at sorted position j, `above[j]` responses score strictly
    higher and `size[j]` responses share the score (its tie level).
    """
    valid = batch.valid
    # lexsort: last key is primary -> valid responses first, then by descending score.
    order = np.lexsort((-np.where(valid, scores, 0.0), ~valid), axis=1)
    s = np.take_along_axis(scores, order, axis=1)
    v = np.take_along_axis(valid, order, axis=1)
    pos = np.arange(batch.width)[None, :]
    same_prev = np.zeros_like(v)
    same_prev[:, 1:] = (s[:, 1:] == s[:, :-1]) & (v[:, 1:] == v[:, :-1])
    above = np.maximum.accumulate(np.where(same_prev, 0, pos), axis=1)
    same_next = np.zeros_like(v)
    same_next[:, :-1] = same_prev[:, 1:]
    end = np.where(same_next, batch.width, pos + 1)
    end = np.minimum.accumulate(end[:, ::-1], axis=1)[:, ::-1]
    return order, above, end - above


def best_of_n(batch: Batch, scores: np.ndarray, ns: Sequence[int]) -> np.ndarray:
    """(P, L): expected correctness of the top-scored response of a random n-subset, ties split evenly.

    For a tie level v (m_v responses, c_v correct, a_v strictly above): P(max level = v) =
    [C(N-a_v, n) - C(N-a_v-m_v, n)] / C(N, n), and the pick is correct with probability c_v / m_v. Each correct
    response j thus adds (h(a_j) - h(a_j + m_j)) / m_j with h(k) = C(N-k, n)/C(N, n). Collecting those +-1/m_j
    coefficients per k turns the sum into one (P, N+1) @ (N+1, L) product per distinct N.
    """
    order, above, size = level_structure(scores, batch)
    cor = np.take_along_axis(batch.correct, order, axis=1)
    share = cor / size                                             # (P, Nmax), 0 for wrong and padding
    n_eff = batch.effective_n(ns)
    lf = _log_factorial(batch.width)
    out = np.empty(n_eff.shape)
    for N in np.unique(batch.sizes):
        rows = np.flatnonzero(batch.sizes == N)
        p = len(rows)
        k = np.arange(N + 1)
        H = avoid_prob(N, k[:, None], n_eff[rows[0]][None, :], lf)          # (N+1, L); n_eff equal within rows
        base = (np.arange(p) * (N + 1))[:, None]
        a, m, c = above[rows, :N], size[rows, :N], share[rows, :N]
        coef = (np.bincount((base + a).ravel(), c.ravel(), minlength=p * (N + 1))
                - np.bincount((base + a + m).ravel(), c.ravel(), minlength=p * (N + 1)))
        out[rows] = coef.reshape(p, N + 1) @ H
    return out
