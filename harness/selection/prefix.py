"""The paper's estimator: the first n responses of the pool, in generation order (one subset, no averaging)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from harness.selection.arrays import Batch, chunks


def pass_at_n(batch: Batch, ns: Sequence[int]) -> np.ndarray:
    n_eff = batch.effective_n(ns)
    # Position of the first correct response; pass@n holds iff it lies within the first n.
    has = batch.correct > 0
    first = np.where(has.any(axis=1), has.argmax(axis=1), np.iinfo(np.int64).max)
    return (first[:, None] < n_eff).astype(np.float64)


def top_of_first_n(batch: Batch, scores: np.ndarray, ns: Sequence[int]):
    """For each chunk of problems: (slice, tied) where tied[p, L, j] marks the responses among problem p's first n_L
    that reach the top score. Both first-n best-of-N rules (ties split here, first wins in harness.selection.paper)
    read it."""
    n_eff = batch.effective_n(ns)
    pos = np.arange(batch.width)
    for sl in chunks(batch.n_problems, batch.width * n_eff.shape[1]):
        inside = pos[None, None, :] < n_eff[sl, :, None]             # (p, L, Nmax)
        s = scores[sl, None, :]
        top = np.max(np.where(inside, s, -np.inf), axis=2, keepdims=True)
        yield sl, inside & (s == top)


def best_of_n(batch: Batch, scores: np.ndarray, ns: Sequence[int]) -> np.ndarray:
    """Correctness of the top-scored of the first n responses; ties split evenly among the tied ones."""
    out = np.empty((batch.n_problems, len(ns)))
    for sl, tied in top_of_first_n(batch, scores, ns):
        out[sl] = (tied * batch.correct[sl, None, :]).sum(axis=2) / tied.sum(axis=2)
    return out
