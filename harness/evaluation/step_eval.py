"""Step-level evaluation, the ProcessBench protocol (Zheng et al. 2024): does a PRM find the earliest wrong step?

For one sample, the predicted earliest error is the first step whose score is below a threshold (-1 when none is).
Accuracy on erroneous samples = exact match of that index with the human label; accuracy on correct samples = the
fraction predicted -1; F1 = their harmonic mean. The threshold is chosen on one split (the authors tune on GSM8K) by
maximising F1 over a grid of that split's step-score quantiles, then applied unchanged to every split. Confidence
intervals: a bootstrap over samples (erroneous and correct resampled together), the threshold held fixed.
Nothing here loads a model.
"""

from __future__ import annotations

import json
import math
from typing import Sequence

import numpy as np
from tabulate import tabulate

GRID = 201  # quantile levels for the threshold search


def first_below(steps: Sequence[float], threshold: float) -> int:
    for i, s in enumerate(steps):
        if s < threshold:
            return i
    return -1


def f1(acc_error: float | None, acc_correct: float | None) -> float | None:
    if acc_error is None or acc_correct is None:
        return None
    return 0.0 if acc_error + acc_correct == 0 else 2 * acc_error * acc_correct / (acc_error + acc_correct)


def as_matrix(scores) -> np.ndarray:
    """(samples, longest) step scores, +inf past each sample's last step (never below a threshold), so that the
    prediction of every sample at one threshold is one comparison. A matrix is returned as it is."""
    if isinstance(scores, np.ndarray):
        return scores
    m = np.full((len(scores), max([1] + [len(s) for s in scores])), np.inf)
    for i, s in enumerate(scores):
        m[i, :len(s)] = s
    return m


def predict(scores, threshold: float) -> np.ndarray:
    """first_below of every sample at once (-1: no step below the threshold; NaN is never below, as there)."""
    below = as_matrix(scores) < threshold
    return np.where(below.any(axis=1), below.argmax(axis=1), -1)


def _hits(labels, scores, threshold) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels, dtype=np.int64)
    return labels, predict(scores, threshold) == labels


def evaluate(labels: Sequence[int], scores: Sequence[Sequence[float]], threshold: float) -> dict:
    """Accuracies and F1 of one split at one threshold."""
    labels, hit = _hits(labels, scores, threshold)
    err = labels >= 0
    acc_e = float(hit[err].mean()) if err.any() else None
    acc_c = float(hit[~err].mean()) if (~err).any() else None
    return {"threshold": threshold, "acc_error": acc_e, "acc_correct": acc_c, "f1": f1(acc_e, acc_c),
            "n_error": int(err.sum()), "n_correct": int((~err).sum())}


def bootstrap(labels, scores, threshold: float, resamples: int = 1000, seed: int = 0) -> dict:
    """95% intervals of the two accuracies and F1, resampling samples with the threshold fixed."""
    labels, hit = _hits(labels, scores, threshold)
    err = labels >= 0
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(labels), size=(resamples, len(labels)))
    e_n, c_n = err[idx].sum(1), (~err)[idx].sum(1)
    e_hit, c_hit = (hit & err)[idx].sum(1), (hit & ~err)[idx].sum(1)
    ok = (e_n > 0) & (c_n > 0)
    ae, ac = e_hit[ok] / e_n[ok], c_hit[ok] / c_n[ok]
    fs = np.where(ae + ac > 0, 2 * ae * ac / np.maximum(ae + ac, 1e-300), 0.0)
    out = {}
    for name, v in (("acc_error", ae), ("acc_correct", ac), ("f1", fs)):
        lo, hi = (np.quantile(v, [0.025, 0.975]) if len(v) else (math.nan, math.nan))
        out[f"{name}_ci"] = [float(lo), float(hi)]
    return out


def candidates(scores: Sequence[Sequence[float]]) -> list[float]:
    """Thresholds worth trying: quantiles of the split's step scores, and one above the largest score (flags
    every sample at step 0). The smallest score as a threshold flags nothing."""
    flat = (scores.ravel() if isinstance(scores, np.ndarray)
            else np.array([x for s in scores for x in s], dtype=np.float64))
    flat = flat[np.isfinite(flat)]  # (a matrix's +inf padding goes too)
    if not len(flat):
        return [0.0]
    qs = np.unique(np.quantile(flat, np.linspace(0, 1, GRID)))
    return [float(q) for q in qs] + [float(np.nextafter(flat.max(), math.inf))]


def tune(labels, scores) -> dict:
    """The threshold with the best F1 on this split (ties: the lowest threshold), and its evaluation."""
    best = None
    scores = as_matrix(scores)  # padded once, not once a candidate
    for t in candidates(scores):
        r = evaluate(labels, scores, t)
        if best is None or (r["f1"] or 0.0) > (best["f1"] or 0.0):
            best = r
    return best


