"""Cross-fitting, for a task whose only labelled data is the evaluation data (a task with flow "folds").

    the task's folds (gsm8k-gpt3: halves A, B) -> train on each fold's training part, score its test part -> one score
    set over all problems -> best-of-N, weighted vote, majority vote, pass@N with bootstrap CIs over all problems

Every problem is scored by the model that did not see it, so the pooled numbers use all problems without leaking
labels. Untrained reward models (loglik, random) score both halves the same way, which keeps the rows comparable.
Each fold's checkpoint and score set is an ordinary cached product, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time

from harness.core import cache


def run_crossfit(cfg, task, log=None) -> dict:
    """The fold loop over `task.folds(...)`: {part: pool}, "all" being the parts in order, and the (train, test)
    pairs `task.fold_pairs`; every problem is scored by a model trained without it."""
    from harness.core.scores import ScoreSet, save_scores
    from harness.flow.prepare import effective_rm_options, fit
    from harness.flow.report import render_report, report_run, write_fold_results
    from reward_models import get_rm
    from reward_models.lm.named_bases import resolve_base
    log = log or (lambda m: print(m, file=sys.stderr))
    topts = dict(cfg.task_options)
    timings: dict = {}
    t0 = t = time.time()
    base = resolve_base(cfg.base or task.default_base, log)
    timings["base_s"] = round(time.time() - t, 1)
    pools = task.folds(topts, cfg.seed)
    parts = [p for p in pools if p != "all"]
    log("[crossfit] " + " and ".join(f"part {h} ({len(pools[h])} problems)" for h in parts)
        + f" in {pools['all'].path.parent}")
    rm_opts = effective_rm_options(cfg.rm, cfg.rm_options)
    cfg = dataclasses.replace(cfg, rm_options=rm_opts, n=sorted({min(n, task.responses_per_problem) for n in cfg.n}))
    scored, folds = {}, []
    for train_half, test_half in task.fold_pairs:
        rm = get_rm(cfg.rm, **rm_opts)
        t = time.time()
        ckpt = fit(rm, pools[train_half], base, log=log,
                   what=f"{cfg.rm} on half {train_half} ({pools[train_half].n_responses} solutions) from {base}")
        timings[f"train_{train_half}_s"] = round(time.time() - t, 1)
        t = time.time()
        log(f"[score] {cfg.rm} on half {test_half} ({pools[test_half].n_responses} solutions)")
        scored[test_half] = rm.score(pools[test_half])
        timings[f"score_{test_half}_s"] = round(time.time() - t, 1)
        folds.append({"train": train_half, "test": test_half, "checkpoint": str(ckpt) if ckpt else None,
                      "score_key": scored[test_half].meta.get("key")})
    both = pools["all"]
    merged = ScoreSet(cfg.rm, both.content_hash(), [s for h in parts for s in scored[h].step_scores],
                      {"crossfit": folds, "rm_options": rm_opts})
    save_scores(merged, cache.stable_hash({"crossfit": [f["score_key"] for f in folds], "rm": cfg.rm}))
    t = time.time()
    report = report_run(cfg, [both], [merged])
    timings["select_s"] = round(time.time() - t, 1)
    timings["total_s"] = round(time.time() - t0, 1)
    report.update(timings=timings, folds=folds, base=base,
                  halves={h: {"problems": len(pools[h]), "pool": str(pools[h].path)} for h in parts})
    body = json.loads(render_report(report, "json"))
    body.update(folds=folds, halves=report["halves"], base=base)
    report["written"] = [str(p) for p in write_fold_results(cfg, task, report, body)]
    return report
