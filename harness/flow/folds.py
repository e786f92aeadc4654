"""Cross-fitting, for a task whose only labelled data is the evaluation data (a task with flow "folds").

    the task's folds (gsm8k-gpt3: halves A, B) -> train on each fold's training part, score its test part -> one score
    set over all problems -> best-of-N, weighted vote, majority vote, pass@N with bootstrap CIs over all problems

Every problem is scored by the model that did not see it, so the pooled numbers use all problems without leaking
labels. Untrained reward models (loglik, random) score both halves the same way, which keeps the rows comparable.
Each fold's checkpoint and score set is an ordinary cached product, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import sys

from harness.core import cache
from harness.core.scores import ScoreSet, save_scores
from harness.flow.config import RunConfig
from harness.flow.prepare import effective_rm_options, fit
from harness.flow.report import report_run, write_run
from harness.flow.reports import FoldsReport
from harness.flow.timings import Stopwatch
from reward_models.lm.named_bases import resolve_base
from tasks import TASKS


def run_crossfit(cfg: RunConfig, log=None) -> FoldsReport:
    """The fold loop over `task.folds(...)`: {part: pool}, "all" being the parts in order, and the (train, test)
    pairs `task.fold_pairs`; every problem is scored by a model trained without it."""
    log = log or (lambda m: print(m, file=sys.stderr))
    task, topts, clock = TASKS.get(cfg.task)(), dict(cfg.task_options), Stopwatch()
    with clock.stage("base"):
        base = resolve_base(cfg.base or task.default_base, log)
    pools = task.folds(topts, cfg.seed)
    parts = [p for p in pools if p != "all"]
    log("[crossfit] " + " and ".join(f"part {h} ({len(pools[h])} problems)" for h in parts)
        + f" in {pools['all'].path.parent}")
    rm_opts = effective_rm_options(cfg.rm, cfg.rm_options)
    cfg = dataclasses.replace(cfg, rm_options=rm_opts, n=sorted({min(n, task.responses_per_problem) for n in cfg.n}))
    scored, folds = {}, []
    for train_half, test_half in task.fold_pairs:
        rm = cfg.reward_model()  # one adapter a fold, on the options typed once
        with clock.stage(f"train_{train_half}"):
            ckpt = fit(rm, pools[train_half], base, log=log,
                       what=f"{cfg.rm} on half {train_half} ({pools[train_half].n_responses} solutions) from {base}")
        with clock.stage(f"score_{test_half}"):
            log(f"[score] {cfg.rm} on half {test_half} ({pools[test_half].n_responses} solutions)")
            scored[test_half] = rm.score(pools[test_half])
        folds.append({"train": train_half, "test": test_half, "checkpoint": str(ckpt) if ckpt else None,
                      "score_key": scored[test_half].meta.get("key")})
    both = pools["all"]
    merged = ScoreSet(cfg.rm, both.content_hash(), [s for h in parts for s in scored[h].step_scores],
                      {"crossfit": folds, "rm_options": rm_opts})
    save_scores(merged, cache.stable_hash({"crossfit": [f["score_key"] for f in folds], "rm": cfg.rm}))
    with clock.stage("select"):
        report = report_run(cfg, [both], [merged])
    report = FoldsReport.extend(report, timings=clock.timings(), folds=folds, base=base,
                                halves={h: {"problems": len(pools[h]), "pool": str(pools[h].path)} for h in parts})
    return dataclasses.replace(report, written=tuple(str(p) for p in write_run(report)))
