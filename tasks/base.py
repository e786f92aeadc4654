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


class Task:
    name = "base"
    flow = "pools"

    def __init__(self, data: str | None = None, **options: Any):
        self.data = data  # local path given by --data; None means the task's default source
        self.options = options

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
