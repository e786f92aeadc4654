"""Does a reward model separate correct from incorrect responses at all? ROC AUC with a bootstrap CI.

Two views: the pooled AUC over all responses, and the within-problem AUC (the mean over problems that have both
correct and incorrect responses). Best-of-N only ever compares responses to the same problem, so the within-problem
figure is the one that predicts selection; the pooled one also rewards knowing which problems are easy.
The bootstrap resamples problems (responses of one problem are not independent), like the selection CIs.
"""

from __future__ import annotations

import numpy as np


def roc_auc(scores, labels) -> float | None:
    """P(score of a random correct > score of a random incorrect), ties counting half (Mann-Whitney U); None
    without both classes."""
    from scipy.stats import rankdata  # lazy: scipy costs ~0.1 s; few commands need it
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=bool)
    pos = labels.sum()
    neg = len(labels) - pos
    if pos == 0 or neg == 0:
        return None
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - pos * (pos + 1) / 2) / (pos * neg))


def _ci(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    lo, hi = np.percentile(values, [2.5, 97.5])
    return float(lo), float(hi)


def roc_auc_ci(scores_per_problem, labels_per_problem, n_boot: int = 200, seed: int = 0) -> dict:
    scores = [np.nan_to_num(np.asarray(s, dtype=np.float64), neginf=-1e300, posinf=1e300)
              for s in scores_per_problem]
    labels = [np.asarray(lab, dtype=bool) for lab in labels_per_problem]
    flat_s, flat_l = np.concatenate(scores), np.concatenate(labels)
    per_problem = np.array([a if (a := roc_auc(s, lab)) is not None else np.nan for s, lab in zip(scores, labels)])
    mixed = ~np.isnan(per_problem)
    out = {"auc": roc_auc(flat_s, flat_l), "ci_low": None, "ci_high": None, "responses": int(len(flat_l)),
           "correct": int(flat_l.sum()),
           "within_auc": float(per_problem[mixed].mean()) if mixed.any() else None,
           "within_ci_low": None, "within_ci_high": None, "mixed_problems": int(mixed.sum())}
    if out["auc"] is None:
        return out
    rng = np.random.default_rng(seed)
    pooled, within = [], []
    for _ in range(n_boot):
        idx = rng.integers(0, len(scores), len(scores))
        a = roc_auc(np.concatenate([scores[i] for i in idx]), np.concatenate([labels[i] for i in idx]))
        if a is not None:
            pooled.append(a)
        w = per_problem[idx]
        if (~np.isnan(w)).any():
            within.append(float(np.nanmean(w)))
    out["ci_low"], out["ci_high"] = _ci(pooled)
    out["within_ci_low"], out["within_ci_high"] = _ci(within)
    return out
