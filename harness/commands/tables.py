"""`harness tables`: collect the runs written under results/runs/ into the paper-layout leaderboard.

Reads only the small JSON files that `run` wrote (no model is loaded), so it is cheap and rewrites identical files
from identical runs. Table 1 analog: rows = reward models, columns = generator x N in {4, 16, 64} and the average,
best-of-N with min aggregation; then weighted vote, majority vote / pass@N, and ROC AUC per generator.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.cli import arguments, command

# Yuan et al. (2024), Table 1, MATH-500 best-of-N averaged over three generators and N = 4, 16, 64. Only the numbers
# quoted in this project's issues are listed; the others are left out rather than reproduced from memory.
PAPER_TABLE1_AVG = {"implicit_dpo": 50.4, "implicit_ce": 48.4, "math_shepherd": 47.8}
GEN_ORDER = ["weak", "mid", "strong"]
NS = [4, 16, 64]


def _add(p):
    p.add_argument("--results", default="results", help="results folder holding runs/ (default: results)")
    p.add_argument("--task", default="arith")
    p.add_argument("--scale", default="default")


def load_runs(folder: Path, task: str, scale: str) -> list[dict]:
    runs = []
    for f in sorted((folder / "runs").glob(f"{task}-{scale}-*.json")):
        d = json.loads(f.read_text())
        d["file"] = f.name
        runs.append(d)
    return runs


def _cell(rows, gen, rm, method, n, agg="min"):
    for r in rows:
        if r["generator"] == gen and r["rm"] == rm and r["method"] == method and r["n"] == n and \
                (r["aggregation"] == agg or method in ("majority_vote", "pass_at_n")):
            return r
    return None


def _fmt(r) -> str:
    return "-" if r is None else f"{100 * r['accuracy']:.1f}"


def table(runs: list[dict], method: str) -> str:
    head = ["reward model"] + [f"{g} N={n}" for g in GEN_ORDER for n in NS] + ["Avg", "paper Avg"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for run in runs:
        rm = run["config"]["rm"]
        cells = [_cell(run["rows"], g, rm, method, n) for g in GEN_ORDER for n in NS]
        vals = [100 * c["accuracy"] for c in cells if c is not None]
        avg = f"{sum(vals) / len(vals):.1f}" if len(vals) == len(cells) else "-"
        paper = f"{PAPER_TABLE1_AVG[rm]:.1f}" if method == "best_of_n" and rm in PAPER_TABLE1_AVG else "n/a"
        lines.append("| " + " | ".join([rm] + [_fmt(c) for c in cells] + [avg, paper]) + " |")
    return "\n".join(lines)


def reference_rows(runs: list[dict]) -> str:
    if not runs:
        return ""
    rows = runs[0]["rows"]
    lines = ["| method | " + " | ".join(f"{g} N={n}" for g in GEN_ORDER for n in NS) + " | Avg |",
             "|---|" + "---:|" * (len(GEN_ORDER) * len(NS) + 1)]
    for method in ("majority_vote", "pass_at_n"):
        cells = [_cell(rows, g, "-", method, n) for g in GEN_ORDER for n in NS]
        vals = [100 * c["accuracy"] for c in cells if c is not None]
        avg = f"{sum(vals) / len(vals):.1f}" if len(vals) == len(cells) else "-"
        lines.append(f"| {method} | " + " | ".join(_fmt(c) for c in cells) + f" | {avg} |")
    p1 = [_cell(rows, g, "-", "pass_at_n", 1) for g in GEN_ORDER]
    lines.append("| pass@1 | " + " | ".join(_fmt(c) for c in p1 for _ in NS) + " | |")
    return "\n".join(lines)


def auc_table(runs: list[dict], prefix: str = "") -> str:
    """Pooled ROC AUC (prefix "") or the within-problem one (prefix "within_"), with 95% CIs."""
    lines = ["| reward model | " + " | ".join(f"{g} AUC [95% CI]" for g in GEN_ORDER) + " |",
             "|---|" + "---|" * len(GEN_ORDER)]
    for run in runs:
        by = {a["generator"]: a for a in run.get("auc", [])}
        cells = []
        for g in GEN_ORDER:
            a = by.get(g) or {}
            v, lo, hi = a.get(f"{prefix}auc"), a.get(f"{prefix}ci_low"), a.get(f"{prefix}ci_high")
            cells.append("-" if v is None or lo is None else f"{v:.3f} [{lo:.3f}, {hi:.3f}]")
        lines.append(f"| {run['config']['rm']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def ci_table(runs: list[dict]) -> str:
    lines = ["| reward model | " + " | ".join(f"{g} N=64" for g in GEN_ORDER) + " |", "|---|" + "---|" * 3]
    for run in runs:
        rm = run["config"]["rm"]
        cells = []
        for g in GEN_ORDER:
            c = _cell(run["rows"], g, rm, "best_of_n", 64)
            cells.append("-" if c is None else
                         f"{100 * c['accuracy']:.1f} [{100 * c['ci_low']:.1f}, {100 * c['ci_high']:.1f}]")
        lines.append(f"| {rm} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


@command("tables", "collect results/runs/ into the paper-layout leaderboard (results/leaderboard.md)")
@arguments(_add)
def run(args) -> int:
    from harness import cache
    from harness.errors import InputError
    folder = Path(args.results)
    runs = load_runs(folder, args.task, args.scale)
    if not runs:
        raise InputError("no runs to tabulate", file=folder / "runs",
                         expected="files written by `python -m harness run --rm NAME`")
    cmds = "\n".join(f"- `{r.get('command', 'python -m harness run --rm ' + r['config']['rm'])}` ({r['file']}, {r.get('timings', {}).get('total_s', '?')} s)" for r in runs)
    text = "\n\n".join([
        f"# Leaderboard: {args.task}, {args.scale} scale",
        "Written by `python -m harness tables` from the runs below. Accuracy in %, expectation over random "
        "N-subsets of each problem's 64 responses; 95% bootstrap CIs over problems are in each run's JSON.",
        "## Best-of-N (min step aggregation): the paper's Table 1 layout",
        "The paper's column is its MATH-500 average over its three generators (real LLMs), shown for orientation "
        "only: this world is a small arithmetic task with tiny generators, so only the ordering of methods is "
        "comparable, not the values. `n/a`: the paper gives no number here.",
        table(runs, "best_of_n"),
        "## Weighted majority vote (sigmoid weights of the min step reward)",
        table(runs, "weighted_vote"),
        "## Without a reward model",
        reference_rows(runs),
        "## Best-of-64 with 95% CIs",
        ci_table(runs),
        "## Does the reward model separate correct from incorrect responses? (ROC AUC, min aggregation)",
        "Within-problem AUC: the mean over problems with both correct and incorrect responses of the AUC among that "
        "problem's responses; best-of-N only ever compares responses to one problem, so this is the figure that "
        "predicts selection. 0.5 is chance.",
        auc_table(runs, "within_"),
        "Pooled AUC over all responses of a pool (also credits knowing which problems are easy):",
        auc_table(runs),
        "## Runs",
        cmds,
    ]) + "\n"
    out = folder / "leaderboard.md"
    cache.write_text_atomic(out, text)
    print(f"wrote {out}")
    return 0
