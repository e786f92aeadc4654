"""Ragged per-problem arrays packed into padded matrices, so every estimator works on whole problem batches.

Problems may have different numbers of responses N_i (OVM pools have 100-500). Padding positions carry
correct = 0 and group = -1 (no vote) and are excluded through `valid`; estimators clip n to each problem's N_i.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Hashable, Sequence

import numpy as np

from harness.core.errors import InputError

NO_GROUP = -1  # a response without an answer: it never receives votes


@dataclass
class Batch:
    correct: np.ndarray  # (P, Nmax) float64 in {0, 1}; 0 in padding
    group: np.ndarray    # (P, Nmax) int64 answer-class id per problem, NO_GROUP for no answer and padding
    sizes: np.ndarray    # (P,) int64 number of responses N_i
    n_groups: int        # max number of answer classes of any problem (group ids are 0..n_groups-1)

    @property
    def n_problems(self) -> int:
        return len(self.sizes)

    @property
    def width(self) -> int:
        return self.correct.shape[1]

    @property
    def valid(self) -> np.ndarray:
        return np.arange(self.width)[None, :] < self.sizes[:, None]

    def pad(self, values: Sequence[Sequence[float]], name: str = "scores") -> np.ndarray:
        """Pad one float per response into (P, Nmax); padding is 0 and must be masked by the caller."""
        if len(values) != self.n_problems:
            raise InputError(f"{name}: {len(values)} problems, expected {self.n_problems}")
        out = np.zeros((self.n_problems, self.width), dtype=np.float64)
        for i, (v, n) in enumerate(zip(values, self.sizes)):
            v = np.asarray(v, dtype=np.float64)
            if v.shape != (n,):
                raise InputError(f"{name}: problem {i} has {v.size} values for {n} responses")
            out[i, :n] = v
        return out

    def effective_n(self, ns: Sequence[int]) -> np.ndarray:
        """(P, L) subset sizes actually used: n clipped to each problem's N."""
        return np.minimum(np.asarray(ns, dtype=np.int64)[None, :], self.sizes[:, None])

    def clipped(self, ns: Sequence[int]) -> dict[int, int]:
        """For each requested n, how many problems had fewer than n responses (so n was clipped to N)."""
        return {int(n): int((self.sizes < n).sum()) for n in ns if (self.sizes < n).any()}


def group_ids(labels: Sequence[Hashable | None]) -> np.ndarray:
    """Map answer labels of one problem to 0..G-1 in order of first appearance; None -> NO_GROUP."""
    ids: dict[Hashable, int] = {}
    return np.array([NO_GROUP if lab is None else ids.setdefault(lab, len(ids)) for lab in labels], dtype=np.int64)


def pack(correct: Sequence[Sequence[bool]], group: Sequence[Sequence[int]] | None = None) -> Batch:
    """Pack ragged per-problem arrays. Without `group` no response has an answer class (fine for BoN / pass@n)."""
    P = len(correct)
    if P == 0:
        raise InputError("no problems to select from", expected="at least one problem")
    sizes = np.array([len(c) for c in correct], dtype=np.int64)
    if (sizes == 0).any():
        raise InputError(f"problem {int(np.argmin(sizes))} has no responses", expected="at least one response")
    width = int(sizes.max())
    cor = np.zeros((P, width), dtype=np.float64)
    grp = np.full((P, width), NO_GROUP, dtype=np.int64)
    for i, c in enumerate(correct):
        c = np.asarray(c, dtype=np.float64)
        cor[i, :sizes[i]] = c
        if group is None:
            continue
        g = np.asarray(group[i], dtype=np.int64)
        if g.shape != c.shape:
            raise InputError(f"problem {i}: {g.size} group ids for {c.size} responses")
        grp[i, :sizes[i]] = np.where(g < 0, NO_GROUP, g)
    n_groups = int(grp.max()) + 1 if (grp >= 0).any() else 0
    return Batch(cor, grp, sizes, n_groups)


def check_scores(scores: np.ndarray, batch: Batch, name: str = "scores") -> None:
    """Scores may be -inf (a response without steps) but not NaN or +inf: those make every ranking meaningless."""
    bad = batch.valid & (np.isnan(scores) | (scores == np.inf))
    if bad.any():
        p, j = map(int, np.argwhere(bad)[0])
        raise InputError(f"{name}: problem {p} response {j} has score {scores[p, j]}",
                         expected="finite scores (or -inf for a response without steps)")


def chunks(n_items: int, cost_per_item: int, budget: int = 1 << 22):
    """Slices over items so that a temporary of cost_per_item elements per item stays under `budget` elements."""
    step = max(1, budget // max(1, cost_per_item))
    for start in range(0, n_items, step):
        yield slice(start, min(n_items, start + step))
