"""The paper's claims, each checked against this machine's runs, with the numbers.

A verdict is computed from the run files, never typed in. A comparison "A beats B" reads the paired bootstrap
interval over problems of A - B on the Table 1 average (harness.paper.paired; both sides' training seeds averaged
per problem): **holds** when the interval lies above 0, **does not hold** below 0, **tie** when it contains 0;
**not testable** when B (or A) is a baseline at chance within problems, **not measured** when a run or its
per-problem accuracies are missing. A claim made of several comparisons reads the first of not measured, not
testable, does not hold, tie (so it holds only when every part holds). A claim that is no comparison of two
accuracies states its own rule beside its numbers.

A claim is a function of the runs by label (harness.paper.regenerate.load_runs) returning a Verdict; one returning
the older (True | False | None, text) is read as holds / does not hold / not measured.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from harness.evaluation.process_rewards import located_per_problem
from harness.paper import seeds
from harness.paper.paired import BASELINES, Verdict, all_of, compare
from harness.paper.tables import PAPER_FLOP_RATIO, average, ratio
from harness.selection.bootstrap import paired_difference, verdict

LOSSES = ("dpo", "kto", "nca", "ce")
PRM_BASELINES = ("math_shepherd", "autopsv")  # the paper's reimplemented PRM baselines
RULE = ("A beats B when the paired 95% bootstrap interval over problems of A - B (Table 1 average, points; seeds "
        "averaged per problem) lies above 0; below 0 it does not hold, containing 0 it is a tie")


def _avg(runs, label, method="best_of_n", **kw) -> float | None:
    """The Table 1 average of a label, the mean over its training seeds."""
    return seeds.mean(seeds.values(seeds.seed_runs(runs, label), lambda run: average(run, method, **kw)))


def _name(label: str) -> str:
    return label[len("implicit_"):].upper() if label.startswith("implicit_") else BASELINES.get(label, label)


def claim_implicit_beats_orm(runs):
    return all_of([compare(runs, f"implicit_{loss}", "orm", names=(_name(f"implicit_{loss}"), "ORM"))
                   for loss in LOSSES])


def claim_beats_baseline(loss: str, baseline: str = "math_shepherd") -> Callable:
    def check(runs):
        v = compare(runs, f"implicit_{loss}", baseline, names=(loss.upper(), BASELINES[baseline]))
        r = ratio((runs.get(baseline) or {}).get("compute"), (runs.get(f"implicit_{loss}") or {}).get("compute"))
        cost = "" if r is None else f"; {BASELINES[baseline]} cost {r:.2f}x its FLOPs per instruction"
        return Verdict(v.verdict, v.text + cost, v.reason, v.diff, v.low, v.high)
    return check


def claim_beats_both_baselines(runs):
    """Every implicit PRM of Table 1 ahead of each reimplemented baseline."""
    return all_of([compare(runs, f"implicit_{loss}", b, names=(loss.upper(), BASELINES[b]))
                   for loss in LOSSES for b in PRM_BASELINES])


def claim_flops(runs):
    r = ratio((runs.get("math_shepherd") or {}).get("compute"), (runs.get("implicit_ce") or {}).get("compute"))
    if r is None:
        return Verdict("not measured", "Math-Shepherd vs CE", "compute records missing")
    # A count, not an estimate: no interval, so no tie; the rule is stated with the numbers.
    return Verdict("holds" if r >= PAPER_FLOP_RATIO / 2 else "does not hold",
                   f"{r:.2f}x here vs {PAPER_FLOP_RATIO}x in the paper (holds if >= half of it)")


def claim_rises_with_n(runs):
    """Best-of-64 against best-of-4 of the same run, problem by problem."""
    return all_of([compare(runs, f"implicit_{loss}", f"implicit_{loss}", "best_of_n@64", "best_of_n@4",
                           names=(f"{loss.upper()} N=64", "N=4")) for loss in ("dpo", "ce")])


def claim_weighted_vote(runs):
    return all_of([compare(runs, f"implicit_{loss}", f"implicit_{loss}", "weighted_vote", "majority_vote",
                           names=(f"{loss.upper()} weighted", "majority")) for loss in LOSSES])


def claim_one_response(runs):
    return compare(runs, "implicit_ce-r1", "implicit_ce-r1", "best_of_n", "random choice",
                   names=("CE with 1 response per instruction", "random choice"))


def claim_scaling(prefix: str, points: list[tuple[str, str]]) -> Callable:
    """The largest setting against the smallest (the points between are shown, not tested)."""
    def check(runs):
        v = compare(runs, points[-1][1], points[0][1], names=(points[-1][0], points[0][0]))
        shown = ", ".join(f"{n} {'-' if (a := _avg(runs, label)) is None else f'{a:.1f}'}" for n, label in points)
        return Verdict(v.verdict, f"{prefix}: {shown}; {v.text}", v.reason, v.diff, v.low, v.high)
    return check


def claim_responses_over_instructions(runs):
    """Equal data (a quarter of the rollouts): all 8 responses of 25% of the instructions vs 2 of every one."""
    v = compare(runs, "implicit_ce-i25", "implicit_ce-r2", names=("25% of instructions x 8", "100% x 2"))
    return Verdict(v.verdict, "CE on a quarter of the rollouts: " + v.text, v.reason, v.diff, v.low, v.high)


def claim_reference(runs):
    """Without the reference against with it; a tie is no measurable loss, a holds a measurable gain."""
    return all_of([compare(runs, f"implicit_{loss}{suffix}", f"implicit_{loss}",
                           names=(f"{loss.upper()} without the reference {where}", "with"))
                   for loss in ("dpo", "ce") for suffix, where in (("-noref_infer", "at inference"),
                                                                  ("-noref_both", "at training and inference"))])


def claim_stage2(runs):
    """CE against CE + the step-label stage: holds when the stage loses accuracy, a tie when no change shows."""
    return compare(runs, "implicit_ce", "implicit_ce_stage2", names=("CE", "CE + step-level KTO"))


# (paper's claim, check). Section numbers refer to Yuan et al. (2024).
CLAIMS: list[tuple[str, Callable]] = [
    ("Implicit PRMs trained with every loss beat the ORM trained on the same data (Table 1)", claim_implicit_beats_orm),
    ("Implicit PRM (DPO) beats the Math-Shepherd PRM (paper: 50.4 vs 47.8)", claim_beats_baseline("dpo")),
    ("Implicit PRM (CE) beats the Math-Shepherd PRM (paper: 48.4 vs 47.8)", claim_beats_baseline("ce")),
    ("Implicit PRM (DPO) beats AutoPSV (paper: 50.4 vs 45.7)", claim_beats_baseline("dpo", "autopsv")),
    ("Implicit PRM (CE) beats AutoPSV (paper: 48.4 vs 45.7, by 2.7)", claim_beats_baseline("ce", "autopsv")),
    ("Implicit PRMs trained with every loss beat both reimplemented baselines, Math-Shepherd and AutoPSV (Table 1)",
     claim_beats_both_baselines),
    ("Math-Shepherd costs far more to develop than an implicit PRM (paper: 38.8x FLOPs, Figure 2)", claim_flops),
    ("Best-of-N accuracy of implicit PRMs rises from N=4 to N=64 (Table 1)", claim_rises_with_n),
    ("Weighted vote with an implicit PRM beats plain majority vote (Figure 3)", claim_weighted_vote),
    ("CE works with one response per instruction: better than random choice (section 5.1)", claim_one_response),
    ("More responses per instruction help (Figure 4; CE 1 -> 8)",
     claim_scaling("CE", [("1", "implicit_ce-r1"), ("2", "implicit_ce-r2"), ("4", "implicit_ce-r4"),
                          ("8", "implicit_ce")])),
    ("More responses per instruction help (Figure 4; DPO 2 -> 8)",
     claim_scaling("DPO", [("2", "implicit_dpo-r2"), ("4", "implicit_dpo-r4"), ("8", "implicit_dpo")])),
    ("More instructions help (Figure 5; CE 25% -> 100%)",
     claim_scaling("CE", [("25%", "implicit_ce-i25"), ("50%", "implicit_ce-i50"), ("75%", "implicit_ce-i75"),
                          ("100%", "implicit_ce")])),
    ("More instructions help (Figure 5; DPO 25% -> 100%)",
     claim_scaling("DPO", [("25%", "implicit_dpo-i25"), ("50%", "implicit_dpo-i50"), ("75%", "implicit_dpo-i75"),
                           ("100%", "implicit_dpo")])),
    ("Responses per instruction matter more than instructions (abstract; equal data)",
     claim_responses_over_instructions),
    ("The reference model can be left out at inference, and at training too, without a loss (Table 5; without "
     "vs with: a tie is no measurable loss)", claim_reference),
    ("Math-Shepherd step labels as a second stage bring no further gain (section 5.3; CE vs CE + the stage: a tie "
     "is no measurable gain)", claim_stage2),
]


VERDICT_WORDS = {"holds": "holds here", "does not hold": "does not hold here", "tie": "tie here",
                 "not testable": "not testable here", "not measured": "not measured"}


def as_verdict(result) -> Verdict:
    """A claim's result as a Verdict (a claim written for the older (bool | None, text) still reads)."""
    if isinstance(result, Verdict):
        return result
    holds, text = result
    return Verdict({True: "holds", False: "does not hold", None: "not measured"}[holds], text)


