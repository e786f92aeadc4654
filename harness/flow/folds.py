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
import time

from harness.core import cache

# Training options for a real (135M) base when the user sets none: the TrainConfig defaults are sized for the tiny
# arith models (lr 1e-4); the forward/backward chunk of 4 sequences keeps the 49k-token-vocabulary logits in memory.
REAL_BASE_TRAIN_DEFAULTS = {"lr": "1e-5", "batch_size": "16", "grad_accum": "4", "score_batch_size": "8",
                            "max_batch_tokens": "4096"}


def effective_rm_options(rm_name: str, given: dict) -> dict:
    """The user's options, plus the real-base defaults for options this reward model has and the user left unset."""
    from reward_models import REWARD_MODELS
    names = {f.name for f in dataclasses.fields(REWARD_MODELS.get(rm_name).Config)}
    return {**{k: v for k, v in REAL_BASE_TRAIN_DEFAULTS.items() if k in names}, **given}


def results_stem(task: str, rm: str, task_options: dict, defaults: dict) -> str:
    """results/runs/<task>-<rm>, with the non-default task options appended so a small run never overwrites the
    full one."""
    extra = [k.replace("_", "") + ("+".join(map(str, v)) if isinstance(v, list) else str(v))
             for k, v in sorted(task_options.items()) if k in defaults and v != defaults[k]]
    return "-".join([task, rm, *extra])


def run_crossfit(cfg, task, log=None) -> dict:
    """The fold loop over `task.folds(...)`: {part: pool}, "all" being the parts in order, and the (train, test)
    pairs `task.fold_pairs`; every problem is scored by a model trained without it."""
    from harness.core.scores import ScoreSet, save_scores
    from harness.flow.report import render_report, report_run
    from reward_models import get_rm
    from reward_models.lm.bases import resolve_base
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
        ckpt = None
        if rm.trainable and getattr(rm.config, "model", None) is None:
            log(f"[train] {cfg.rm} on half {train_half} ({pools[train_half].n_responses} solutions) from {base}")
            ckpt = rm.fit(pools[train_half], base)
            log(f"[train] checkpoint {ckpt}")
        elif not rm.trainable:
            rm.fit(pools[train_half], base)  # loglik: the base model is the policy
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
    stem = results_stem(cfg.task, cfg.name, topts, task.option_defaults)
    note = ("Two folds: trained on half A, scored half B, and the reverse; every problem is scored by the model "
            "that did not train on it. Pass@1 is the random-choice mean accuracy.\n\n")
    md = (f"# {cfg.rm} on {cfg.task} (cross-fitted)\n\nCommand: `{report['command']}`\n\n{note}"
          + render_report(report, "markdown") + "\nTimings (s, this machine): " + str(timings) + "\n")
    import json
    body = json.loads(render_report(report, "json"))
    body.update(folds=folds, halves=report["halves"], base=base)
    report["written"] = [str(p) for p in cache.write_run_files(cfg.results, stem, md, cache.json_text(body, indent=1))]
    return report
