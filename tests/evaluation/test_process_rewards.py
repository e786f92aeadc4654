"""Step-level evaluation of process rewards against the pools' first wrong step, checked against brute force on a
small hand-made pool: F1 and its two accuracies, localisation, step AUC, their bootstrap, and the outcome-only case."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest

from harness.core.pool import Pool, Problem, Response
from harness.evaluation import process_rewards as pr
from harness.evaluation.step_eval import first_below


def hand_pool(problems=9, responses=6, seed=0, ties=False):
    """Responses of 1-4 steps; a wrong one's first wrong step anywhere in it, or null (only the final line wrong),
    or one past its last step (it stopped early). Step scores drawn per step (from a few values with `ties`)."""
    rng = random.Random(seed)
    probs, scores = [], []
    for i in range(problems):
        resps, row = [], []
        for _ in range(responses):
            k = rng.randint(1, 4)
            text = "".join(f"Step {s}: x\n\n" for s in range(1, k + 1)) + "The answer is 1"
            correct = rng.random() < 0.4
            err = None if correct else rng.choice([None] + [s for s in range(1, k + 2)] + [s for s in range(1, k + 1)])
            resps.append(Response(text, "1", correct, {"error_step": err}))
            row.append([float(rng.choice([0.1, 0.5, 0.9])) if ties else rng.gauss(0, 1) for _ in range(k)])
        probs.append(Problem(f"p/{i}", "q", "1", resps))
        scores.append(row)
    return Pool(probs), scores


def brute(pool, scores, thr):
    """Every figure by a loop over responses and over every pair of steps."""
    e_n = e_hit = c_n = c_hit = loc = 0
    pos, neg, unloc = [], [], 0
    for p, row in zip(pool.problems, scores):
        for r, s in zip(p.responses, row):
            if r.correct:
                c_n += 1
                c_hit += first_below(s, thr) == -1
                continue
            e = r.extra["error_step"]
            if e is None or e > len(s):
                unloc += 1
                continue
            e_n += 1
            e_hit += first_below(s, thr) == e - 1
            loc += min(range(len(s)), key=lambda t: (s[t], t)) == e - 1
            pos += s[:e - 1]
            neg.append(s[e - 1])
    pairs = [1.0 if a > b else 0.5 if a == b else 0.0 for a, b in itertools.product(pos, neg)]
    ae, ac = (e_hit / e_n if e_n else None), (c_hit / c_n if c_n else None)
    return {"acc_error": ae, "acc_correct": ac,
            "f1": None if None in (ae, ac) else 2 * ae * ac / (ae + ac) if ae + ac else 0.0,
            "localisation": loc / e_n if e_n else None, "step_auc": sum(pairs) / len(pairs) if pairs else None,
            "n_error": e_n, "n_correct": c_n, "n_unlocatable": unloc}


@pytest.mark.parametrize("ties", [False, True])
def test_every_figure_matches_brute_force_at_any_threshold(ties):
    pool, scores = hand_pool(ties=ties)
    for thr in (-0.5, 0.0, 0.3, 0.5, 0.7, 2.0):
        got = pr.measure(pr.flatten(pool, scores), thr, resamples=50)
        want = brute(pool, scores, thr)
        for k, v in want.items():
            assert got[k] == pytest.approx(v), (k, thr)
        assert got["n_unlocatable"] > 0 and got["n_error"] > 0  # the hand pool has both kinds


def test_bootstrap_auc_of_a_resample_is_that_of_the_resampled_pool():
    """The pair-matrix shortcut (w C w / (w.#pos)(w.#neg)) against building the resampled pool and counting pairs."""
    pool, scores = hand_pool(problems=7, ties=True, seed=3)
    f = pr.flatten(pool, scores)
    pos, pos_p, neg, neg_p = pr.auc_pairs(f)
    c = pr.pair_matrix(pos, pos_p, neg, neg_p, f.n_problems)
    assert np.array_equal(c, pr.pair_matrix(pos, pos_p, neg, neg_p, f.n_problems, chunk=5))  # chunks split problems
    rng = np.random.default_rng(1)
    for _ in range(5):
        w = rng.integers(0, 3, f.n_problems).astype(float)
        if not w.any():
            continue
        draw = [i for i, k in enumerate(w) for _ in range(int(k))]
        resampled = Pool([pool.problems[i] for i in draw])
        want = brute(resampled, [scores[i] for i in draw], 0.0)["step_auc"]
        got = (w @ c @ w) / ((w @ np.bincount(pos_p, minlength=f.n_problems)) *
                             (w @ np.bincount(neg_p, minlength=f.n_problems)))
        assert got == pytest.approx(want)


def test_intervals_hold_the_estimate_and_per_problem_localisation_averages_back():
    pool, scores = hand_pool(problems=30, seed=5)
    r = pr.measure(pr.flatten(pool, scores), 0.0, resamples=400)
    for k in ("f1", "acc_error", "acc_correct", "localisation", "step_auc"):
        lo, hi = r[f"{k}_ci"]
        assert lo <= r[k] <= hi and lo < hi, k
    located, wrong = pr.located_per_problem(r)
    assert located.sum() / wrong.sum() == pytest.approx(r["localisation"])
    for p, s, k, n in zip(pool.problems, scores, located, wrong):
        b = brute(Pool([p]), [s], 0.0)
        assert n == b["n_error"] and (n == 0 or k / n == pytest.approx(b["localisation"]))


def test_threshold_is_tuned_on_validation_and_applied_unchanged_to_each_test_pool():
    val, val_s = hand_pool(seed=1)
    test, test_s = hand_pool(seed=2)
    out = pr.evaluate(("val", val, val_s), {"mid": (test, test_s)}, resamples=20)
    v = out["views"][pr.STEP]
    assert out["status"] == "measured" and set(out["views"]) == {pr.STEP} and not out["in_sample"]
    best = max(sorted({x for row in val_s for s in row for x in s}) + [1e9],
               key=lambda t: (brute(val, val_s, t)["f1"], -t))
    assert brute(val, val_s, v["threshold"])["f1"] == pytest.approx(brute(val, val_s, best)["f1"])
    assert v["pools"]["mid"]["f1"] == pytest.approx(brute(test, test_s, v["threshold"])["f1"])
    assert v["tuning"]["f1"] == pytest.approx(brute(val, val_s, v["threshold"])["f1"])
    text = pr.render(out)
    assert "val (tuning)" in text and "mid" in text and "step reward" in text


def test_implicit_prms_are_also_measured_on_the_accumulated_q_t():
    pool, scores = hand_pool(seed=4)
    q = [[np.cumsum(s).tolist() for s in row] for row in scores]
    out = pr.evaluate(None, {"mid": (pool, scores)}, implicit=True, resamples=20)
    assert set(out["views"]) == {pr.STEP, pr.ACCUMULATED} and out["in_sample"]
    thr = out["views"][pr.ACCUMULATED]["threshold"]
    assert out["views"][pr.ACCUMULATED]["pools"]["mid"]["f1"] == pytest.approx(brute(pool, q, thr)["f1"])
    # a scorer that stored q_t (reward=accumulative) gives the same two views
    again = pr.evaluate(None, {"mid": (pool, q)}, implicit=True, accumulated=True, resamples=20)
    for view in (pr.STEP, pr.ACCUMULATED):
        assert again["views"][view]["pools"]["mid"]["localisation"] == \
            pytest.approx(out["views"][view]["pools"]["mid"]["localisation"])


def test_outcome_only_and_unlabelled_pools_get_a_sentence_not_a_number():
    pool, scores = hand_pool()
    one = [[[sum(s)] for s in row] for row in scores]
    out = pr.evaluate(("val", pool, one), {"mid": (pool, one)})
    assert out == {"status": pr.NO_PROCESS}
    assert "no process reward" in pr.render(out, "markdown") and "%" not in pr.render(out)
    for p in pool.problems:
        for r in p.responses:
            r.extra.pop("error_step")
    assert pr.evaluate(None, {"mid": (pool, scores)}) == {"status": pr.NO_LABELS}


def test_a_pool_without_correct_responses_shows_no_f1_and_no_interval():
    """F1 needs both classes: a pool of wrong responses only (the smoke world's) has none, and no interval either
    (not the [0.0, 0.0] its empty resamples would print)."""
    pool, scores = hand_pool(seed=5)
    for p in pool.problems:
        for r in p.responses:
            if r.correct:
                r.correct, r.extra["error_step"] = False, 1
    out = pr.evaluate(None, {"mid": (pool, scores)}, resamples=20)
    mid = out["views"][pr.STEP]["pools"]["mid"]
    assert mid["f1"] is None and mid["localisation"] is not None
    row = next(ln for ln in pr.render(out).splitlines() if ln.startswith("mid "))
    assert "[0.0, 0.0]" not in row and f"{100 * mid['localisation']:.1f} [" in row