def verdict_lines(runs: dict[str, dict], claims: list[tuple[str, Callable]] | None = None) -> list[str]:
    lines = []
    for text, check in CLAIMS if claims is None else claims:
        v = as_verdict(check(runs))
        why = f" ({v.reason})" if v.reason else ""
        lines.append(f"- {text}: **{VERDICT_WORDS[v.verdict]}**{why}. {v.text}.")
    return lines


def localisation_pairs(a: dict | None, b: dict | None, view: str = "step reward"):
    """Per problem, two runs' shares of wrong responses whose lowest step is the first wrong step, averaged over
    the generators where both have a locatable wrong response: the arith test pools share their problems, so a
    problem is one unit of the paired bootstrap (pools of different problems are units each). None when a run
    lacks the figures or the two runs scored different pools."""
    pa, pb = ((r or {}).get("process") or {} for r in (a, b))
    if pa.get("status") != "measured" or pb.get("status") != "measured":
        return None
    va, vb = pa["views"].get(view), pb["views"].get(view)
    per: dict[str, list] = {}  # problems' hash -> [(a's shares, b's shares, both defined)] of its generators
    for g in sorted(set(va["pools"]) & set(vb["pools"])):
        ra, rb = va["pools"][g], vb["pools"][g]
        if ra["problems_hash"] != rb["problems_hash"]:
            return None
        (la, na), (lb, nb) = located_per_problem(ra), located_per_problem(rb)
        per.setdefault(ra["problems_hash"], []).append((la / np.maximum(na, 1), lb / np.maximum(nb, 1),
                                                       (na > 0) & (nb > 0)))
    xs, ys = [], []
    for gens in per.values():
        ok = np.sum([d for _, _, d in gens], axis=0)
        keep = ok > 0
        xs.append((np.sum([x * d for x, _, d in gens], axis=0)[keep] / ok[keep]))
        ys.append((np.sum([y * d for _, y, d in gens], axis=0)[keep] / ok[keep]))
    if not xs or not sum(len(x) for x in xs):
        return None
    return np.concatenate(xs), np.concatenate(ys)


