"""GSM8K with OpenAI's 4 real GPT-3 solutions per test problem (grade-school-math, example_model_solutions.jsonl).

Each record holds `question`, `ground_truth` (the reference solution ending "A: N") and four solutions from GPT-3
6B/175B, fine-tuned or verifier-selected, each with OpenAI's `is_correct`. They become a graded pool: 4 responses per
problem, `correct` = `is_correct` as published (never re-graded), `answer` = the solution's final "A: N".

GPT-3 writes one reasoning step per line. Each response's lines are joined with a blank line between them ("\n" ->
"\n\n"), which makes every line one step and changes nothing else. harness.core.steps now also cuts single-newline
lines into steps, so the blank lines are no longer needed for the cut; they are kept so that the pool's texts, and
the committed results (results/real_models.md) scored on them, stay the same.

The file is read from `--data PATH`, else ../shared/data/gsm8k/example_model_solutions.jsonl beside the checkout.
It is not on the Hugging Face hub, so there is no hub fallback: without a local copy the task says where to get it.

`run --task gsm8k-gpt3` is a two-fold experiment (harness.flow.folds): problems are shuffled with a fixed seed, the
first `max_problems` kept and cut into halves A and B; the reward model trains on one half and scores the other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness.core import cache
from harness.core.errors import InputError
from harness.core.pool import Pool, Problem, Response, load_pool, save_pool
from tasks import register_task
from tasks.base import Task, TaskOptions, TaskProblem
from tasks.math500 import SHARED_DATA, read_jsonl

FILE_NAME = "example_model_solutions.jsonl"
SOURCE = "https://github.com/openai/grade-school-math (grade_school_math/data/example_model_solutions.jsonl)"
SOLVERS = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")
DEFAULT_MAX_PROBLEMS = 100   # both folds of implicit_ce with SmolLM2 in about 40 min on 2 cores (results/real_models.md)
DEFAULT_SEED = 0
_FINAL = re.compile(r"^\s*A:\s*(.+?)\s*$")


@dataclass
class Options(TaskOptions):
    data: str | None = field(default=None, metadata={"help": "local example_model_solutions.jsonl (or its folder)"})
    max_problems: int | str = field(default=DEFAULT_MAX_PROBLEMS, metadata={
        "help": f"problems used (seeded subset, split in halves A/B; default {DEFAULT_MAX_PROBLEMS}; 'all')"})

    def __post_init__(self):
        mp = self.max_problems
        if mp != "all" and (not isinstance(mp, int) or mp < 2):
            raise InputError(f"cannot read '{mp}'", field="--max-problems", expected="an integer >= 2 or 'all'")


def max_problems_of(task_options: dict) -> int | None:
    """--max-problems: an integer, 'all' (None), or the default."""
    v = task_options.get("max_problems", DEFAULT_MAX_PROBLEMS)
    return None if v in ("all", None) else int(v)


def final_answer(solution: str) -> str | None:
    """The number after the last line's "A:", commas removed (GPT-3's and the reference's answer line)."""
    lines = solution.strip().splitlines()
    m = _FINAL.match(lines[-1]) if lines else None
    return m.group(1).replace(",", "") if m else None


def as_steps(solution: str) -> str:
    """One step per line: blank lines between GPT-3's lines (the texts the committed results were scored on)."""
    return "\n\n".join(line for line in solution.strip().splitlines() if line.strip())


def default_path() -> Path:
    return SHARED_DATA / "gsm8k" / FILE_NAME


def data_path(data: str | None) -> Path:
    p = Path(data) if data else default_path()
    if p.is_dir():
        p = p / FILE_NAME
    if not p.is_file():
        raise InputError("GPT-3 solutions file not found", file=p, field="--data",
                         expected=f"{FILE_NAME} from {SOURCE} (not on the Hugging Face hub)")
    return p


