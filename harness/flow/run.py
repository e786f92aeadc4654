"""`run`: do whatever of the flow is missing for one reward model, then report.

    world (arith) or given pools -> train the reward model on RM-training rollouts -> score every test pool
    -> select (best-of-N, weighted vote, beside majority vote and pass@N) -> leaderboard

Every stage is cached (world, checkpoint, reference log-probs, scores), so a second identical run only selects.
One RunConfig per run, printed and saved with its results.
"""

from __future__ import annotations

import json
import re
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness.core.errors import InputError
from harness.core.pool import load_pool
from harness.flow.prepare import prepare_rm
from harness.flow.report import report_run, write_results
from reward_models import default_aggregation
from tasks.base import TaskInputs as RunInputs

DEFAULT_NS = [1, 2, 4, 8, 16, 32, 64]


@dataclass
class RunConfig:
    rm: str
    task: str = "arith"
    scale: str = "default"
    seed: int = 0
    generators: list[str] = field(default_factory=lambda: ["weak", "mid", "strong"])
    pools: list[str] = field(default_factory=list)        # data-backed tasks: pools to score
    train_pool: str | None = None                          # ... and the RM-training rollouts
    val_pool: str | None = None
    base: str | None = None                                # base model the RM is trained from
    n: list[int] = field(default_factory=lambda: list(DEFAULT_NS))
    aggregation: str | None = None                         # None: the reward model's publisher's, else min
    weights: str = "sigmoid"
    subsets: str = "random"
    mc_samples: int = 256
    bootstrap: int = 1000
    rm_options: dict = field(default_factory=dict)
    threads: int | None = None
    results: str | None = None
    label: str | None = None                               # names the run's files and table row (default: rm)
    task_options: dict = field(default_factory=dict)       # --data, --max-problems, --splits, ... of data tasks
    rebuild: bool = False                                  # arith: the world built in the cache, not the shipped one
    protocol: str = "harness"                              # paper: the ImplicitPRM authors' eval (flow.protocol)

    def __post_init__(self):
        if self.aggregation is None:  # an unknown rm is check_config's to report
            self.aggregation = default_aggregation(self.rm)[0]

    @property
    def name(self) -> str:
        return self.label or self.rm

    def command(self) -> str:
        parts = ["python -m harness run", f"--rm {self.rm}"]
        if self.task != "arith":
            parts.append(f"--task {self.task}")
        if self.scale != "default":
            parts.append(f"--scale {self.scale}")
        if self.seed:
            parts.append(f"--seed {self.seed}")
        if self.rebuild:
            parts.append("--rebuild")
        if self.protocol != "harness":
            parts.append(f"--protocol {self.protocol}")
        for k, v in sorted(self.rm_options.items()):
            parts.append(f"--set {k}={v}")
        if self.aggregation != default_aggregation(self.rm)[0]:
            parts.append(f"--aggregation {self.aggregation}")
        if self.label:
            parts.append(f"--label {self.label}")
        if self.base and not self.pools:
            parts.append(f"--base {self.base}")
        for k, v in sorted(self.task_options.items()):
            parts.append(f"--{k.replace('_', '-')} " + (",".join(v) if isinstance(v, list) else str(v)))
        return " ".join(parts)


def check_config(cfg: RunConfig) -> None:
    """Refuse a bad reward-model name or option, or bad selection settings, before anything is built or trained."""
    from harness.evaluation import leaderboard as lb
    from reward_models import REWARD_MODELS, get_rm
    if cfg.rm not in REWARD_MODELS:
        raise InputError(f"unknown reward model '{cfg.rm}'", field="--rm",
                         expected="one of " + ", ".join(REWARD_MODELS.names()))
    get_rm(cfg.rm, **cfg.rm_options)  # unknown option or bad value: names the option
    if cfg.label is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", cfg.label):
        raise InputError(f"label '{cfg.label}' cannot name a file", field="--label",
                         expected="letters, digits, '_', '.', '-' (e.g. implicit_ce-r1)")
    from tasks import TASKS
    if cfg.task not in TASKS:
        raise InputError(f"unknown task '{cfg.task}'", field="--task", expected="one of " + ", ".join(TASKS.names()))
    lb.Options(methods=("best_of_n",), aggregations=(cfg.aggregation,), ns=cfg.n, subsets=cfg.subsets,
               weights=cfg.weights, mc_samples=cfg.mc_samples, bootstrap=cfg.bootstrap, seed=cfg.seed,
               protocol=cfg.protocol).validate()
    for p in [*cfg.pools, cfg.train_pool, cfg.val_pool]:
        if p is not None and not Path(p).is_file():
            raise InputError("pool file not found" if not Path(p).exists() else "is a folder", file=p,
                             expected="a pool file (JSON Lines)")


