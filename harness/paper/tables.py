"""The paper's tables, built from the run files under results/runs/ (small JSON; no model is loaded).

Every figure is an accuracy in % of best-of-N (min step aggregation) or weighted vote, the expectation over random
N-subsets of each problem's responses; `Avg` is the mean over generators x N in {4, 16, 64}, the paper's Table 1
average. Averages carry no interval of their own (their cells' errors are correlated); each table shows beside it
one cell with its 95% bootstrap CI over problems, and every cell's CI is in the run's JSON.
"""

from __future__ import annotations

import math
from functools import partial

from harness.paper.seeds import fmt_seeds, mean, seed_of, seed_runs, values
from reward_models.training.flops import flop_ratio

GEN_ORDER = ["weak", "mid", "strong"]
NS = [4, 16, 64]

# Yuan et al. (2024), Table 1 (MATH-500 best-of-N averaged over three generators and N = 4, 16, 64). Only the numbers
# quoted in this project's issues are listed; the paper's other numbers are shown as n/a rather than from memory.
PAPER_TABLE1_AVG = {"implicit_dpo": 50.4, "implicit_ce": 48.4, "math_shepherd": 47.8, "autopsv": 45.7}
PAPER_FLOP_RATIO = 38.8  # Math-Shepherd / implicit PRM development FLOPs (the paper's Figure 2)


def cell(run: dict, gen: str, method: str, n: int, agg: str = "min") -> dict | None:
    rm = run["config"]["rm"] if method in ("best_of_n", "weighted_vote") else "-"
    for r in run["rows"]:
        if r["generator"] == gen and r["rm"] == rm and r["method"] == method and r["n"] == n and \
                (r["aggregation"] == agg or rm == "-"):
            return r
    return None


def average(run: dict | None, method: str = "best_of_n", gens=GEN_ORDER, ns=NS) -> float | None:
    if run is None:
        return None
    cells = [cell(run, g, method, n) for g in gens for n in ns]
    if any(c is None for c in cells):
        return None
    return 100 * math.fsum(c["accuracy"] for c in cells) / len(cells)


def within_auc(run: dict | None, gen: str) -> dict | None:
    for a in (run or {}).get("auc", []):
        if a["generator"] == gen:
            return a
    return None