def read_problems(path: Path) -> list[Problem]:
    """Every record as a graded pool problem, id "test/<line index>" (the gsm8k task's ids: same order as test.jsonl)."""
    out = []
    for i, (line, r) in enumerate(read_jsonl(path)):
        def need(rec, key, where):
            if key not in rec:
                raise InputError("missing field", file=path, line=line, field=where + key)
            return rec[key]
        question, truth = need(r, "question", ""), need(r, "ground_truth", "")
        if not isinstance(question, str) or not isinstance(truth, str):
            raise InputError("wrong type", file=path, line=line, field="question/ground_truth", expected="strings")
        reference = final_answer(truth)
        if reference is None:
            raise InputError("no final 'A: N' line", file=path, line=line, field="ground_truth",
                             expected="a solution ending 'A: <answer>'")
        responses = []
        for s in SOLVERS:
            sol = need(r, s, "")
            if not isinstance(sol, dict):
                raise InputError("wrong type", file=path, line=line, field=s, expected="an object")
            text, ok = need(sol, "solution", s + "."), need(sol, "is_correct", s + ".")
            if not isinstance(text, str) or not isinstance(ok, bool):
                raise InputError("wrong type", file=path, line=line, field=s,
                                 expected="solution: a string, is_correct: true/false")
            responses.append(Response(as_steps(text), final_answer(text), ok, {"solver": s}))
        out.append(Problem(f"test/{i}", question.strip(), reference, responses,
                           {"generator": "gpt3", "task": "gsm8k-gpt3", "source": f"{path.name}:{line}"}))
    return out


def split_halves(n: int, max_problems: int | None, seed: int) -> tuple[list[int], list[int]]:
    """Indices of halves A and B: a seeded shuffle, the first max_problems kept, cut in two (A gets the odd one)."""
    order = np.random.default_rng(seed).permutation(n).tolist()
    if max_problems is not None:
        order = order[:max_problems]
    cut = (len(order) + 1) // 2
    return sorted(order[:cut]), sorted(order[cut:])


def build_halves(data: str | None = None, max_problems: int | None = DEFAULT_MAX_PROBLEMS,
                 seed: int = DEFAULT_SEED) -> dict[str, Pool]:
    """Pools "A" and "B" (and "all" = A then B), written once under <cache>/pools/gsm8k-gpt3-<key>/."""
    path = data_path(data)
    if max_problems is not None and max_problems < 2:
        raise InputError(f"{max_problems} problems cannot be split in two", field="max_problems",
                         expected="an integer >= 2")
    key = cache.stable_hash({"file": cache.file_hash(path), "max_problems": max_problems, "seed": seed,
                             "format": 1})
    folder = cache.root() / "pools" / f"gsm8k-gpt3-{key}"
    names = ("A", "B", "all")
    if not all((folder / f"{h}.jsonl").is_file() for h in names):
        problems = read_problems(path)
        a, b = split_halves(len(problems), max_problems, seed)
        for h, idx in (("A", a), ("B", b)):
            for i in idx:
                problems[i].meta["half"] = h
        parts = {"A": [problems[i] for i in a], "B": [problems[i] for i in b]}
        parts["all"] = parts["A"] + parts["B"]
        for h in names:
            save_pool(parts[h], folder / f"{h}.jsonl")
    return {h: load_pool(folder / f"{h}.jsonl") for h in names}


@register_task("gsm8k-gpt3")
class GSM8KGPT3(Task):
    name = "gsm8k-gpt3"
    default_base = "smollm2"

    def problems(self, split: str = "test") -> list[TaskProblem]:
        if split != "test":
            raise InputError(f"gsm8k-gpt3 has no '{split}' split", field="split", expected="test")
        return [TaskProblem(p.id, p.problem, p.reference, p.meta) for p in read_problems(data_path(self.data))]

    # flow "folds": two halves, each scored by the model trained on the other
    flow = "folds"
    fold_pairs = (("A", "B"), ("B", "A"))
    responses_per_problem = len(SOLVERS)
    Options = Options

    def folds(self, task_options: dict, seed: int) -> dict[str, Pool]:
        return build_halves(task_options.get("data"), max_problems_of(task_options), seed)
