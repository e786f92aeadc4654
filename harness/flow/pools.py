"""The pools flow of `run`: do whatever is missing for one reward model on pools, then report.

    world (arith) or given pools -> train the reward model on RM-training rollouts -> score every test pool
    -> select (best-of-N, weighted vote, beside majority vote and pass@N) -> leaderboard

Every stage is cached (world, checkpoint, reference log-probs, scores), so a second identical run only selects.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from harness.core import distributed
from harness.core.errors import InputError
from harness.core.pool import load_pool
from harness.evaluation import process_rewards as pr
from harness.flow.config import RunConfig
from harness.flow.prepare import prepare_rm
from harness.flow.report import report_run, write_run
from harness.flow.reports import SelectionReport
from harness.flow.timings import Stopwatch
from reward_models.implicit import ImplicitPRM
from reward_models.lm.named_bases import resolve_base
from reward_models.training.flops import read_compute
from tasks import get_task
from tasks.base import TaskInputs as RunInputs


def resolve_inputs(cfg: RunConfig, log) -> RunInputs:
    if cfg.pools:
        pools = [load_pool(p) for p in cfg.pools]
        train = load_pool(cfg.train_pool) if cfg.train_pool else None
        val = load_pool(cfg.val_pool) if cfg.val_pool else None
        return RunInputs(pools, train, val, resolve_base(cfg.base, log))  # a named base (smollm2) -> its folder
    task = get_task(cfg.task)
    if task.flow != "world":
        raise InputError(f"task '{cfg.task}' has no built-in pools", field="--pool",
                         expected="--pool POOL (from `generate` or `import`) and --train-pool/--base or model=PATH")
    return task.world_inputs(scale=cfg.scale, seed=cfg.seed, generators=cfg.generators, threads=cfg.threads,
                             rebuild=cfg.rebuild, base=cfg.base, log=log)


def run_pools(cfg: RunConfig, log) -> SelectionReport | None:
    """The report of one run on pools. Under torchrun every rank scores its share; only rank 0 reports and writes
    results (the other ranks return None)."""
    world, clock = distributed.current(), Stopwatch()
    with distributed.main_first():  # rank 0 builds the world first; the others then find it cached
        inputs = resolve_inputs(cfg, log)
    clock.since_start("world")
    with clock.stage("train"), distributed.main_first():  # ... and trains the reward model once
        rm = prepare_rm(cfg, inputs, log)
    score_sets = []
    with clock.stage("score"):
        for pool in inputs.test_pools:
            log(f"[score] {cfg.rm} on {pool.path} ({pool.n_responses} responses)")
            score_sets.append(rm.score(pool))
    with clock.stage("score_val"):
        val_scores = score_validation(rm, inputs, score_sets, log)
    if not world.is_main:
        return None
    with clock.stage("select"):
        report = report_run(cfg, inputs.test_pools, score_sets, rm)
    with clock.stage("process"):
        process = process_rewards(cfg, rm, inputs, score_sets, val_scores)
    report = dataclasses.replace(report, process=process, timings=clock.timings(), compute=development_compute(rm),
                                 world=inputs.world or None)
    report = dataclasses.replace(report, written=tuple(str(p) for p in write_run(report)))
    log("[run] run files: " + ", ".join(p for p in report.written if p.endswith(".md"))
        + " (`python -m harness leaderboard` lists the cache's)")
    return report


def score_validation(rm, inputs: RunInputs, score_sets, log):
    """The validation rollouts' scores, which choose the step-level threshold: only where the test pools record
    their first wrong steps and the reward model gives more than one score a response (else no step-level report;
    an ORM's run costs nothing more)."""
    val = inputs.val_pool
    if val is None or not pr.labelled(val) or not all(pr.labelled(p) for p in inputs.test_pools) or \
            any(pr.outcome_only(p, ss.step_scores) for p, ss in zip(inputs.test_pools, score_sets)):
        return None
    log(f"[score] {rm.name} on {val.path} ({val.n_responses} responses: the step-level threshold)")
    return rm.score(val)


def process_rewards(cfg: RunConfig, rm, inputs: RunInputs, score_sets, val_scores) -> dict:
    """The step-level report (harness.evaluation.process_rewards): the threshold chosen on the validation rollouts,
    applied to every test pool; implicit PRMs also on the accumulated q_t."""
    implicit = isinstance(rm, ImplicitPRM)
    tests, seen = {}, set()
    for pool, ss in zip(inputs.test_pools, score_sets):
        name = pool.generator()
        name = name if name not in seen else f"{name} ({pool.path.name if pool.path else len(seen)})"
        seen.add(name)
        tests[name] = (pool, ss.step_scores)
    val = None if val_scores is None else (Path(inputs.val_pool.path).name.split(".")[0] if inputs.val_pool.path else
                                           "validation", inputs.val_pool, val_scores.step_scores)
    return pr.evaluate(val, tests, implicit=implicit, accumulated=implicit and rm.config.reward == "accumulative",
                       resamples=cfg.bootstrap, seed=cfg.seed)


def development_compute(rm) -> dict | None:
    """FLOPs it took to develop the reward model (its checkpoint's compute.json), for the FLOPs tables."""
    model = getattr(rm.config, "model", None)
    if not getattr(rm, "trainable", False) or model is None or not Path(model).is_dir():
        return None
    return read_compute(model)
