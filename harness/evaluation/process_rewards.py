"""Process rewards measured as process rewards: does a reward model's step score find the first wrong step?

For pools that record the first wrong step of every wrong response (the arith world: `extra.error_step`, 1-based,
null for correct responses, from tasks/arith/grammar.first_error_step over harness.core.steps' steps). Per pool and
per step score ("view"):

- ProcessBench's protocol (harness.evaluation.step_eval): a response's predicted first wrong step is the first step
  scoring below a threshold (none: the response is predicted correct). The threshold maximises F1 on the validation
  rollouts and is applied unchanged to the test pools. F1 is the harmonic mean of the accuracy on wrong responses
  (exactly the first wrong step) and on correct ones (no step flagged).
- localisation: among wrong responses, the share whose lowest-scoring step (the first of equals) is the first wrong
  step. No threshold.
- step AUC: P(a correct step before a first wrong step scores above that first wrong step), pooled over the pool's
  wrong responses (ties count half; harness.evaluation.auc.roc_auc). No threshold.

Views: "step reward", the scores as scored; for implicit PRMs also "q_t", the accumulated reward q_t = r_1 + ... + r_t
(beta log pi/pi_ref of the prefix), the score ProcessBench-style evaluations of implicit PRMs threshold.

Alignment of scored and labelled steps: scored step k (0-based) is labelled step k + 1 (both cut from the start of the
text by the same splitter). A wrong response whose first wrong step has no scored step of its own is left out of the
figures and counted as `unlocatable`: error_step null (every step right, only the final answer line wrong; that line
shares the last step's span) or beyond its scored steps (it stops before the last operation, or a scorer truncated
it). Text after the last step joins that step's span, so only the labelled index matters; correct responses count
whatever their number of scores.

An outcome reward model (one score per response where the pool's responses have several steps: orm, hf_orm, random,
text_hash) has no process reward: it gets that sentence, not a number that means something else.

Intervals: percentile bootstrap over problems (a problem's responses are not independent), the threshold fixed.
"""

from __future__ import annotations

import math
from itertools import accumulate
from dataclasses import dataclass

import numpy as np
from tabulate import tabulate

from harness.core.cache import stable_hash
from harness.core.steps import step_spans
from harness.evaluation import step_eval
from harness.evaluation.auc import roc_auc
from harness.selection.bootstrap import resample_counts

UNLOCATABLE = -2
STEP, ACCUMULATED = "step reward", "q_t"
NO_PROCESS = "no process reward (one score per response: an outcome reward model)"
NO_LABELS = "no step labels (the pools record no first wrong step)"


@dataclass
class Flat:
    """One pool's responses in pool order: padded step scores (+inf past the end), labels, problem of each."""
    scores: np.ndarray    # (R, longest)
    labels: np.ndarray    # (R,): -1 correct, k first wrong step (0-based), UNLOCATABLE
    problem: np.ndarray   # (R,) problem index
    n_problems: int
    ids_hash: str         # the pool's problem ids, so paired comparisons can check they pair the same problems


def labelled(pool) -> bool:
    return any("error_step" in r.extra for p in pool.problems for r in p.responses if not r.correct)


def outcome_only(pool, step_scores) -> bool:
    """One score per response although some response has several steps."""
    if any(len(s) > 1 for prob in step_scores for s in prob):
        return False
    return any(len(step_spans(r.text)) > 1 for p in pool.problems for r in p.responses)


def label_of(response, n_scored: int) -> int:
    if response.correct:
        return -1
    e = response.extra.get("error_step")
    return e - 1 if isinstance(e, int) and 1 <= e <= n_scored else UNLOCATABLE


def flatten(pool, step_scores) -> Flat:
    rows = [s for prob in step_scores for s in prob]
    labels = [label_of(r, len(s)) for p, prob in zip(pool.problems, step_scores) for r, s in zip(p.responses, prob)]
    problem = [i for i, p in enumerate(pool.problems) for _ in p.responses]
    return Flat(step_eval.as_matrix(rows), np.array(labels, dtype=np.int64), np.array(problem, dtype=np.int64),
                len(pool.problems), stable_hash([p.id for p in pool.problems]))


def views(step_scores, implicit: bool, accumulated: bool = False) -> dict[str, list]:
    """{view: step scores}. An implicit PRM scored with reward=accumulative stored q_t: its step reward is the
    difference of consecutive q_t."""
    if not implicit:
        return {STEP: step_scores}
    if accumulated:
        other = [[[b - a for a, b in zip([0.0, *s], s)] for s in prob] for prob in step_scores]
    else:  # running sums, left to right as np.cumsum adds (itertools: ~30x faster on lists of a few steps)
        other = [[list(accumulate(s)) for s in prob] for prob in step_scores]
    return {STEP: other, ACCUMULATED: step_scores} if accumulated else {STEP: step_scores, ACCUMULATED: other}


