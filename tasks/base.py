"""The one Task protocol: what every task provides, and how the flow asks for it.

A task gives its problems with reference answers and its grader (extract an answer, its vote key, is it correct).
How `run` evaluates it is the task's `flow`, so the flow never asks which task it is running:

    "world"  the task builds its own graded pools and RM-training rollouts (`world_inputs`)   arith
    "folds"  the task's only labelled data is the evaluation data: cross-fitted folds (`folds`) gsm8k-gpt3
    "steps"  a step-level benchmark: pools whose labels are the first wrong step (`step_splits`) processbench
    "pools"  problems only: `run` scores the pools given with --pool                        math500, gsm8k
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.core import options as options_mod
from harness.core.steps import split_steps


@dataclass
class TaskProblem:
    id: str
    problem: str
    reference: str
    meta: dict[str, Any]


@dataclass
class TaskInputs:
    """What a task with flow "world" gives `run`: its graded test pools, RM-training and validation rollouts, the
    base model the reward model is trained from, and the world's content key (run files say what they measured)."""
    test_pools: list
    train_pool: Any
    val_pool: Any
    base_model: str | None
    world: str | None = None


@dataclass
class TaskOptions:
    """A task's own options (`run --task T --flag ...`): one dataclass per task, fields with a `help` in their
    metadata; `run` derives its flags from them, and options left at their defaults stay out of run file names."""


class Task:
    name = "base"
    title = ""  # its name in headings (default: `name`)
    flow = "pools"
    Options: type = TaskOptions
    default_base: str | None = None  # the base model a reward model trains from when --base is not given

    def __init__(self, data: str | None = None, **options: Any):
        self.data = data  # local path given by --data; None means the task's default source
        self.options = options
        self.title = self.title or self.name

    def problems(self, split: str = "test") -> list[TaskProblem]:
        raise NotImplementedError

    def split_steps(self, text: str) -> list[str]:
        return split_steps(text)

    # The grader: MATH/GSM8K answers (boxed, "the answer is"), equivalence by harness.grading; arith overrides.
    def extract_answer(self, text: str) -> str | None:
        from harness.grading import extract_answer
        return extract_answer(text)

    def answer_key(self, answer: str) -> str:
        """One key per equivalence class of answers, for votes."""
        from harness.grading import answer_key
        return answer_key(answer)

    def is_correct(self, text: str, reference: str) -> bool:
        from harness.grading import is_equivalent
        ans = self.extract_answer(text)
        return ans is not None and is_equivalent(reference, ans)

    @classmethod
    def option_defaults(cls) -> dict[str, Any]:
        return options_mod.defaults(cls.Options)

    # What each flow asks of its tasks -------------------------------------------------------------------------------
    @staticmethod
    def world_key(scale: str) -> str | None:
        """flow "world": the content key of the world `run` would use at `scale` (None: no world, or none built
        yet, so every run builds it); run files and tuning records say which world they measured."""
        return None

    def world_inputs(self, *, scale: str, seed: int, generators: list[str], threads: int | None, rebuild: bool,
                     base: str | None, log) -> TaskInputs:
        """flow "world": the task's graded pools and rollouts (built or found in the cache)."""
        raise NotImplementedError

    fold_pairs: tuple = ()       # flow "folds": (train part, test part) of each fold
    responses_per_problem = 0    # flow "folds": N of its pools (selection stops there)

    def folds(self, task_options: dict, seed: int) -> dict:
        """flow "folds": {part: pool}, and "all": the parts in order."""
        raise NotImplementedError

    splits: tuple = ()           # flow "steps": its splits, and the one a threshold is tuned on
    tune_on = ""

    def step_pool(self, split: str, task_options: dict, seed: int):
        """flow "steps": (pool of one response per sample, first-wrong-step labels, samples left out)."""
        raise NotImplementedError

    def train_pool(self, task_options: dict, seed: int):
        """flow "steps": what a trainable reward model given no checkpoint learns from."""
        raise NotImplementedError
