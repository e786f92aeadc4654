"""Does a reward model separate correct from incorrect responses at all? ROC AUC with a bootstrap CI.

The bootstrap resamples problems (responses of one problem are not independent), like the selection CIs.
"""

from __future__ import annotations

import numpy as np


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """P(score of a random correct > score of a random incorrect), ties counting half (Mann-Whitney U)."""
    from scipy.stats import rankdata
    pos = labels.sum()
    neg = len(labels) - pos
    if pos == 0 or neg == 0:
        return None
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - pos * (pos + 1) / 2) / (pos * neg))


def roc_auc_ci(scores_per_problem, labels_per_problem, n_boot: int = 200, seed: int = 0) -> dict:
    scores = [np.nan_to_num(np.asarray(s, dtype=np.float64), neginf=-1e300, posinf=1e300)
              for s in scores_per_problem]
    labels = [np.asarray(l, dtype=bool) for l in labels_per_problem]
    flat_s, flat_l = np.concatenate(scores), np.concatenate(labels)
    auc = roc_auc(flat_s, flat_l)
    out = {"auc": auc, "ci_low": None, "ci_high": None, "responses": int(len(flat_l)),
           "correct": int(flat_l.sum())}
    if auc is None:
        return out
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(scores), len(scores))
        a = roc_auc(np.concatenate([scores[i] for i in idx]), np.concatenate([labels[i] for i in idx]))
        if a is not None:
            boots.append(a)
    if boots:
        out["ci_low"], out["ci_high"] = (float(x) for x in np.percentile(boots, [2.5, 97.5]))
    return out