def resolve_inputs(cfg: RunConfig, log) -> RunInputs:
    if cfg.pools:
        pools = [load_pool(p) for p in cfg.pools]
        train = load_pool(cfg.train_pool) if cfg.train_pool else None
        val = load_pool(cfg.val_pool) if cfg.val_pool else None
        from reward_models.lm.named_bases import resolve_base
        return RunInputs(pools, train, val, resolve_base(cfg.base, log))  # a named base (smollm2) -> its folder
    from tasks import get_task
    task = get_task(cfg.task)
    if task.flow != "world":
        raise InputError(f"task '{cfg.task}' has no built-in pools", field="--pool",
                         expected="--pool POOL (from `generate` or `import`) and --train-pool/--base or model=PATH")
    return task.world_inputs(scale=cfg.scale, seed=cfg.seed, generators=cfg.generators, threads=cfg.threads,
                             rebuild=cfg.rebuild, base=cfg.base, log=log)


def run(cfg: RunConfig, log=None) -> dict:
    """The report of one run. Under torchrun every rank scores its share; only rank 0 reports and writes results
    (the other ranks return {})."""
    from harness.core import distributed
    log = log or (lambda m: print(m, file=sys.stderr))
    import torch
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    world = distributed.current()
    t0 = time.time()
    log("run config: " + json.dumps(asdict(cfg), sort_keys=True))
    from tasks import TASKS
    task_cls = TASKS.get(cfg.task)
    if task_cls.flow in ("folds", "steps") and not cfg.pools:
        from harness.flow.folds import run_crossfit
        from harness.flow.step_level import run_step_level
        return (run_crossfit if task_cls.flow == "folds" else run_step_level)(cfg, task_cls(), log)
    with distributed.main_first():  # rank 0 builds the world first; the others then find it cached
        inputs = resolve_inputs(cfg, log)
    timings = {"world_s": round(time.time() - t0, 1)}
    t = time.time()
    with distributed.main_first():  # ... and trains the reward model once
        rm = prepare_rm(cfg, inputs, log)
    timings["train_s"] = round(time.time() - t, 1)
    t = time.time()
    score_sets = []
    for pool in inputs.test_pools:
        log(f"[score] {cfg.rm} on {pool.path} ({pool.n_responses} responses)")
        score_sets.append(rm.score(pool))
    timings["score_s"] = round(time.time() - t, 1)
    t = time.time()
    val_scores = score_validation(rm, inputs, score_sets, log)
    timings["score_val_s"] = round(time.time() - t, 1)
    if not world.is_main:
        return {}
    t = time.time()
    report = report_run(cfg, inputs.test_pools, score_sets, rm)
    timings["select_s"] = round(time.time() - t, 1)
    t = time.time()
    report["process"] = process_rewards(cfg, rm, inputs, score_sets, val_scores)
    timings["process_s"] = round(time.time() - t, 1)
    timings["total_s"] = round(time.time() - t0, 1)
    report["timings"] = timings
    report["compute"] = development_compute(rm)
    if inputs.world:
        report["world"] = inputs.world
    report["written"] = [str(p) for p in write_results(cfg, report)]
    log("[run] run files: " + ", ".join(p for p in report["written"] if p.endswith(".md"))
        + " (`python -m harness leaderboard` lists the cache's)")
    return report


def score_validation(rm, inputs: RunInputs, score_sets, log):
    """The validation rollouts' scores, which choose the step-level threshold: only where the test pools record
    their first wrong steps and the reward model gives more than one score a response (else no step-level report;
    an ORM's run costs nothing more)."""
    from harness.evaluation import process_rewards as pr
    val = inputs.val_pool
    if val is None or not pr.labelled(val) or not all(pr.labelled(p) for p in inputs.test_pools) or \
            any(pr.outcome_only(p, ss.step_scores) for p, ss in zip(inputs.test_pools, score_sets)):
        return None
    log(f"[score] {rm.name} on {val.path} ({val.n_responses} responses: the step-level threshold)")
    return rm.score(val)


def process_rewards(cfg: RunConfig, rm, inputs: RunInputs, score_sets, val_scores) -> dict:
    """The step-level report (harness.evaluation.process_rewards): the threshold chosen on the validation rollouts,
    applied to every test pool; implicit PRMs also on the accumulated q_t."""
    from harness.evaluation import process_rewards as pr
    from reward_models.implicit import ImplicitPRM
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
    from reward_models.training.flops import read_compute
    model = getattr(rm.config, "model", None)
    if not getattr(rm, "trainable", False) or model is None or not Path(model).is_dir():
        return None
    return read_compute(model)