def auc_pairs(f: Flat) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(scores of correct steps before a first wrong step, their problems, first wrong steps' scores, problems)."""
    err = f.labels >= 0
    cols = np.arange(f.scores.shape[1])[None, :]
    before = (cols < f.labels[:, None]) & err[:, None]
    rows = np.nonzero(err)[0]
    pos, pos_p = f.scores[before], np.broadcast_to(f.problem[:, None], f.scores.shape)[before]
    return pos, pos_p, f.scores[rows, f.labels[rows]], f.problem[rows]


def pair_matrix(pos, pos_p, neg, neg_p, n: int, chunk: int = 4096) -> np.ndarray:
    """C[g, h] = sum over correct steps of problem g and first wrong steps of problem h of [pos > neg] + [pos = neg]/2:
    the AUC of any resample of problems (counts w) is w C w / ((w @ #pos) (w @ #neg)). From one sort of the first
    wrong steps and their running per-problem counts (no loop over problems or pairs)."""
    order = np.argsort(neg, kind="stable")
    s, grp = neg[order], neg_p[order]
    running = np.zeros((len(s) + 1, n), dtype=np.int32)  # running[k, h]: problem h's among the k lowest
    running[np.arange(1, len(s) + 1), grp] = 1
    np.cumsum(running, axis=0, out=running)
    by_problem = np.argsort(pos_p, kind="stable")
    pos, pos_p = pos[by_problem], pos_p[by_problem]
    out = np.zeros((n, n))
    for a in range(0, len(pos), chunk):
        v, g = pos[a:a + chunk], pos_p[a:a + chunk]
        below = running[np.searchsorted(s, v, "left")] + running[np.searchsorted(s, v, "right")]  # 2x(< + =/2)
        starts = np.r_[0, np.nonzero(np.diff(g))[0] + 1]
        out[g[starts]] += np.add.reduceat(below, starts, axis=0)
    return out / 2


def _ci(v: np.ndarray) -> list[float | None]:
    v = v[np.isfinite(v)]
    return [float(x) for x in np.quantile(v, [0.025, 0.975])] if len(v) else [None, None]


def _share(a, b):
    return float(a / b) if b else None


def measure(f: Flat, threshold: float, resamples: int = 1000, seed: int = 0) -> dict:
    """Every figure of one pool at one threshold, with 95% bootstrap intervals over problems."""
    pred = step_eval.predict(f.scores, threshold)
    lowest = np.argmin(np.where(np.isnan(f.scores), np.inf, f.scores), axis=1)
    err, cor = f.labels >= 0, f.labels == -1
    n = f.n_problems

    def per_problem(mask):
        return np.bincount(f.problem[mask], minlength=n).astype(np.float64)
    e_n, e_hit, c_n = per_problem(err), per_problem(err & (pred == f.labels)), per_problem(cor)
    c_hit, l_hit = per_problem(cor & (pred == -1)), per_problem(err & (lowest == f.labels))
    pos, pos_p, neg, neg_p = auc_pairs(f)
    fin = lambda x: np.nan_to_num(x, nan=0.0, neginf=-1e300, posinf=1e300)  # noqa: E731
    pos, neg = fin(pos), fin(neg)
    auc = roc_auc(np.concatenate([pos, neg]), np.r_[np.ones(len(pos), bool), np.zeros(len(neg), bool)])
    ae, ac = _share(e_hit.sum(), e_n.sum()), _share(c_hit.sum(), c_n.sum())
    out = {"threshold": threshold, "f1": step_eval.f1(ae, ac), "acc_error": ae, "acc_correct": ac,
           "localisation": _share(l_hit.sum(), e_n.sum()), "step_auc": auc,
           "n_error": int(e_n.sum()), "n_correct": int(c_n.sum()),
           "n_unlocatable": int((f.labels == UNLOCATABLE).sum()), "n_steps_before": int(len(pos)),
           "problems": n, "problems_hash": f.ids_hash,
           # per problem in pool order, for paired comparisons (harness.paper.claims): "located/wrong" counts, one
           # string (a run file stays readable; a list would take a line a problem)
           "located_per_problem": " ".join(f"{int(h)}/{int(d)}" for h, d in zip(l_hit, e_n))}
    w = resample_counts(n, resamples, seed).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        be, bc = (w @ e_hit) / (w @ e_n), (w @ c_hit) / (w @ c_n)
        bf = np.where(be + bc > 0, 2 * be * bc / (be + bc), 0.0)
        bl = (w @ l_hit) / (w @ e_n)
        if auc is not None:
            pairs = pair_matrix(pos, pos_p, neg, neg_p, n)
            ba = ((w @ pairs) * w).sum(1) / ((w @ np.bincount(pos_p, minlength=n)) * (w @ np.bincount(neg_p,
                                                                                                      minlength=n)))
        else:
            ba = np.array([])
    for name, v in (("acc_error", be), ("acc_correct", bc), ("f1", bf), ("localisation", bl), ("step_auc", ba)):
        out[f"{name}_ci"] = _ci(v)
    return out


def evaluate(val, tests: dict, *, implicit: bool = False, accumulated: bool = False, resamples: int = 1000,
             seed: int = 0) -> dict:
    """val: (name, pool, step scores) the threshold is tuned on, or None (then on the first test pool, in-sample);
    tests: {name: (pool, step scores)}. Returns {"status": "measured" | NO_PROCESS | NO_LABELS, ...}."""
    pools = [p for p, _ in tests.values()]
    if not all(labelled(p) for p in pools):
        return {"status": NO_LABELS}
    if any(outcome_only(p, s) for p, s in tests.values()):
        return {"status": NO_PROCESS}
    if val is None:
        first = next(iter(tests))
        val = (first, *tests[first])
    tune_name, tune_pool, tune_scores = val
    out = {"status": "measured", "tuned_on": tune_name, "in_sample": tune_name in tests, "views": {}}
    tune_views = views(tune_scores, implicit, accumulated)
    test_views = {name: views(s, implicit, accumulated) for name, (_, s) in tests.items()}
    for view, scores in tune_views.items():
        tf = flatten(tune_pool, scores)
        keep = tf.labels != UNLOCATABLE
        thr = step_eval.tune(tf.labels[keep], tf.scores[keep])["threshold"]
        out["views"][view] = {
            "threshold": thr,
            "tuning": {k: v for k, v in measure(tf, thr, resamples, seed).items() if k != "located_per_problem"},
            "pools": {name: measure(flatten(tests[name][0], tv[view]), thr, resamples, seed)
                      for name, tv in test_views.items()}}
    return out


def located_per_problem(record: dict) -> tuple[np.ndarray, np.ndarray]:
    """(located, wrong) counts per problem of one pool's record (measure's "located_per_problem")."""
    pairs = np.array([x.split("/") for x in record["located_per_problem"].split()], dtype=np.int64).reshape(-1, 2)
    return pairs[:, 0], pairs[:, 1]


def pct(x) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}"


