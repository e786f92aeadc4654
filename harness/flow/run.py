"""`run`: one table of flows, each registered once (name -> function from a RunConfig to its typed report,
harness.flow.reports), and the dispatch through it:

    pools   the arith world's or given pools: train, score, select, the step-level figures   (harness.flow.pools)
    folds   cross-fitting for a task whose only labelled data is the evaluation data         (harness.flow.folds)
    steps   a step-level benchmark (ProcessBench): the first wrong step from a threshold     (harness.flow.step_level)
    search  reward-guided search beside best-of-N on the arith world (`harness search`)      (harness.flow.search)

The config names its flow (flow_of): the search flow when it carries search options, else the task's own flow
(folds, steps) unless pools are given, else pools. Every flow times its stages with harness.flow.timings and writes
its run files through harness.flow.report.write_run.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness.core.errors import InputError
from harness.flow.config import DEFAULT_NS, RunConfig, SearchOptions
from harness.flow.folds import run_crossfit
from harness.flow.pools import resolve_inputs, run_pools
from harness.flow.prepare import prepare_rm
from harness.flow.reports import RunReport
from harness.flow.search.experiment import run_search
from harness.flow.step_level import run_step_level
from reward_models import REWARD_MODELS
from tasks import TASKS
from tasks.base import TaskInputs as RunInputs

# what other modules import from here (the config, the inputs and reward model of a single stage)
__all__ = ["DEFAULT_NS", "FLOWS", "Flow", "RunConfig", "RunInputs", "SearchOptions", "check_config", "flow_of",
           "prepare_rm", "resolve_inputs", "run"]


@dataclass(frozen=True)
class Flow:
    name: str = field(metadata={"help": "the flow's name (tasks name theirs in Task.flow)"})
    run: Callable[..., RunReport | None] = field(metadata={"help": "(RunConfig, log) -> the run's report"})
    help: str = field(default="", metadata={"help": "what it does, in one line"})


FLOWS: dict[str, Flow] = {f.name: f for f in (
    Flow("pools", run_pools, "train, score and select on the arith world's or given pools"),
    Flow("folds", run_crossfit, "cross-fitting: every problem scored by a model trained without it"),
    Flow("steps", run_step_level, "step-level benchmark: the first wrong step from a tuned threshold"),
    Flow("search", run_search, "reward-guided search beside best-of-N at equal N and compute"),
)}


def flow_of(cfg: RunConfig) -> str:
    """The flow a config runs: search (it has search options), else its task's flow when no pools are given
    (folds, steps), else pools (arith's world flow is the pools flow on its own pools)."""
    if cfg.search is not None:
        return "search"
    task_flow = TASKS.get(cfg.task).flow
    return task_flow if task_flow in FLOWS and task_flow != "search" and not cfg.pools else "pools"


def check_config(cfg: RunConfig) -> None:
    """Refuse a bad reward-model name or option, or bad selection settings, before anything is built or trained."""
    if cfg.rm not in REWARD_MODELS:
        raise InputError(f"unknown reward model '{cfg.rm}'", field="--rm",
                         expected="one of " + ", ".join(REWARD_MODELS.names()))
    cfg.rm_config  # unknown option or bad value: names the option (typed here, once, for the run to build on)
    if cfg.label is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", cfg.label):
        raise InputError(f"label '{cfg.label}' cannot name a file", field="--label",
                         expected="letters, digits, '_', '.', '-' (e.g. implicit_ce-r1)")
    if cfg.task not in TASKS:
        raise InputError(f"unknown task '{cfg.task}'", field="--task", expected="one of " + ", ".join(TASKS.names()))
    cfg.selection()  # bad selection settings: named before anything is built
    for p in [*cfg.pools, cfg.train_pool, cfg.val_pool]:
        if p is not None and not Path(p).is_file():
            raise InputError("pool file not found" if not Path(p).exists() else "is a folder", file=p,
                             expected="a pool file (JSON Lines)")


def run(cfg: RunConfig, log=None) -> RunReport | None:
    """The report of one run, by its flow (FLOWS). Under torchrun every rank of the pools flow scores its share;
    only rank 0 reports and writes results (the other ranks return None)."""
    import torch  # here, not at the top: the CLI's other commands start without it
    log = log or (lambda m: print(m, file=sys.stderr))
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    log("run config: " + json.dumps(cfg.to_dict(), sort_keys=True))
    return FLOWS[flow_of(cfg)].run(cfg, log)
