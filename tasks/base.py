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

_DEFAULT = object()  # grade_pool: the verdict cache under the cache root


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

    # The grader: MATH/GSM8K answers (boxed, "the answer is"), equivalence by harness.grading; arith overrides. Every
    # place that grades a task's responses (`grade`, Math-Shepherd's MC labels, guided search, lm-eval) asks the task.
    grader_name = "math"     # names the grader where verdicts are cached (MC step labels): one name, one verdict
    fallback_number = False  # GSM8K-style: a response that states no answer is graded by its last number

    def extract_answer(self, text: str) -> str | None:
        from harness.grading import extract_answer  # lazy: harness.grading imports math_verify at load
        return extract_answer(text, fallback_number=self.fallback_number)

    def answer_key(self, answer: str) -> str:
        """One key per equivalence class of answers, for votes."""
        from harness.grading import answer_key  # lazy: harness.grading imports math_verify at load
        return answer_key(answer)

    def is_correct(self, text: str, reference: str) -> bool:
        from harness.grading import is_equivalent  # lazy: harness.grading imports math_verify at load
        ans = self.extract_answer(text)
        return ans is not None and is_equivalent(reference, ans)

    def grade(self, text: str, reference: str) -> tuple[str | None, bool, dict]:
        """(answer, correct, extra) of one response as pools record them; extra holds the vote key."""
        ans = self.extract_answer(text)
        if ans is None:
            return None, False, {}
        return ans, self.is_correct(text, reference), {"answer_key": self.answer_key(ans)}

    def grade_pool(self, pool, *, workers: int = 1, timeout: float = 5.0, fallback_number: bool = False,
                   cache_path: Any = _DEFAULT, progress: bool | None = None):
        """(graded copy of `pool`, GradingStats): answers extracted where missing, each distinct (reference, answer)
        verified once with a deadline in worker processes, verdicts cached (harness.grading.runner).
        fallback_number: the last number of a response that states no answer, whatever the task's own choice."""
        # lazy: harness.grading.runner imports math_verify at load
        from harness.grading.runner import grade_pool_with_stats
        kw = {} if cache_path is _DEFAULT else {"cache_path": cache_path}
        return grade_pool_with_stats(pool, workers=workers, timeout=timeout, progress=progress,
                                     extract_fallback_number=fallback_number or self.fallback_number, **kw)

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

    # flow "world" also names its generators: `generate` builds or freezes the world, `search` samples from them,
    # `report` and `list` show what is there, the lm-eval pack loads them.
    @classmethod
    def open_world(cls, *, scale: str, seed: int = 0, threads: int | None = None, rebuild: bool = False, log=print,
                   sharded: bool = False):
        """flow "world": the world's files (key, summary, frozen, config, pool(split, generator), generator(name)):
        the shipped one, or the one built in the cache (built now if missing)."""
        raise cls._lacks("a world of its own")

    @classmethod
    def freeze_world(cls, world) -> tuple[str, Any]:
        """flow "world", for maintainers: write a built world as the shipped one; (its content key, the folder)."""
        raise cls._lacks("a world to freeze")

    @classmethod
    def world_test_pools(cls, scale: str) -> list[str]:
        """flow "world": the test pools of the world `run` would use at `scale`, when it is there (shipped or built;
        never builds one)."""
        return []

    @classmethod
    def worlds(cls) -> list[dict]:
        """flow "world": the summaries of the shipped world (first, with "shipped": True) and of those built in the
        cache."""
        return []

    @classmethod
    def generator_path(cls, name: str):
        """flow "world": the folder of the shipped world's generator `name`."""
        raise cls._lacks("generators of its own")

    @classmethod
    def load_generator(cls, path) -> tuple:
        """flow "world": (model, tokenizer) of one of its generators' folders, as the world samples from them."""
        raise cls._lacks("generators of its own")

    @classmethod
    def _lacks(cls, what: str) -> NotImplementedError:
        return NotImplementedError(f"task '{cls.name}' (flow '{cls.flow}') has no {what}; only tasks with flow "
                                   "'world' (arith) do")

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
