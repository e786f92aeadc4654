"""Paired comparisons from run files: A - B on the same problems, with its bootstrap interval and a verdict.

A side of a comparison is a run label (its training seeds averaged problem by problem, harness.paper.seeds) and
what is read from it: by default the Table 1 average, i.e. per problem the mean over generators and N in {4, 16,
64} of best-of-N accuracy (harness.evaluation.per_problem). The interval is the percentile bootstrap over problems
with both sides' values of a problem resampled together (harness.selection.bootstrap.paired_difference); the
verdict of "A beats B" is `holds` when it lies above 0, `does not hold` below 0, `tie` otherwise.

Two verdicts come before any interval: `not measured` when a run or its per-problem accuracies are missing, and
`not testable` when a side is a discriminative baseline that ranks one problem's responses at chance (the lower
bound of its 95% interval of within-problem ROC AUC on the mid generator at most CHANCE_AUC_LOW, in any of its
seeds): beating such a baseline says nothing about the method, only that the baseline learned no ranking here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.paper.seeds import seed_runs
from harness.paper.tables import GEN_ORDER, NS
from harness.selection.bootstrap import paired_difference, verdict

RESAMPLES = 2000
CHANCE_AUC_LOW = 0.55   # lower 95% bound of the mid within-problem AUC at or below this: at chance
CHANCE_GENERATOR = "mid"
# The discriminative baselines (the paper's ORM and its reimplemented PRMs); a comparison against one of them is
# only a test when the baseline ranks responses within a problem at all.
BASELINES = {"orm": "ORM", "orm_bt": "ORM (Bradley-Terry)", "math_shepherd": "Math-Shepherd",
             "autopsv": "AutoPSV"}

# What a side reads (harness.evaluation.per_problem keys), averaged per problem.
READS = {"best_of_n": [f"best_of_n@{n}" for n in NS], "weighted_vote": ["weighted_vote@avg"],
         "majority_vote": ["majority_vote@avg"], "random choice": ["pass_at_n@1"],
         **{f"best_of_n@{n}": [f"best_of_n@{n}"] for n in NS}}

ORDER = ("not measured", "not testable", "does not hold", "tie", "holds")  # a conjunction reads its first present
NO_PER_PROBLEM = "run file has no per-problem accuracies; re-run"


@dataclass(frozen=True)
class Verdict:
    verdict: str            # holds | does not hold | tie | not testable | not measured
    text: str               # the numbers (or what is missing)
    reason: str = ""        # why not measured / not testable
    diff: float | None = None
    low: float | None = None
    high: float | None = None


def per_problem(run: dict, reads: str, gens=GEN_ORDER) -> tuple[np.ndarray, str] | str:
    """(values per problem, the problems' key) of one run file, or why not. Generators that share their problems
    (the arith world's three pools do) are averaged per problem; otherwise each (generator, problem) is a unit."""
    block = run.get("per_problem")
    if not block:
        return f"{NO_PER_PROBLEM}: {run.get('file', run['config'].get('label') or run['config']['rm'])}"
    if block.get("aggregation") != "min":
        return f"per-problem accuracies of {run.get('file')} use {block.get('aggregation')} aggregation, not min"
    per_gen, keys = [], []
    for g in gens:
        entry = block["generators"].get(g)
        cols = [entry.get(k) for k in READS[reads]] if entry else [None]
        if any(c is None for c in cols):
            return f"{run.get('file')} has no per-problem {reads} on {g}"
        per_gen.append(np.mean(np.asarray(cols, dtype=np.float64), axis=0))
        keys.append(entry["problems"])
    if len(set(keys)) == 1:
        return np.mean(per_gen, axis=0), keys[0]
    return np.concatenate(per_gen), "+".join(keys)


def seed_averaged(runs: dict[str, dict], label: str, reads: str) -> tuple[np.ndarray, str, int] | str:
    """(per-problem values averaged over the label's seeds, the problems' key, number of seeds), or why not."""
    group = seed_runs(runs, label)
    if not group:
        return f"run missing: {label}"
    vecs = [per_problem(run, reads) for run in group]
    for v in vecs:
        if isinstance(v, str):
            return v
    if len({key for _, key in vecs}) > 1:
        return f"the seeds of {label} measured different problems"
    return np.mean([v for v, _ in vecs], axis=0), vecs[0][1], len(vecs)


def at_chance(runs: dict[str, dict], label: str) -> str | None:
    """For a baseline label whose run ranks within problems at chance (in any seed): the AUC that says so."""
    if label not in BASELINES:
        return None
    for run in seed_runs(runs, label):
        for a in run.get("auc", []):
            low = a.get("within_ci_low")
            if a.get("generator") == CHANCE_GENERATOR and low is not None and low <= CHANCE_AUC_LOW:
                return (f"{BASELINES[label]} {CHANCE_GENERATOR} within-problem AUC {a['within_auc']:.3f} "
                        f"[{low:.3f}, {a['within_ci_high']:.3f}], lower bound <= {CHANCE_AUC_LOW:g}")
    return None


def compare(runs: dict[str, dict], a: str, b: str, reads_a: str = "best_of_n", reads_b: str | None = None,
            names: tuple[str, str] | None = None) -> Verdict:
    """Verdict of "a beats b": the paired interval of a - b (in points of accuracy) over the same problems."""
    reads_b = reads_b or reads_a
    na, nb = names or (a, b)
    chance = [why for label in dict.fromkeys((a, b)) if (why := at_chance(runs, label))]
    if chance and all(seed_runs(runs, x) for x in (a, b)):
        return Verdict("not testable", f"{na} vs {nb}", "baseline at chance within problems: " + "; ".join(chance))
    va, vb = seed_averaged(runs, a, reads_a), seed_averaged(runs, b, reads_b)
    for v in (va, vb):
        if isinstance(v, str):
            return Verdict("not measured", f"{na} vs {nb}", v)
    if va[1] != vb[1]:
        return Verdict("not measured", f"{na} vs {nb}", f"{a} and {b} measured different problems")
    x, y = 100 * va[0], 100 * vb[0]
    diff, low, high = paired_difference(x, y, resamples=RESAMPLES, seed=0)
    seeds = "" if va[2] == vb[2] == 1 else f", seeds {va[2]} and {vb[2]}"
    return Verdict(verdict(low, high), f"{na} {x.mean():.1f} vs {nb} {y.mean():.1f}: {diff:+.1f} "
                                       f"[{low:+.1f}, {high:+.1f}]{seeds}", diff=diff, low=low, high=high)


def all_of(parts: list[Verdict], text: str | None = None) -> Verdict:
    """A claim made of several comparisons: the first of ORDER that any part reads (all must hold to hold)."""
    worst = min(parts, key=lambda p: ORDER.index(p.verdict))
    why: dict[str, list[str]] = {}  # reasons sharing a head ("run missing: a", "run missing: b") are listed once
    for p in parts:
        if p.verdict == worst.verdict and p.reason:
            head, _, tail = p.reason.partition(": ")
            if tail not in why.setdefault(head, []):
                why[head].append(tail)
    reason = "; ".join(head + (": " + ", ".join(t for t in tails if t) if any(tails) else "")
                       for head, tails in why.items())
    return Verdict(worst.verdict, text or "; ".join(p.text for p in parts), reason)
