"""The step-level benchmark flow (a task with flow "steps", ProcessBench): every sample scored by one reward model,
its first wrong step predicted by a threshold on the step scores tuned on one split, evaluated by
harness.evaluation.step_eval; the chance baseline (`--rm random`) draws uniform step scores."""

from __future__ import annotations

import dataclasses
import sys

import numpy as np

from harness.core.errors import InputError
from harness.core.pool import Pool
from harness.core.steps import split_steps
from harness.evaluation import step_eval
from harness.flow.config import RunConfig
from harness.flow.prepare import effective_rm_options, fit, resolve_named
from harness.flow.report import steps_record, write_run
from harness.flow.reports import StepReport
from harness.flow.timings import Stopwatch
from reward_models import REWARD_MODELS
from reward_models.lm.named_bases import resolve_base
from tasks import TASKS


def random_step_scores(pool: Pool, seed: int) -> list[list[float]]:
    """The chance baseline: independent uniform scores per step, seeded."""
    rng = np.random.default_rng(seed)
    return [[float(x) for x in rng.uniform(size=len(split_steps(p.responses[0].text)))] for p in pool.problems]


def _scorer(cfg, task, log):
    """(reward model ready to score, what it is) for loglik / trained implicit PRMs; a trainable RM with no --model
    is trained (or found cached) on the task's training pool (ProcessBench: half A of the gsm8k-gpt3 experiment, the
    same checkpoint that run made)."""
    opts = effective_rm_options(cfg.rm, cfg.rm_options)
    # A reward model whose publisher thresholds another step reward on this benchmark says so (eurus_prm: the
    # accumulated q_t, as ImplicitPRM's eval/processbench.py); an explicit --set reward= wins.
    own = getattr(REWARD_MODELS.get(cfg.rm), "step_level_reward", None)
    if own is not None and "reward" not in opts:
        opts["reward"] = own
    rm = dataclasses.replace(cfg, rm_options=opts).reward_model()
    resolve_named(rm, log)

    def base():  # converted only when something needs it
        return resolve_base(cfg.base or task.default_base, log)
    if rm.trainable and getattr(rm.config, "model", None) is None:
        train = task.train_pool(cfg.task_options, cfg.seed)
        fit(rm, train, base(), log=log, what=f"{cfg.rm} on {train.path} ({train.n_responses} solutions)")
        return rm, {"trained_on": str(train.path), "checkpoint": rm.config.model, "ref": rm.config.ref}
    if rm.trainable and rm.config.use_ref and rm.config.ref is None:
        rm.config.ref = base()
    if not rm.trainable and getattr(rm.config, "model", None) is None:
        rm.fit(None, base())
    return rm, {"model": getattr(rm.config, "model", None), "ref": getattr(rm.config, "ref", None),
                **({"reward": rm.config.reward} if hasattr(rm.config, "reward") else {})}


def run_step_level(cfg: RunConfig, log=None) -> StepReport:
    log = log or (lambda m: print(m, file=sys.stderr))
    task, topts = TASKS.get(cfg.task)(), cfg.task_options
    splits, tune_on, notes = _splits(task, topts)
    clock = Stopwatch()
    data, dropped, sizes, ids = {}, {}, {}, {}
    paper = cfg.protocol == "paper"
    with clock.stage("prepare"):
        rm, what = (None, {"seed": cfg.seed}) if cfg.rm == "random" else _scorer(cfg, task, log)
    for split in splits:
        pool, labels, dropped[split] = task.step_pool(split, topts, cfg.seed)
        sizes[split] = len(pool)
        ids[split] = [p.id for p in pool.problems]
        with clock.stage(f"score_{split}"):
            log(f"[score] {cfg.rm} on ProcessBench-{split} ({len(pool)} samples)")
            if rm is None:
                scores = random_step_scores(pool, cfg.seed)
            else:
                scores = labelled_step_scores(rm, pool)
            if paper:  # eval/processbench.py thresholds sigmoid(score)
                scores = step_eval.sigmoid_scores(scores)
        data[split] = (labels, scores)
    result = step_eval.evaluate_splits(data, tune_on, resamples=cfg.bootstrap, seed=cfg.seed,
                                       tuner=step_eval.tune_sigmoid if paper else step_eval.tune)
    if paper:
        notes.append("protocol paper: ImplicitPRM eval/processbench.py (sigmoid of the step scores, threshold the "
                     "first best of 10,000 evenly spaced in [0, 1])")
    # Every sample's predicted first wrong step (-1: none) beside its label, for `harness report`.
    thr = result["threshold"]
    predictions = {split: [{"id": i, "label": lab, "predicted": step_eval.first_below(s, thr)}
                           for i, lab, s in zip(ids[split], *data[split])] for split in splits}
    for split, n in dropped.items():
        if n:
            notes.append(f"{split}: {n} samples left out (their 'Step k:' headers mixed with unmarked paragraphs do "
                         "not split back into the labelled steps)")
    report = StepReport(config=cfg, command=cfg.command(), rm=cfg.rm, threshold=thr, tuned_on=result["tuned_on"],
                        splits=result["splits"], predictions=predictions, steps=steps_record(rm).get("steps"),
                        scorer=what, samples=sizes, left_out=dropped, notes=notes, timings=clock.timings())
    return dataclasses.replace(report, written=tuple(str(p) for p in write_run(report)))


def _splits(task, topts: dict) -> tuple[list[str], str, list[str]]:
    """(splits to run, the split the threshold is tuned on, notes), refused before any model is loaded."""
    known = task.splits
    splits = list(topts.get("splits") or known)
    for split in splits:
        if split not in known:
            raise InputError(f"unknown {task.title} split '{split}'", field="--splits", expected=", ".join(known))
    if topts.get("tune_on", task.tune_on) not in known:
        raise InputError(f"unknown {task.title} split '{topts['tune_on']}'", field="--tune-on",
                         expected=", ".join(known))
    tune_on = topts.get("tune_on", task.tune_on)
    notes = []
    if tune_on not in splits:
        notes.append(f"threshold tuned on '{splits[0]}' ('{tune_on}' not among the splits run): its F1 is in-sample")
        tune_on = splits[0]
    return splits, tune_on, notes


def labelled_step_scores(rm, pool) -> list[list[float]]:
    """Each sample's step scores, one per labelled step: a reward model scoring its publisher's steps
    (--set steps=publisher) must cut the sample into the labelled steps, or the first-wrong-step labels would be read
    against other steps."""
    scores = [p[0] for p in rm.score(pool).step_scores]
    for p, s in zip(pool.problems, scores):
        if len(s) != len(split_steps(p.responses[0].text)):
            raise InputError(f"steps={getattr(rm.config, 'steps', 'harness')} cuts sample {p.id} into {len(s)} "
                             f"steps, ProcessBench labels {len(split_steps(p.responses[0].text))}", field="steps",
                             expected="steps=harness (the labelled steps) for a step-level benchmark")
    return scores