def _ci_text(r: dict, key: str, scale: float = 100.0, digits: int = 1) -> str:
    lo, hi = r.get(f"{key}_ci") or (None, None)
    return "-" if lo is None else f"[{scale * lo:.{digits}f}, {scale * hi:.{digits}f}]"


def _pct_ci(r: dict, key: str) -> str:
    """A percentage and its interval; "-" alone when the figure is undefined (e.g. F1 of a pool with no correct
    response), whose resamples have no interval either."""
    return "-" if pct(r[key]) == "-" else f"{pct(r[key])} {_ci_text(r, key)}"


def render(process: dict | None, fmt: str = "table") -> str:
    """The step-level table of a run (after its selection tables), or the sentence saying why there is none."""
    if not process:
        return ""
    title = "Process rewards: the first wrong step"
    if process["status"] != "measured":
        return f"{'### ' if fmt == 'markdown' else ''}{title}\n\n{process['status']}.\n"
    rows = []
    for view, v in process["views"].items():
        for name, r in [(f"{process['tuned_on']} (tuning)", v["tuning"]), *v["pools"].items()]:
            auc = "-" if r["step_auc"] is None else f"{r['step_auc']:.3f} {_ci_text(r, 'step_auc', 1, 3)}"
            rows.append([name, view, f"{v['threshold']:.4g}", _pct_ci(r, "f1"),
                         pct(r["acc_error"]), pct(r["acc_correct"]), _pct_ci(r, "localisation"), auc,
                         f"{r['n_error']} / {r['n_correct']} / {r['n_unlocatable']}"])
    head = ["pool", "score thresholded", "threshold", "F1 % [95% CI]", "acc wrong % (exact 1st wrong step)",
            "acc correct % (none flagged)", "localisation % [95% CI]", "step AUC [95% CI]",
            "wrong / correct / unlocatable"]
    notes = (f"Threshold chosen on {process['tuned_on']} (max F1) and applied unchanged to the test pools"
             + (" (no validation pool: the tuning pool's own row is in-sample)" if process.get("in_sample") else "")
             + "; a response's predicted first wrong step is its first step below it. Localisation: wrong responses "
             "whose lowest step is the first wrong step; step AUC: correct steps before the first wrong step against "
             "it. Unlocatable: wrong responses whose first wrong step has no scored step (left out). 95% CIs: "
             "bootstrap over problems (harness.evaluation.process_rewards).")
    table = tabulate(rows, head, tablefmt="github" if fmt == "markdown" else "simple")
    return f"{'### ' if fmt == 'markdown' else ''}{title}\n\n{table}\n\n{notes}\n"
