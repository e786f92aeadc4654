"""Verdicts from paired intervals over problems (harness.paper.paired), on hand-made run files."""

from __future__ import annotations

import numpy as np
import pytest
from _hand_runs import hand_run

from harness.paper.paired import CHANCE_AUC_LOW, RESAMPLES, Verdict, all_of, compare, per_problem
from harness.selection.bootstrap import paired_difference

P = 200
rng = np.random.default_rng(7)
BASE = rng.uniform(0.0, 0.8, P)          # problems differ a lot: hard ones, easy ones


def runs_of(**runs) -> dict:
    return {label: run for label, run in runs.items()}


def test_clear_win_clear_loss_and_tie_read_from_the_paired_interval():
    noise = np.where(np.arange(P) % 2 == 0, 0.05, -0.05)    # +-5 points, mean 0: no difference
    better = BASE + 0.1 + noise[::-1] * np.random.default_rng(3).uniform(0, 1, P)  # 10 points ahead on average
    runs = runs_of(a=hand_run("a", better), b=hand_run("b", BASE), c=hand_run("c", BASE + noise))
    win, loss, tie = compare(runs, "a", "b"), compare(runs, "b", "a"), compare(runs, "c", "b")
    assert (win.verdict, loss.verdict, tie.verdict) == ("holds", "does not hold", "tie")
    # the numbers are the paired bootstrap of the per-problem Table 1 values, in points
    d, lo, hi = paired_difference(100 * better, 100 * BASE, resamples=RESAMPLES, seed=0)
    assert (win.diff, win.low, win.high) == pytest.approx((d, lo, hi))
    assert win.diff == pytest.approx(100 * (better - BASE).mean()) and 0 < win.low < win.diff < win.high
    assert loss.diff == pytest.approx(-win.diff) and loss.high < 0
    assert tie.low < 0 < tie.high and abs(tie.diff) < 1e-9
    assert win.text == f"a {100 * better.mean():.1f} vs b {100 * BASE.mean():.1f}: {d:+.1f} [{lo:+.1f}, {hi:+.1f}]"


def test_pairing_sees_a_small_consistent_win_that_unpaired_intervals_would_miss():
    """One point better on every problem of a pool whose problems range from 0 to 80%: the two means' own 95%
    intervals overlap widely, the paired interval of the difference does not contain 0."""
    from harness.selection.bootstrap import bootstrap_ci
    a = BASE + 0.01
    runs = runs_of(a=hand_run("a", a), b=hand_run("b", BASE))
    _, lo_a, _ = bootstrap_ci(100 * a, 2000, 0)
    _, _, hi_b = bootstrap_ci(100 * BASE, 2000, 1)
    assert lo_a < hi_b                                   # unpaired: the intervals overlap
    assert compare(runs, "a", "b").verdict == "holds"    # paired: a wins


def test_the_table1_value_of_a_problem_is_its_mean_over_generators_and_n():
    per = {g: {n: np.full(4, k / 10 + n / 1000) for n in (4, 16, 64)} for k, g in enumerate(("weak", "mid", "strong"))}
    vec, _ = per_problem(hand_run("a", per), "best_of_n")
    assert vec == pytest.approx(np.full(4, np.mean([k / 10 + n / 1000 for k in range(3) for n in (4, 16, 64)])))
    n64, _ = per_problem(hand_run("a", per), "best_of_n@64")
    assert n64 == pytest.approx(np.full(4, np.mean([k / 10 + 0.064 for k in range(3)])))


def test_a_baseline_at_chance_within_problems_makes_the_comparison_not_testable():
    better = np.clip(BASE + 0.2, 0, 1)
    runs = runs_of(implicit_ce=hand_run("implicit_ce", better), orm=hand_run("orm", BASE, within_low=0.53))
    v = compare(runs, "implicit_ce", "orm")
    assert v.verdict == "not testable" and "baseline at chance within problems" in v.reason
    assert "ORM mid within-problem AUC 0.560 [0.530, 0.590]" in v.reason
    # the same numbers against a baseline that ranks within problems: a verdict
    runs["orm"] = hand_run("orm", BASE, within_low=CHANCE_AUC_LOW + 0.01)
    assert compare(runs, "implicit_ce", "orm").verdict == "holds"
    # exactly at the bound is chance; a run that is no baseline is never "not testable"
    runs["orm"] = hand_run("orm", BASE, within_low=CHANCE_AUC_LOW)
    assert compare(runs, "implicit_ce", "orm").verdict == "not testable"
    runs["implicit_ce-r1"] = hand_run("implicit_ce", BASE, label="implicit_ce-r1", within_low=0.40)
    assert compare(runs, "implicit_ce", "implicit_ce-r1").verdict == "holds"
    # one seed of the baseline at chance is enough
    runs["orm"] = hand_run("orm", BASE, within_low=0.7)
    runs["orm-seed2"] = hand_run("orm", BASE, label="orm-seed2", seed=2, within_low=0.5)
    assert compare(runs, "implicit_ce", "orm").verdict == "not testable"


def test_missing_runs_or_per_problem_accuracies_are_not_measured():
    runs = runs_of(a=hand_run("a", BASE + 0.1), old=hand_run("old", BASE, per_problem=False))
    v = compare(runs, "a", "old")
    assert v.verdict == "not measured"
    assert v.reason.startswith("run file has no per-problem accuracies; re-run") and "arith-default-old.json" in v.reason
    assert compare(runs, "a", "nothing").reason == "run missing: nothing"
    runs["other"] = hand_run("other", BASE, ids=[f"q{i}" for i in range(P)])
    assert compare(runs, "a", "other").reason == "a and other measured different problems"


def test_a_claim_of_several_comparisons_reads_its_weakest_part():
    def v(x, reason=""):
        return Verdict(x, x, reason)
    assert all_of([v("holds"), v("holds")]).verdict == "holds"
    assert all_of([v("holds"), v("tie")]).verdict == "tie"
    assert all_of([v("tie"), v("does not hold"), v("holds")]).verdict == "does not hold"
    assert all_of([v("does not hold"), v("not testable", "chance")]).verdict == "not testable"
    listed = all_of([v("not measured", "run missing: a"), v("not measured", "run missing: b"), v("holds")])
    assert listed.reason == "run missing: a, b"
    both = all_of([v("not testable", "chance"), v("not measured", "run missing: x"), v("not measured", "run missing: x")])
    assert (both.verdict, both.reason) == ("not measured", "run missing: x")
