"""The four selection methods on problem-level arrays, each returning per-problem accuracy (P, L) for L values of n.

Estimators: "random" (default) is the expectation over uniformly random n-subsets: exact for pass@n and best-of-n,
seeded Monte Carlo for the votes (exact at n = N). "prefix" uses the first n responses, as the paper's code does.
n above a problem's N is clipped to N (Batch.clipped reports where).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from harness.core.errors import InputError
from harness.selection import exact, prefix, voting
from harness.selection.arrays import Batch, check_scores

METHODS = ("best_of_n", "weighted_vote", "majority_vote", "pass_at_n")
USES_RM = frozenset({"best_of_n", "weighted_vote"})
ESTIMATORS = ("random", "prefix")


def _ns(ns: Sequence[int]) -> list[int]:
    ns = [int(n) for n in ns]
    if not ns or min(ns) < 1:
        raise InputError(f"invalid subset sizes {ns}", field="n", expected="integers >= 1")
    return ns


def _estimator(subsets: str) -> str:
    if subsets not in ESTIMATORS:
        raise InputError(f"unknown subset estimator '{subsets}'", field="subsets", expected="random or prefix")
    return subsets


def as_scores(batch: Batch, scores, name: str = "scores") -> np.ndarray:
    """Padded (P, Nmax) scores from a ragged list (as ScoreSet.aggregate returns) or an already padded array."""
    if isinstance(scores, np.ndarray) and scores.shape == batch.correct.shape:
        out = np.where(batch.valid, scores.astype(np.float64), 0.0)
    else:
        out = batch.pad(scores, name)
    check_scores(out, batch, name)
    return out


def pass_at_n(batch: Batch, ns: Sequence[int], subsets: str = "random") -> np.ndarray:
    mod = exact if _estimator(subsets) == "random" else prefix
    return mod.pass_at_n(batch, _ns(ns))


def best_of_n(batch: Batch, scores, ns: Sequence[int], subsets: str = "random") -> np.ndarray:
    mod = exact if _estimator(subsets) == "random" else prefix
    return mod.best_of_n(batch, as_scores(batch, scores), _ns(ns))


def majority_vote(batch: Batch, ns: Sequence[int], subsets: str = "random", mc_samples: int = 256,
                  seed=0) -> np.ndarray:
    return votes(batch, [None], ns, subsets=subsets, mc_samples=mc_samples, seed=seed)[0]


def weighted_vote(batch: Batch, scores, ns: Sequence[int], weights: str = "sigmoid", subsets: str = "random",
                  mc_samples: int = 256, seed=0) -> np.ndarray:
    return votes(batch, [scores], ns, weights=weights, subsets=subsets, mc_samples=mc_samples, seed=seed)[0]


def votes(batch: Batch, score_list: Sequence, ns: Sequence[int], weights: str = "sigmoid", subsets: str = "random",
          mc_samples: int = 256, seed=0) -> list[np.ndarray]:
    """Several votes on the same random subsets: None in score_list is a majority vote, scores a weighted one."""
    ws = [np.where(batch.valid, 1.0, np.nan) if s is None else voting.vote_weights(batch, as_scores(batch, s), weights)
          for s in score_list]
    return voting.vote(batch, ws, _ns(ns), subsets=_estimator(subsets), mc_samples=int(mc_samples), seed=seed)