def sigmoid_scores(scores: Sequence[Sequence[float]]) -> list[list[float]]:
    """eval/processbench.py's `sigmoid` of each step score, computed as theirs is (float64 numpy)."""
    return [[float(1.0 / (1.0 + np.exp(-x))) for x in s] for s in scores]


def tune_sigmoid(labels, scores, num_thresholds: int = 10000) -> dict:
    """ImplicitPRM eval/processbench.py `find_threshold_sigmoid` on scores already through `sigmoid_scores`: the
    first of np.linspace(0, 1, num_thresholds) with the best F1 (strictly above 0; else 0.0, which flags nothing),
    evaluated here. A sample is right on an interval of thresholds: correct ones while t <= its lowest score,
    erroneous ones (label L) while min(score_0..L) < t <= min(score_0..L-1); so every threshold is counted at once."""
    grid = np.linspace(0, 1, num_thresholds)
    labels = np.asarray(labels, dtype=np.int64)
    diff = np.zeros((2, num_thresholds + 1), dtype=np.int64)  # [correct, erroneous] hits, difference arrays
    for lab, s in zip(labels, scores):
        m = np.minimum.accumulate(np.asarray(s, dtype=np.float64))
        if lab < 0:
            lo, hi = 0, np.searchsorted(grid, m[-1], side="right")
        else:
            lo = np.searchsorted(grid, m[lab], side="right")
            hi = num_thresholds if lab == 0 else np.searchsorted(grid, m[lab - 1], side="right")
        if hi > lo:
            diff[int(lab >= 0), lo] += 1
            diff[int(lab >= 0), hi] -= 1
    n_err = int((labels >= 0).sum())
    n_cor = len(labels) - n_err
    if n_err == 0 or n_cor == 0:  # theirs skips every threshold: no threshold found
        return evaluate(labels, scores, 0.0)
    hits = np.cumsum(diff, axis=1)[:, :-1]
    acc_1, acc_2 = hits[0] / n_cor, hits[1] / n_err
    with np.errstate(invalid="ignore", divide="ignore"):
        f1s = np.where(acc_1 + acc_2 > 0, 2.0 * acc_1 * acc_2 / (acc_1 + acc_2), 0.0)
    best = int(np.argmax(f1s))
    return evaluate(labels, scores, float(grid[best]) if f1s[best] > 0 else 0.0)


def evaluate_splits(data: dict[str, tuple[list[int], list[list[float]]]], tune_on: str, resamples: int = 1000,
                    seed: int = 0, tuner=tune) -> dict:
    """{split: (labels, step scores)} -> threshold tuned on `tune_on` (by `tuner`: the harness's quantile grid, or
    tune_sigmoid for --protocol paper), applied to every split (with CIs)."""
    tuned = tuner(*data[tune_on])
    thr = tuned["threshold"]
    splits = {}
    for name, (labels, scores) in data.items():
        r = evaluate(labels, scores, thr)
        r.update(bootstrap(labels, scores, thr, resamples, seed))
        r["in_sample"] = name == tune_on  # the tuning split's own F1 is optimistic
        r["oracle_f1"] = tuner(labels, scores)["f1"]  # best threshold for this split alone: an upper bound
        splits[name] = r
    return {"threshold": thr, "tuned_on": tune_on, "splits": splits}


def render(report: dict, fmt: str = "table") -> str:
    if fmt == "json":
        return json.dumps({k: v for k, v in report.items() if k != "step_scores"}, indent=1) + "\n"

    def pct(x):
        return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}"

    rows = []
    for name, r in report["splits"].items():
        rows.append([name + (" (tuning split)" if r["in_sample"] else ""), r["n_error"], r["n_correct"],
                     pct(r["acc_error"]), pct(r["acc_correct"]), pct(r["f1"]),
                     f"[{pct(r['f1_ci'][0])}, {pct(r['f1_ci'][1])}]", pct(r["oracle_f1"])])
    head = ["split", "erroneous", "correct", "acc erroneous %", "acc correct %", "F1 %", "F1 95% CI",
            "F1 at own best threshold %"]
    title = (f"ProcessBench, {report['rm']}: earliest error = first step scoring below {report['threshold']:.6g} "
             f"(tuned on {report['tuned_on']})")
    table = tabulate(rows, head, tablefmt="github" if fmt == "markdown" else "simple")
    notes = "".join(f"\n{n}" for n in report.get("notes", []))
    return f"{'### ' if fmt == 'markdown' else ''}{title}\n\n{table}\n{notes}\n"
