"""The one report writer of `run`: selection rows and ROC AUCs of the scored pools, rendered as a table, markdown
or JSON, and the run's files in the cache (and under --results)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from harness.core import cache
from harness.core.pool import Pool


def report_run(cfg, pools: list[Pool], score_sets) -> dict:
    from harness.evaluation import leaderboard as lb
    from harness.evaluation.auc import roc_auc_ci
    opts = lb.Options(methods=("best_of_n", "weighted_vote", "majority_vote", "pass_at_n"),
                      aggregations=(cfg.aggregation,), ns=cfg.n, subsets=cfg.subsets, weights=cfg.weights,
                      mc_samples=cfg.mc_samples, bootstrap=cfg.bootstrap, seed=cfg.seed)
    opts.validate()
    results, aucs = [], []
    for pool, ss in zip(pools, score_sets):
        res = lb.evaluate_pool(pool, [ss], opts, cfg.n)
        results.append(res)
        scores = ss.aggregate(cfg.aggregation)
        auc = roc_auc_ci(scores, [[r.correct for r in p.responses] for p in pool.problems], seed=cfg.seed)
        aucs.append({"generator": pool.generator(), "rm": cfg.rm, "aggregation": cfg.aggregation, **auc})
    return {"config": asdict(cfg), "command": cfg.command(), "results": results, "rows": lb.rows_of(results),
            "auc": aucs}


def render_report(report: dict, fmt: str = "table") -> str:
    from tabulate import tabulate

    from harness.evaluation import leaderboard as lb
    if report.get("kind") == "processbench":  # step-level report (harness.evaluation.step_eval)
        from harness.evaluation.step_eval import render
        return render(report, fmt)
    if fmt == "json":
        return json.dumps({"command": report["command"], "rows": report["rows"], "auc": report["auc"],
                           "config": report["config"], "timings": report.get("timings", {}),
                           "compute": report.get("compute"),
                           **({"world": report["world"]} if report.get("world") else {})}, indent=1) + "\n"
    text = lb.render(report["results"], "markdown" if fmt == "markdown" else "table")

    def ci(a, k):
        lo, hi = a.get(f"{k}ci_low"), a.get(f"{k}ci_high")
        return "-" if lo is None else f"[{lo:.3f}, {hi:.3f}]"

    def val(x):
        return "-" if x is None else f"{x:.3f}"

    auc_rows = [[a["generator"], a["rm"], a["aggregation"], val(a["auc"]), ci(a, ""), val(a.get("within_auc")),
                 ci(a, "within_"), a["responses"]] for a in report["auc"]]
    head = ["generator", "rm", "agg", "ROC AUC pooled", "95% CI", "within-problem AUC", "95% CI", "responses"]
    text += "\n" + tabulate(auc_rows, head, tablefmt="github" if fmt == "markdown" else "simple") + "\n"
    return text


def write_results(cfg, report: dict) -> list[Path]:
    """The run's markdown and JSON files in the cache and, with cfg.results, under cfg.results/runs/."""
    stem = f"{cfg.task}-{cfg.scale}-{cfg.name}" + (f"-s{cfg.seed}" if cfg.seed else "")
    md = (f"# {cfg.name} on {cfg.task} ({cfg.scale} scale, seed {cfg.seed})\n\n"
          f"Command: `{report['command']}`\n\n"
          f"Accuracy in % (95% bootstrap CIs over problems are in the JSON beside this file); best-of-N and weighted "
          f"vote use `{cfg.aggregation}` step aggregation, weighted vote uses {cfg.weights} weights; n-subsets: "
          f"{cfg.subsets}.\n\n" + render_report(report, "markdown")
          + "\nTimings (s, this machine): " + json.dumps(report.get("timings", {})) + "\n")
    return cache.write_run_files(cfg.results, stem, md, render_report(report, "json"))
