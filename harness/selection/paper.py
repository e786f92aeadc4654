"""The ImplicitPRM authors' selection (PRIME-RL/ImplicitPRM eval/bon_eval.py `compute_metrics`, with
prm_eval_utils.py `split_query` and `best_of_n`): `--protocol paper`.

What it does differently from the harness's own estimators (harness.selection.exact / voting):
  * subsets: the first n responses of each problem (`split_query` sorts by a log-prob that is 0 for every response,
    a stable sort, so generation order);
  * best-of-N: the first of the top-scored responses (a stable sort by reward, descending); ties are not split;
  * votes: every answer class of the first n responses, responses without an answer forming one more class (None),
    which can win; weighted vote adds sigmoid(reward) (implicit PRMs) or the reward (others), each rounded to float32
    as their torch.tensor(reward) is, in response order; majority vote counts (Counter.most_common(1));
  * ties between classes: the class that appears first (majority: Counter's insertion order; weighted: their dict
    follows set() iteration order, which hashes strings per process, so first appearance stands in for it);
  * a vote is right when its class is: the correctness of that class's first response (a None class is wrong).
Each returns per-problem accuracy (P, L) for L values of n, as harness.selection.methods does.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from harness.core.errors import InputError
from harness.selection.arrays import Batch, chunks
from harness.selection.prefix import top_of_first_n


def best_of_n(batch: Batch, scores: np.ndarray, ns: Sequence[int]) -> np.ndarray:
    """Correctness of the first top-scored response among the first n."""
    out = np.empty((batch.n_problems, len(ns)))
    for sl, tied in top_of_first_n(batch, scores, ns):
        first = np.argmax(tied, axis=2)                                     # first index reaching the top
        out[sl] = np.take_along_axis(batch.correct[sl], first, axis=1)
    return out


def vote_weights(scores: np.ndarray, how: str) -> np.ndarray:
    """float32 weights as their torch.tensor(reward) gives: sigmoid (implicit PRMs) or raw."""
    s = np.asarray(scores, dtype=np.float32)
    if how == "sigmoid":
        with np.errstate(over="ignore"):
            return (np.float32(1) / (np.float32(1) + np.exp(-s))).astype(np.float64)
    if how == "raw":
        return s.astype(np.float64)
    raise InputError(f"the paper protocol has no '{how}' vote weighting", field="weights",
                     expected="sigmoid (implicit PRMs, as bon_eval.py) or raw (other reward models)")


def votes(batch: Batch, weight_sets: Sequence[np.ndarray | None], ns: Sequence[int]) -> list[np.ndarray]:
    """Per entry of weight_sets, (P, L) vote accuracy over the first n; None is a majority vote (weights 1)."""
    n_eff = batch.effective_n(ns)
    G = batch.n_groups
    cls = np.where(batch.group < 0, G, batch.group)                         # G: the None class
    onehot = (cls[:, :, None] == np.arange(G + 1)[None, None, :]) & batch.valid[:, :, None]   # (P, Nmax, G+1)
    # First position of each class; a class's first response decides whether picking it is right.
    first = np.where(onehot.any(axis=1), np.argmax(onehot, axis=1), batch.width)             # (P, G+1)
    right = np.take_along_axis(batch.correct, np.minimum(first, batch.width - 1), axis=1)
    right[:, G] = 0.0
    out = []
    for w in weight_sets:
        w = np.ones(batch.correct.shape) if w is None else np.where(batch.valid, w, 0.0)
        acc = np.empty(n_eff.shape)
        for sl in chunks(batch.n_problems, batch.width * (G + 1)):
            # Totals after each response, added in response order (their += loop; cumsum adds in the same order).
            totals = np.cumsum(onehot[sl] * w[sl, :, None], axis=1)                 # (p, Nmax, G+1)
            for j in range(n_eff.shape[1]):
                n = n_eff[sl, j]
                t = np.take_along_axis(totals, (n - 1)[:, None, None], axis=1)[:, 0]  # (p, G+1)
                present = first[sl] < n[:, None]
                t = np.where(present, t, -np.inf)
                top = t.max(axis=1, keepdims=True)
                # Among the classes at the top, the one that appears first.
                pick = np.argmin(np.where(t == top, first[sl], batch.width + 1), axis=1)
                acc[sl, j] = np.take_along_axis(right[sl], pick[:, None], axis=1)[:, 0]
        out.append(acc)
    return out
