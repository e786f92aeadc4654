"""The paper's claims, each checked against this machine's runs: holds here / does not hold here, with the numbers.

A verdict is computed from the run files, never typed in. The thresholds are stated in each claim: a difference of
averages counts only beyond `MARGIN` points, because the averages of a 500-problem pool move by about that much
between seeds of the selection estimator and bootstrap resamples.
"""

from __future__ import annotations

from typing import Callable

from harness.paper.tables import PAPER_FLOP_RATIO, average, ratio

MARGIN = 1.0  # points of average accuracy


def _avg(runs, label, method="best_of_n"):
    return average(runs.get(label), method)


def _cmp(a: float | None, b: float | None) -> bool | None:
    return None if a is None or b is None else a > b + MARGIN


def claim_implicit_beats_orm(runs):
    orm = _avg(runs, "orm")
    vals = {loss: _avg(runs, f"implicit_{loss}") for loss in ("dpo", "kto", "nca", "ce")}
    if orm is None or any(v is None for v in vals.values()):
        return None, "runs missing"
    wins = [loss for loss, v in vals.items() if v > orm + MARGIN]
    text = ", ".join(f"{loss.upper()} {v:.1f}" for loss, v in vals.items()) + f" vs ORM {orm:.1f}"
    return len(wins) == len(vals), text + f" ({len(wins)} of 4 ahead by > {MARGIN:g})"


BASELINES = {"math_shepherd": "Math-Shepherd", "autopsv": "AutoPSV"}  # the paper's reimplemented PRM baselines


def claim_beats_baseline(loss: str, baseline: str = "math_shepherd") -> Callable:
    def check(runs):
        a, b = _avg(runs, f"implicit_{loss}"), _avg(runs, baseline)
        if a is None or b is None:
            return None, "runs missing"
        r = ratio((runs.get(baseline) or {}).get("compute"), (runs.get(f"implicit_{loss}") or {}).get("compute"))
        name = BASELINES[baseline]
        cost = "" if r is None else f"; {name} cost {r:.2f}x its FLOPs per instruction"
        return _cmp(a, b), f"{loss.upper()} {a:.1f} vs {name} {b:.1f}{cost}"
    return check


def claim_beats_both_baselines(runs):
    """Every implicit PRM of Table 1 ahead of every reimplemented baseline by more than MARGIN."""
    labels = [f"implicit_{x}" for x in ("dpo", "kto", "nca", "ce")] + list(BASELINES)
    vals = {label: _avg(runs, label) for label in labels}
    if any(v is None for v in vals.values()):
        return None, "runs missing: " + ", ".join(k for k, v in vals.items() if v is None)
    implicit = {k: v for k, v in vals.items() if k.startswith("implicit_")}
    best_baseline = max(vals[b] for b in BASELINES)
    wins = [k for k, v in implicit.items() if v > best_baseline + MARGIN]
    text = ", ".join(f"{k[len('implicit_'):].upper()} {v:.1f}" for k, v in implicit.items()) + " vs " + \
        ", ".join(f"{n} {vals[b]:.1f}" for b, n in BASELINES.items())
    return len(wins) == len(implicit), text + f" ({len(wins)} of {len(implicit)} ahead of both by > {MARGIN:g})"


def claim_flops(runs):
    r = ratio((runs.get("math_shepherd") or {}).get("compute"), (runs.get("implicit_ce") or {}).get("compute"))
    if r is None:
        return None, "compute records missing"
    return r >= PAPER_FLOP_RATIO / 2, f"{r:.2f}x here vs {PAPER_FLOP_RATIO}x in the paper (holds if >= half of it)"


def claim_rises_with_n(runs):
    out = []
    for loss in ("dpo", "ce"):
        run = runs.get(f"implicit_{loss}")
        a4, a64 = average(run, ns=[4]), average(run, ns=[64])
        if a4 is None:
            return None, "runs missing"
        out.append((loss, a4, a64))
    return all(a64 > a4 for _, a4, a64 in out), "; ".join(f"{loss.upper()} N=4 {a4:.1f} -> N=64 {a64:.1f}"
                                                          for loss, a4, a64 in out)


def claim_weighted_vote(runs):
    rows = []
    for loss in ("dpo", "kto", "nca", "ce"):
        run = runs.get(f"implicit_{loss}")
        w, m = average(run, "weighted_vote"), average(run, "majority_vote")
        if w is None or m is None:
            return None, "runs missing"
        rows.append((loss, w, m))
    wins = [r for r in rows if r[1] > r[2] + MARGIN]
    return len(wins) == len(rows), "; ".join(f"{loss.upper()} {w:.1f} vs majority {m:.1f}" for loss, w, m in rows)


