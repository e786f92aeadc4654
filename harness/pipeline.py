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

from harness import cache
from harness.errors import InputError
from harness.pool import Pool, load_pool

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
    aggregation: str = "min"
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
        for k, v in sorted(self.rm_options.items()):
            parts.append(f"--set {k}={v}")
        if self.label:
            parts.append(f"--label {self.label}")
        if self.base and not self.pools:
            parts.append(f"--base {self.base}")
        for k, v in sorted(self.task_options.items()):
            parts.append(f"--{k.replace('_', '-')} " + (",".join(v) if isinstance(v, list) else str(v)))
        return " ".join(parts)


@dataclass
class RunInputs:
    test_pools: list[Pool]
    train_pool: Pool | None
    val_pool: Pool | None
    base_model: str | None
    world: str | None = None  # the arith world's content key: run files say which world they measured


def check_config(cfg: RunConfig) -> None:
    """Refuse a bad reward-model name or option, or bad selection settings, before anything is built or trained."""
    from harness import leaderboard as lb
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
               weights=cfg.weights, mc_samples=cfg.mc_samples, bootstrap=cfg.bootstrap, seed=cfg.seed).validate()
    for p in [*cfg.pools, cfg.train_pool, cfg.val_pool]:
        if p is not None and not Path(p).is_file():
            raise InputError("pool file not found" if not Path(p).exists() else "is a folder", file=p,
                             expected="a pool file (JSON Lines)")


def resolve_inputs(cfg: RunConfig, log) -> RunInputs:
    if cfg.pools:
        pools = [load_pool(p) for p in cfg.pools]
        train = load_pool(cfg.train_pool) if cfg.train_pool else None
        val = load_pool(cfg.val_pool) if cfg.val_pool else None
        from reward_models.bases import resolve_base
        return RunInputs(pools, train, val, resolve_base(cfg.base, log))  # a named base (smollm2) -> its folder
    from tasks import TASKS
    if not getattr(TASKS.get(cfg.task), "builds_world", False):
        raise InputError(f"task '{cfg.task}' has no built-in pools", field="--pool",
                         expected="--pool POOL (from `generate` or `import`) and --train-pool/--base or model=PATH")
    from tasks.arith.world import GENERATORS, open_world, world_config
    overrides = {"threads": cfg.threads} if cfg.threads else {}
    wcfg = world_config(cfg.scale, cfg.seed, **overrides)
    for g in cfg.generators:
        if g not in GENERATORS:
            raise InputError(f"unknown generator '{g}'", field="--generators", expected=", ".join(GENERATORS))
    world = open_world(wcfg, rebuild=cfg.rebuild, log=log)
    log(f"[world] arith world {world.key} ({'shipped, checksums verified' if world.frozen else 'built in the cache'})")
    return RunInputs([load_pool(world.pool("test", g)) for g in cfg.generators],
                     load_pool(world.pool("rm_train", "mid")), load_pool(world.pool("rm_val", "mid")),
                     cfg.base or str(world.generator("mid")), world.key)


def run(cfg: RunConfig, log=None) -> dict:
    """The report of one run. Under torchrun every rank scores its share; only rank 0 reports and writes results
    (the other ranks return {})."""
    from harness import distributed
    log = log or (lambda m: print(m, file=sys.stderr))
    import torch
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    world = distributed.current()
    t0 = time.time()
    log("run config: " + json.dumps(asdict(cfg), sort_keys=True))
    from tasks import TASKS
    experiment = getattr(TASKS.get(cfg.task), "run_experiment", None)
    if experiment is not None and not cfg.pools:  # tasks with their own flow (gsm8k-gpt3 folds, processbench)
        return experiment(cfg, log)
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
    if not world.is_main:
        return {}
    t = time.time()
    report = report_run(cfg, inputs.test_pools, score_sets)
    timings["select_s"] = round(time.time() - t, 1)
    timings["total_s"] = round(time.time() - t0, 1)
    report["timings"] = timings
    report["compute"] = development_compute(rm)
    if inputs.world:
        report["world"] = inputs.world
    report["written"] = [str(p) for p in write_results(cfg, report)]
    log("[run] run files: " + ", ".join(p for p in report["written"] if p.endswith(".md"))
        + " (`python -m harness leaderboard` lists the cache's)")
    return report


def prepare_rm(cfg: RunConfig, inputs: RunInputs, log):
    """The reward model, trained (or loaded from the cache) when it learns and no checkpoint was given."""
    from reward_models import get_rm
    rm = get_rm(cfg.rm, **cfg.rm_options)
    from reward_models.bases import is_named, resolve_base
    for attr in ("model", "ref"):  # --model smollm2 / --ref smollm2: a named base -> its converted folder
        if is_named(getattr(rm.config, attr, None)):
            setattr(rm.config, attr, resolve_base(getattr(rm.config, attr), log))
    if rm.trainable and getattr(rm.config, "model", None) is None:
        if inputs.train_pool is None or inputs.base_model is None:
            raise InputError(f"{cfg.rm} must be trained first", field="--train-pool/--base",
                             expected="RM-training rollouts and their base model, or --model PATH")
        log(f"[train] {cfg.rm} from {inputs.base_model} on {inputs.train_pool.n_responses} rollouts")
        log(f"[train] checkpoint {rm.fit(inputs.train_pool, inputs.base_model, inputs.val_pool)}")
    elif not rm.trainable and inputs.base_model is not None:
        rm.fit(inputs.train_pool, inputs.base_model, inputs.val_pool)  # loglik: the policy is the base model
    return rm


def development_compute(rm) -> dict | None:
    """FLOPs it took to develop the reward model (its checkpoint's compute.json), for the FLOPs tables."""
    from reward_models.compute import read_compute
    model = getattr(rm.config, "model", None)
    if not getattr(rm, "trainable", False) or model is None or not Path(model).is_dir():
        return None
    return read_compute(model)


def report_run(cfg: RunConfig, pools: list[Pool], score_sets) -> dict:
    from harness import leaderboard as lb
    from harness.metrics import roc_auc_ci
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

    from harness import leaderboard as lb
    if report.get("kind") == "processbench":  # step-level report (harness.step_eval)
        from harness.step_eval import render
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


def write_results(cfg: RunConfig, report: dict) -> list[Path]:
    """The run's markdown and JSON files in the cache and, with cfg.results, under cfg.results/runs/."""
    stem = f"{cfg.task}-{cfg.scale}-{cfg.name}" + (f"-s{cfg.seed}" if cfg.seed else "")
    md = (f"# {cfg.name} on {cfg.task} ({cfg.scale} scale, seed {cfg.seed})\n\n"
          f"Command: `{report['command']}`\n\n"
          f"Accuracy in % (95% bootstrap CIs over problems are in the JSON beside this file); best-of-N and weighted "
          f"vote use `{cfg.aggregation}` step aggregation, weighted vote uses {cfg.weights} weights; n-subsets: "
          f"{cfg.subsets}.\n\n" + render_report(report, "markdown")
          + "\nTimings (s, this machine): " + json.dumps(report.get("timings", {})) + "\n")
    return cache.write_run_files(cfg.results, stem, md, render_report(report, "json"))