def claim_locates_first_error(loss: str = "ce", baseline: str = "math_shepherd"):
    """Do the implicit PRM's step rewards find the first wrong step as well as the Math-Shepherd PRM's (trained on
    Monte-Carlo step labels)? The paired bootstrap over problems of the difference in localisation: 'holds' (the
    implicit PRM locates better), 'tie' (no difference the interval can tell: as well as), 'does not hold' (worse)."""
    def check(runs):
        label = f"implicit_{loss}"
        pairs = localisation_pairs(runs.get(label), runs.get(baseline))
        if pairs is None:
            return Verdict("not measured", "runs missing, or without step-level figures")
        mean, low, high = paired_difference(*pairs)
        a, b = 100 * pairs[0].mean(), 100 * pairs[1].mean()
        return Verdict(verdict(low, high), (
            f"localisation (share of wrong responses whose lowest step reward is the first wrong step; mean over "
            f"{len(pairs[0])} problems, each averaged over the generators) {loss.upper()} {a:.1f}% vs "
            f"{BASELINES.get(baseline, baseline)} {b:.1f}%, difference {100 * mean:+.1f} "
            f"[{100 * low:+.1f}, {100 * high:+.1f}] points (95% paired bootstrap over problems; training seed 0)"),
            diff=100 * mean, low=100 * low, high=100 * high)
    return check


STEP_CLAIMS: list[tuple[str, Callable]] = [
    ("Implicit PRM (CE) step rewards locate the first error as well as the Math-Shepherd PRM trained on MC step labels "
     "(title claim, measured on the step labels of the world)", claim_locates_first_error("ce")),
]


def step_claim_lines(runs: dict[str, dict]) -> list[str]:
    """The step-level claims' lines: holds / does not hold / tie from a paired interval (not measured without runs)."""
    return verdict_lines(runs, STEP_CLAIMS)