def claim_one_response(runs):
    r1, rand = _avg(runs, "implicit_ce-r1"), average(runs.get("implicit_ce"), "pass_at_n", ns=[1])
    if r1 is None or rand is None:
        return None, "runs missing"
    return _cmp(r1, rand), f"CE with 1 response per instruction {r1:.1f} vs random choice {rand:.1f}"


def claim_scaling(prefix: str, points: list[tuple[str, str]]) -> Callable:
    def check(runs):
        vals = [(name, _avg(runs, label)) for name, label in points]
        if any(v is None for _, v in vals):
            return None, "runs missing: " + ", ".join(label for (_, label), (_, v) in zip(points, vals) if v is None)
        return _cmp(vals[-1][1], vals[0][1]), f"{prefix}: " + ", ".join(f"{n} {v:.1f}" for n, v in vals)
    return check


def claim_responses_over_instructions(runs):
    """Equal data (a quarter of the rollouts): all 8 responses of 25% of the instructions vs 2 of every one."""
    deep, wide = _avg(runs, "implicit_ce-i25"), _avg(runs, "implicit_ce-r2")
    if deep is None or wide is None:
        return None, "runs missing"
    return _cmp(deep, wide), (f"CE on a quarter of the rollouts: 25% of instructions x 8 responses {deep:.1f} vs "
                              f"100% x 2 responses {wide:.1f}")


def claim_reference(runs):
    parts, ok = [], True
    for loss in ("dpo", "ce"):
        base, noinf = _avg(runs, f"implicit_{loss}"), _avg(runs, f"implicit_{loss}-noref_infer")
        notrain = _avg(runs, f"implicit_{loss}-noref_both")
        if None in (base, noinf, notrain):
            return None, "runs missing"
        ok &= noinf >= base - MARGIN and notrain >= base - MARGIN
        parts.append(f"{loss.upper()} {base:.1f} with, {noinf:.1f} without at inference, {notrain:.1f} without at "
                     "training and inference")
    return ok, "; ".join(parts)


def claim_stage2(runs):
    a, b = _avg(runs, "implicit_ce_stage2"), _avg(runs, "implicit_ce")
    if a is None or b is None:
        return None, "runs missing"
    return not _cmp(a, b), f"CE {b:.1f} -> CE + step-level KTO {a:.1f}"


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
    ("The reference model can be left out at inference, and at training too, without a loss (Table 5; no loss = "
     f"within {MARGIN:g} point)", claim_reference),
    ("Math-Shepherd step labels as a second stage bring no further gain (section 5.3)", claim_stage2),
]


def verdict_lines(runs: dict[str, dict]) -> list[str]:
    lines = []
    for text, check in CLAIMS:
        holds, numbers = check(runs)
        verdict = {True: "holds here", False: "does not hold here", None: "not measured"}[holds]
        lines.append(f"- {text}: **{verdict}**. {numbers}.")
    return lines


def localisation_pairs(a: dict | None, b: dict | None, view: str = "step reward"):
    """Per problem, two runs' shares of wrong responses whose lowest step is the first wrong step, averaged over
    the generators where both have a locatable wrong response: the arith test pools share their problems, so a
    problem is one unit of the paired bootstrap (pools of different problems are units each). None when a run
    lacks the figures or the two runs scored different pools."""
    import numpy as np

    from harness.evaluation.process_rewards import located_per_problem
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
        from harness.selection.bootstrap import paired_difference, verdict
        label = f"implicit_{loss}"
        pairs = localisation_pairs(runs.get(label), runs.get(baseline))
        if pairs is None:
            return None, "runs missing, or without step-level figures"
        mean, low, high = paired_difference(*pairs)
        a, b = 100 * pairs[0].mean(), 100 * pairs[1].mean()
        return verdict(low, high), (
            f"localisation (share of wrong responses whose lowest step reward is the first wrong step; mean over "
            f"{len(pairs[0])} problems, each averaged over the generators) {loss.upper()} {a:.1f}% vs "
            f"{BASELINES.get(baseline, baseline)} {b:.1f}%, difference {100 * mean:+.1f} "
            f"[{100 * low:+.1f}, {100 * high:+.1f}] points (95% paired bootstrap over problems)")
    return check


STEP_CLAIMS: list[tuple[str, Callable]] = [
    ("Implicit PRM (CE) step rewards locate the first error as well as the Math-Shepherd PRM trained on MC step labels "
     "(title claim, measured on the step labels of the world)", claim_locates_first_error("ce")),
]


def step_claim_lines(runs: dict[str, dict]) -> list[str]:
    """The step-level claims' lines: holds / does not hold / tie from a paired interval (not measured without runs)."""
    lines = []
    for text, check in STEP_CLAIMS:
        result, numbers = check(runs)
        lines.append(f"- {text}: **{result or 'not measured'}**. {numbers}.")
    return lines
