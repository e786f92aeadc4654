"""The one report writer of `run`: selection rows and ROC AUCs of the scored pools, rendered as a table, markdown
or JSON, and the run's files in the cache (and under --results)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from harness.core import cache
from harness.core.pool import Pool


def steps_record(rm) -> dict:
    """{"steps": mode} for a reward model whose Config has a `steps` option (harness.core.publisher_steps), else {}:
    what a run file records about which steps were scored."""
    steps = getattr(getattr(rm, "config", None), "steps", None)
    return {} if steps is None else {"steps": steps}


def report_run(cfg, pools: list[Pool], score_sets, rm=None) -> dict:
    from harness.evaluation import leaderboard as lb
    from harness.evaluation.auc import roc_auc_ci
    from harness.evaluation.per_problem import record
    opts = lb.Options(methods=("best_of_n", "weighted_vote", "majority_vote", "pass_at_n"),
                      aggregations=(cfg.aggregation,), ns=cfg.n, subsets=cfg.subsets, weights=cfg.weights,
                      mc_samples=cfg.mc_samples, bootstrap=cfg.bootstrap, seed=cfg.seed,
                      protocol=getattr(cfg, "protocol", "harness"))
    opts.validate()
    results, aucs = [], []
    for pool, ss in zip(pools, score_sets):
        res = lb.evaluate_pool(pool, [ss], opts, cfg.n)
        results.append(res)
        scores = ss.aggregate(cfg.aggregation)
        auc = roc_auc_ci(scores, [[r.correct for r in p.responses] for p in pool.problems], seed=cfg.seed)
        aucs.append({"generator": pool.generator(), "rm": cfg.rm, "aggregation": cfg.aggregation, **auc})
    rm_label = score_sets[0].rm if score_sets else cfg.rm  # the rows' rm (evaluate_pool labels by score set)
    return {"config": asdict(cfg), "command": cfg.command(), "results": results, "rows": lb.rows_of(results),
            "auc": aucs, **steps_record(rm), "per_problem": record(results, rm_label, cfg.aggregation)}


def render_report(report: dict, fmt: str = "table") -> str:
    from tabulate import tabulate

    from harness.evaluation import leaderboard as lb
    if report.get("kind") == "processbench":  # step-level report (harness.evaluation.step_eval)
        from harness.evaluation.step_eval import render
        return render(report, fmt)
    if fmt == "json":
        text = json.dumps({"command": report["command"], "rows": report["rows"], "auc": report["auc"],
                           "config": report["config"], "timings": report.get("timings", {}),
                           "compute": report.get("compute"),
                           **({"steps": report["steps"]} if "steps" in report else {}),
                           **({"process": report["process"]} if report.get("process") else {}),
                           **({"world": report["world"]} if report.get("world") else {})}, indent=1)
        return with_per_problem(text + "\n", report.get("per_problem"))
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
    if report.get("process"):  # step-level: does the reward model find the first wrong step?
        from harness.evaluation.process_rewards import render
        text += "\n" + render(report["process"], fmt)
    return text


def with_per_problem(text: str, block: dict | None) -> str:
    """An indented JSON object's text with the per-problem block appended as its last field, each vector on one
    line (harness.evaluation.per_problem); the text unchanged without a block."""
    if not block:
        return text
    from harness.evaluation.per_problem import FIELD, to_json
    body = text.rstrip()
    assert body.endswith("}"), "an indented JSON object"
    return body[:-1].rstrip() + f',\n "{FIELD}": ' + to_json(block) + "\n}\n"


def results_stem(task: str, rm: str, task_options: dict, defaults: dict) -> str:
    """<task>-<rm>, with the non-default task options appended so a small run never overwrites the full one."""
    extra = [k.replace("_", "") + ("+".join(map(str, v)) if isinstance(v, list) else str(v))
             for k, v in sorted(task_options.items()) if k in defaults and v != defaults[k]]
    return "-".join([task, rm, *extra])


def write_run(results, stem: str, *, heading: str, command: str, body_md: str, timings: str, body_json: str,
              intro: str = "") -> list[Path]:
    """Every run's files: <stem>.md (heading, command, intro, the tables, timings) and <stem>.json, in the cache's
    runs/ and, with `results`, under results/runs/."""
    md = f"# {heading}\n\nCommand: `{command}`\n\n{intro}{body_md}\nTimings (s, this machine): {timings}\n"
    return cache.write_run_files(results, stem, md, body_json)


def write_results(cfg, report: dict) -> list[Path]:
    """The run files of `run` on pools (the arith world's, or given)."""
    from reward_models import default_aggregation
    agg, source = default_aggregation(cfg.rm)
    steps = report.get("steps")
    paper = getattr(cfg, "protocol", "harness") == "paper"  # its own files: the two protocols' numbers never mix
    return write_run(cfg.results, f"{cfg.task}-{cfg.scale}-{cfg.name}" + (f"-s{cfg.seed}" if cfg.seed else "")
                     + ("-paper" if paper else ""),
                     heading=f"{cfg.name} on {cfg.task} ({cfg.scale} scale, seed {cfg.seed})",
                     command=report["command"], body_md=render_report(report, "markdown"),
                     timings=json.dumps(report.get("timings", {})), body_json=render_report(report, "json"),
                     intro=f"Accuracy in % (95% bootstrap CIs over problems are in the JSON beside this file); "
                           f"best-of-N and weighted vote use `{cfg.aggregation}` step aggregation"
                           + (f" ({source})" if cfg.aggregation == agg else "") + f", weighted vote uses "
                           f"{cfg.weights} weights; n-subsets: {cfg.subsets}."
                           + ("" if steps is None else f" Steps scored: `{steps}` (--set steps=harness | publisher).")
                           + "\n\n"
                           + ("Protocol: paper (the ImplicitPRM authors' eval/bon_eval.py: first n responses, ties "
                              "to the first response or answer, answerless responses voting as one class; "
                              "harness.selection.paper).\n\n" if paper else ""))


def write_fold_results(cfg, task, report: dict, body: dict) -> list[Path]:
    """The run files of a cross-fitted run (harness.flow.folds)."""
    return write_run(cfg.results, results_stem(cfg.task, cfg.name, cfg.task_options, task.option_defaults()),
                     heading=f"{cfg.rm} on {cfg.task} (cross-fitted)", command=report["command"],
                     body_md=render_report(report, "markdown"), timings=str(report["timings"]),
                     body_json=with_per_problem(cache.json_text({k: v for k, v in body.items() if k != "per_problem"},
                                                                indent=1), body.get("per_problem")),
                     intro="Two folds: trained on half A, scored half B, and the reverse; every problem is scored "
                           "by the model that did not train on it. Pass@1 is the random-choice mean accuracy.\n\n")


def write_step_results(cfg, task, report: dict) -> list[Path]:
    """The run files of a step-level benchmark run (harness.flow.step_level)."""
    from harness.evaluation import step_eval
    return write_run(cfg.results, results_stem(task.name, cfg.name, cfg.task_options, task.option_defaults())
                     + ("-paper" if getattr(cfg, "protocol", "harness") == "paper" else ""),
                     heading=f"{cfg.rm} on {task.title}", command=report["command"],
                     body_md=step_eval.render(report, "markdown"), timings=str(report["timings"]),
                     body_json=step_eval.render(report, "json"))