def fmt(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def fmt_ci(c: dict | None) -> str:
    return "-" if c is None else f"{100 * c['accuracy']:.1f} [{100 * c['ci_low']:.1f}, {100 * c['ci_high']:.1f}]"


def fmt_auc(a: dict | None) -> str:
    if a is None or a.get("within_auc") is None:
        return "-"
    return f"{a['within_auc']:.3f} [{a['within_ci_low']:.3f}, {a['within_ci_high']:.3f}]"


def markdown(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def table1(runs: dict[str, dict], labels: list[str], method: str = "best_of_n") -> str:
    """One row per label over its training seeds (harness.paper.seeds): a cell is the seeds' mean (min-max), or the
    number itself for a single seed."""
    head = ["reward model"] + [f"{g} N={n}" for g in GEN_ORDER for n in NS] + ["Avg", "paper Avg", "seeds"]
    rows = []
    for label in labels:
        group = seed_runs(runs, label)
        rm = group[0]["config"]["rm"]
        paper = PAPER_TABLE1_AVG.get(rm) if method == "best_of_n" and label == rm else None

        def acc(g, n):
            return lambda run: None if (c := cell(run, g, method, n)) is None else 100 * c["accuracy"]
        rows.append([label] + [fmt_seeds(values(group, acc(g, n))) for g in GEN_ORDER for n in NS] +
                    [fmt_seeds(values(group, partial(average, method=method))),
                     "n/a" if paper is None else fmt(paper), ", ".join(str(seed_of(run)) for run in group)])
    return markdown(head, rows)


def no_rm_rows(run: dict) -> str:
    head = ["method"] + [f"{g} N={n}" for g in GEN_ORDER for n in NS] + ["Avg"]
    rows = []
    for method in ("majority_vote", "pass_at_n"):
        rows.append([method] + [fmt(None if (c := cell(run, g, method, n)) is None else 100 * c["accuracy"])
                                for g in GEN_ORDER for n in NS] + [fmt(average(run, method))])
    rows.append(["random choice (pass@1)"] + [fmt(100 * c["accuracy"]) if (c := cell(run, g, "pass_at_n", 1))
                                              else "-" for g in GEN_ORDER for _ in NS] +
                [fmt(average(run, "pass_at_n", ns=[1]))])
    return markdown(head, rows)


def vote_table(runs: dict[str, dict], labels: list[str]) -> str:
    """The paper's Figure 3: does weighting the vote by the reward model beat plain majority vote? (Averages: the
    mean over the label's training seeds; the CI cell: its seed-0 run.)"""
    head = ["reward model", "best-of-N Avg", "weighted vote Avg", "majority vote Avg", "weighted - majority",
            "mid N=64 weighted vote [95% CI]"]

    rows = []
    for label in labels:
        run, group = runs[label], seed_runs(runs, label)
        b, w, m = (mean(values(group, partial(average, method=method)))
                   for method in ("best_of_n", "weighted_vote", "majority_vote"))
        rows.append([label, fmt(b), fmt(w), fmt(m), fmt(None if w is None or m is None else w - m),
                     fmt_ci(cell(run, "mid", "weighted_vote", 64))])
    return markdown(head, rows)


def ablation_table(runs: dict[str, dict], entries: list[tuple[str, str]], first: str = "setting") -> str:
    """Rows (description, label): per-generator averages, Avg, the mid N=64 cell and the within-problem AUC."""
    head = [first, "run"] + [f"{g} Avg" for g in GEN_ORDER] + ["Avg", "mid N=64 [95% CI]", "mid within-AUC [95% CI]"]
    rows = []
    for desc, label in entries:
        run = runs.get(label)
        if run is None:
            rows.append([desc, label] + ["not run"] + ["-"] * (len(head) - 3))
            continue
        rows.append([desc, label] + [fmt(average(run, gens=[g])) for g in GEN_ORDER] +
                    [fmt(average(run)), fmt_ci(cell(run, "mid", "best_of_n", 64)), fmt_auc(within_auc(run, "mid"))])
    return markdown(head, rows)


def flops_table(runs: dict[str, dict], labels: list[str], per: str = "implicit_ce") -> str:
    head = ["reward model", "instructions", "generated tokens", "data collection", "training", "reference", "total",
            "total / instruction", f"ratio to {per} (per instruction)"]
    base = (runs.get(per) or {}).get("compute")
    rows = []
    for label in labels:
        c = runs[label].get("compute")
        if not c:
            continue
        rows.append([label, str(c.get("instructions", "-")), f"{c['generated_tokens']:,}"] +
                    [f"{c[k]:.3g}" for k in ("data_collection_flops", "training_flops", "reference_flops",
                                              "total_flops")] +
                    [f"{per_instruction(c):.3g}", fmt(ratio(c, base), 2) + "x"])
    return markdown(head, rows)


def per_instruction(c: dict) -> float:
    return c["total_flops"] / max(1, c.get("instructions") or 1)


def ratio(c: dict | None, base: dict | None) -> float | None:
    return flop_ratio(c, base, per_instruction=True) if c and base else None


def process_table(runs: dict[str, dict], labels: list[str]) -> str:
    """Process rewards (harness.evaluation.process_rewards): per generator, F1 (accuracy on wrong responses / on
    correct ones) at the threshold chosen on the validation rollouts, localisation and step AUC; one row per scored
    view (implicit PRMs: the step reward and the accumulated q_t)."""
    head = ["reward model", "score thresholded"] + [f"{g} {k}" for g in GEN_ORDER
                                                     for k in ("F1 (wrong / correct)", "localisation", "step AUC")]
    rows = []
    for label in labels:
        proc = runs[label].get("process")
        if not proc:
            rows.append([label, "not recorded (run file from before step-level evaluation)"] + [""] * (len(head) - 2))
            continue
        if proc["status"] != "measured":
            rows.append([label, proc["status"]] + [""] * (len(head) - 2))
            continue
        for view, v in proc["views"].items():
            cells = []
            for g in GEN_ORDER:
                r = v["pools"].get(g)
                if r is None:
                    cells += ["-"] * 3
                    continue
                cells += [f"{fmt(pct(r['f1']))} ({fmt(pct(r['acc_error']))} / {fmt(pct(r['acc_correct']))})",
                          fmt(pct(r["localisation"])), fmt(r["step_auc"], 3)]
            rows.append([label, view] + cells)
    return markdown(head, rows)


def pct(x: float | None) -> float | None:
    return None if x is None else 100 * x
