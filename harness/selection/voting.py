"""Majority and weighted vote over random n-subsets (seeded Monte Carlo) or over the first n responses (prefix).

One scan serves every n and every weighting at once: each of K random permutations of a problem's responses is
walked from the front, adding each response's weight to its answer class; the votes after t steps are the votes of
a uniformly random t-subset. Permutations are shared by all weightings (common random numbers: majority and
weighted vote are compared on the same subsets). At n = N every permutation gives the same votes, so it is exact;
n = 1 has a closed form and is exact too.

Ties between classes are split evenly: a subset scores the fraction of tied top classes that are correct.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from harness.core.errors import InputError
from harness.selection.arrays import Batch, chunks

WEIGHTINGS = ("sigmoid", "raw", "softmax")


def vote_weights(batch: Batch, scores: np.ndarray, how: str = "sigmoid") -> np.ndarray:
    """(P, Nmax) vote weight of each response; 0 in padding.

    raw: the score itself (class totals may be negative). sigmoid: the paper's choice for implicit PRMs, whose
    rewards are log-ratios. softmax: over all N responses of the problem, so weights sum to 1 per problem.
    A response scored -inf (no steps) casts no vote under any weighting: its weight is NaN.
    """
    valid = batch.valid
    finite = valid & np.isfinite(scores)
    s = np.where(finite, scores, 0.0)
    if how == "raw":
        w = s
    elif how == "sigmoid":
        w = 0.5 * (1.0 + np.tanh(0.5 * s))  # overflow-free sigmoid
    elif how == "softmax":
        top = np.max(np.where(finite, s, -np.inf), axis=1, keepdims=True)
        e = np.where(finite, np.exp(s - np.where(np.isfinite(top), top, 0.0)), 0.0)
        w = e / np.maximum(e.sum(axis=1, keepdims=True), np.finfo(float).tiny)
    else:
        raise InputError(f"unknown vote weighting '{how}'", field="weights", expected="one of " + ", ".join(WEIGHTINGS))
    return np.where(finite, w, np.nan)


def _exact_sums(w: np.ndarray) -> np.ndarray:
    """Round weights onto a power-of-two grid fine enough that every partial sum is exact in float64.

    Then class totals do not depend on the order responses were added, so ties are detected exactly and the
    n = N result is the same for every permutation (the quantum is ~1e-13 of the largest total: invisible).
    """
    total = np.abs(w).sum(axis=-1).max(initial=0.0)
    if total == 0.0 or not np.isfinite(total):
        return w
    k = 51 - int(np.ceil(np.log2(total)))
    return np.ldexp(np.round(np.ldexp(w, k)), -k)


def group_correctness(batch: Batch) -> np.ndarray:
    """(P, G+1) fraction of correct responses in each answer class; column G is the no-answer class (never wins).

    Classes come from a canonical answer key, so they are normally all-correct or all-wrong; if a grader
    disagreed within a class, picking the class is correct with that fraction.
    """
    G = batch.n_groups
    P = batch.n_problems
    g = np.where(batch.group < 0, G, batch.group)
    rows = np.repeat(np.arange(P), batch.width)
    num = np.zeros((P, G + 1))
    den = np.zeros((P, G + 1))
    np.add.at(num, (rows, g.ravel()), batch.correct.ravel())
    np.add.at(den, (rows, g.ravel()), batch.valid.ravel().astype(float))
    out = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    out[:, G] = 0.0
    return out


def vote(batch: Batch, weight_sets: Sequence[np.ndarray], ns: Sequence[int], *, subsets: str = "random",
         mc_samples: int = 256, seed: int | np.random.SeedSequence = 0) -> list[np.ndarray]:
    """Per weighting, a (P, L) matrix of expected vote accuracy (majority vote = all weights 1).

    subsets="random": K = mc_samples random permutations per problem; "prefix": the first n responses.
    """
    if subsets not in ("random", "prefix"):
        raise InputError(f"unknown subset estimator '{subsets}'", field="subsets", expected="random or prefix")
    if mc_samples < 1:
        raise InputError("need at least one Monte Carlo sample", field="mc-samples", expected="an integer >= 1")
    S = len(weight_sets)
    n_eff = batch.effective_n(ns)
    out = [np.zeros(n_eff.shape) for _ in range(S)]
    if S == 0:
        return out
    G = batch.n_groups
    has_answer = batch.group >= 0
    W = np.stack([np.asarray(w, dtype=np.float64) for w in weight_sets])   # (S, P, Nmax)
    if W.shape[1:] != batch.correct.shape or np.isinf(W).any():
        raise InputError("vote weights must be finite (NaN = casts no vote), one per response", field="weights")
    voter = has_answer[None] & ~np.isnan(W)                        # responses that put their class in contention
    W = np.stack([_exact_sums(w) for w in np.where(voter, W, 0.0)])
    # Negative weights can pull the leader down, and a zero-weight vote can tie without raising a total: both need
    # the full per-class comparison instead of the incremental leader.
    general = ((W < 0) | (voter & (W == 0))).any(axis=(1, 2))
    gc = group_correctness(batch)
    rng = np.random.default_rng(seed)
    # Problems with equal N share a scan (ragged pools are bucketed by N); chunk to bound memory.
    for N in np.unique(batch.sizes):
        idx = np.flatnonzero(batch.sizes == N)
        K = 1 if subsets == "prefix" or (n_eff[idx] == N).all() else mc_samples
        if K == 1:  # the first n responses (prefix), or n = N everywhere (one subset is exact)
            orders = np.arange(N)[None, :]
            relabel = np.broadcast_to(np.arange(N), (len(idx), N))
        else:
            # Row k of problem i visits responses relabel[i][orders[k]]: K orders shared by the bucket, composed with
            # an independent random relabelling per problem. For each problem its K orders are still independent
            # uniform permutations, and given the shared orders the problems' estimates are independent and
            # unbiased, hence uncorrelated; it costs K + P shuffles instead of K * P.
            orders = rng.permuted(np.broadcast_to(np.arange(N), (K, N)), axis=1)
            relabel = rng.permuted(np.broadcast_to(np.arange(N), (len(idx), N)), axis=1)
        for sl in chunks(len(idx), K * (G + 1) * 2 * S + K * N * (2 * S + 4), budget=1 << 23):
            res = _scan(batch, gc, W, voter, general, idx[sl], relabel[sl], orders, n_eff[idx[sl]], G)
            for s in range(S):
                out[s][idx[sl]] = res[s]
    if subsets == "random" and (n_eff == 1).any():
        # n = 1 needs no sampling: the single response's class wins if it votes at all.
        cls = np.where(has_answer, batch.group, G)
        gcr = np.take_along_axis(gc, cls, axis=1)
        one = n_eff == 1
        for s in range(S):
            exact1 = (voter[s] * gcr).sum(axis=1) / batch.sizes
            out[s][one] = np.broadcast_to(exact1[:, None], one.shape)[one]
    return out


def _scan(batch, gc, W, voter, general, sub, relabel, orders, n_eff, G):
    S = W.shape[0]
    p, N = relabel.shape
    K = orders.shape[0]
    snaps: dict[int, list[int]] = {}
    for j, t in enumerate(n_eff[0]):                               # all problems of a chunk share N, so n_eff
        snaps.setdefault(int(t), []).append(j)
    # The scan stops at the largest n asked for: the first n steps of an order are a uniform n-subset whatever
    # comes after, so a pool of 1,024 responses selected at n <= 64 costs what a pool of 64 does.
    N = max(snaps)
    orders = orders[:, :N]
    R = p * K                                                      # row r = q * K + k: problem q, order k
    width = batch.width
    # Flat index of the response taken at each step of each row, step-major so that every step reads contiguous
    # memory (1-D np.take is several times faster than 2-D fancy indexing).
    start = (np.arange(p) * width)[:, None]
    pos = orders.T[:, None, :] + (np.arange(p) * relabel.shape[1])[None, :, None]  # (N, p, K) into relabel
    flat = np.take((relabel + start).ravel().astype(np.intp), pos.reshape(N, R))   # (N, R)
    size = R * (G + 1)
    row_base = (np.arange(R) * (G + 1))[None, :]
    cls = np.where(batch.group[sub] < 0, G, batch.group[sub])                    # (p, Nmax), G = no answer
    w = np.empty((N, S, R))
    cells = np.empty((N, S, R), dtype=np.intp)
    for s in range(S):
        w[:, s] = np.take(W[s, sub].ravel(), flat)
        # A response that casts no vote goes to its row's spare cell G, which holds -1 and never reaches the
        # leader total M >= 0: no extra "is this a vote" test per step.
        target = (np.where(voter[s, sub], cls, G) + s * size).ravel()
        np.add(np.take(target, flat), row_base, out=cells[:, s])
    ct_all = np.take(np.take_along_axis(gc[sub], cls, axis=1).ravel(), flat)   # (N, R) correctness of the class
    prob = np.repeat(np.arange(p), K)
    V = np.zeros(S * size)
    V.reshape(S, R, G + 1)[:, :, G] = -1.0
    # Incremental leader for non-negative weights: a class's total only grows, so the top total M, the number of
    # classes tied at M (T) and the correct ones among them (C) update in O(1) per response:
    #   v > M: T, C = 1, c     v == M: T, C += 1, c     v < M: unchanged      (c = correctness of v's class)
    # written as arithmetic on masks (T = T * [v <= M] + [v >= M]) because masked writes are several times slower.
    M = np.zeros((S, R))
    T = np.zeros((S, R))
    C = np.zeros((S, R))
    tmp = np.empty((S, R))
    gen = np.flatnonzero(general)
    seen = np.zeros(S * size if len(gen) else 0, dtype=bool)      # classes in contention, for negative weights
    gc_rows = gc[sub][prob][:, :G]                                 # (R, G)
    res = np.zeros((S, p, n_eff.shape[1]))
    for t in range(1, N + 1):
        idx = cells[t - 1]
        v = V[idx]
        v += w[t - 1]
        V[idx] = v
        keep = v <= M
        lead = v >= M
        np.maximum(M, v, out=M)
        T *= keep
        T += lead
        C *= keep
        np.multiply(lead, ct_all[t - 1], out=tmp)
        C += tmp
        if len(gen):
            seen[idx[gen]] = True
        if t not in snaps:
            continue
        acc = C / np.maximum(T, 1.0)
        for s in gen:
            part = slice(s * size, (s + 1) * size)
            acc[s] = _full_leader(V[part], seen[part], gc_rows, R, G)
        res[:, :, snaps[t]] = acc.reshape(S, p, K).mean(axis=2)[:, :, None]
    return res


def _full_leader(V, seen, gc_rows, R, G):
    """Tie-split accuracy from all class totals: needed when negative weights can pull the leader down."""
    V = V.reshape(R, G + 1)[:, :G]
    seen = seen.reshape(R, G + 1)[:, :G]
    masked = np.where(seen, V, -np.inf)
    top = masked.max(axis=1, keepdims=True)
    tied = seen & (masked == top)
    T = tied.sum(axis=1)
    return np.where(T > 0, (tied * gc_rows).sum(axis=1) / np.maximum(T, 1), 0.0)
