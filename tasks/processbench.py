"""ProcessBench (QwenLM/ProcessBench, dataset/{gsm8k,math,olympiadbench,omnimath}.json): real LLM solutions split
into `steps`, human `label` = index of the earliest wrong step (-1 = every step right).

Each sample becomes a one-response pool problem whose text is the steps joined by blank lines (the authors' own
"\n\n" join), so harness.core.steps splits it back into exactly the given steps and a PRM's step scores line up with the
labels. A few solutions mix "Step k:" headers with unmarked paragraphs; harness.core.steps then splits at the headers
only, so those samples cannot be scored step for step and are left out (the count is reported with the result).

`run --task processbench` scores every sample with one reward model and evaluates with harness.evaluation.step_eval.
Data is
read from `--data FOLDER`, else ../shared/data/processbench beside the checkout (the hub copy, Qwen/ProcessBench, is
not fetched here: give a local folder).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness.core import cache
from harness.core.errors import InputError
from harness.core.pool import Pool, Problem, Response, load_pool, save_pool
from harness.core.steps import split_steps
from tasks import gsm8k_gpt3, register_task
from tasks.base import Task, TaskOptions, TaskProblem
from tasks.math500 import SHARED_DATA

SPLITS = ("gsm8k", "math", "olympiadbench", "omnimath")
TUNE_ON = "gsm8k"  # the authors' script picks the threshold on GSM8K
DEFAULT_MAX_PER_SPLIT = None


@dataclass
class Sample:
    id: str
    problem: str
    steps: list[str]
    label: int
    final_answer_correct: bool | None
    generator: str | None


def data_dir(data: str | None) -> Path:
    d = Path(data) if data else SHARED_DATA / "processbench"
    if not d.is_dir():
        raise InputError("ProcessBench folder not found", file=d, field="--data",
                         expected="a folder with gsm8k.json, math.json, olympiadbench.json, omnimath.json "
                                  "(QwenLM/ProcessBench, dataset/)")
    return d


def load_split(split: str, data: str | None = None) -> list[Sample]:
    if split not in SPLITS:
        raise InputError(f"unknown ProcessBench split '{split}'", field="--splits", expected=", ".join(SPLITS))
    path = data_dir(data) / f"{split}.json"
    if not path.is_file():
        raise InputError("file not found", file=path, expected=f"ProcessBench {split}.json")
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"not a JSON file ({e})", file=path) from None
    if not isinstance(rows, list):
        raise InputError("wrong type", file=path, expected="a JSON list of samples")
    out = []
    for i, r in enumerate(rows):
        where = f"[{i}]"
        if not isinstance(r, dict):
            raise InputError("wrong type", file=path, field=where, expected="an object")
        for k in ("id", "problem", "steps", "label"):
            if k not in r:
                raise InputError("missing field", file=path, field=f"{where}.{k}")
        steps, label = r["steps"], r["label"]
        if not isinstance(steps, list) or not steps or not all(isinstance(s, str) for s in steps):
            raise InputError("wrong type", file=path, field=f"{where}.steps", expected="a non-empty list of strings")
        if isinstance(label, bool) or not isinstance(label, int) or not -1 <= label < len(steps):
            raise InputError(f"bad label {label!r}", file=path, field=f"{where}.label",
                             expected=f"-1 or a step index below {len(steps)}")
        out.append(Sample(str(r["id"]), str(r["problem"]), steps, label, r.get("final_answer_correct"),
                          r.get("generator")))
    return out


def response_text(steps: list[str]) -> str:
    return "\n\n".join(s.strip() for s in steps)


def round_trips(sample: Sample) -> bool:
    return split_steps(response_text(sample.steps)) == [s.strip() for s in sample.steps]


def to_pool(samples: list[Sample], split: str) -> Pool:
    problems = []
    for s in samples:
        text = response_text(s.steps)
        assert split_steps(text) == [x.strip() for x in s.steps], s.id  # callers keep only round-tripping samples
        problems.append(Problem(s.id, s.problem, "", [Response(text, None, s.label == -1, {"label": s.label})],
                                {"generator": s.generator or "mixed", "task": f"processbench-{split}"}))
    return Pool(problems)


def select(samples: list[Sample], max_n: int | None, seed: int) -> tuple[list[Sample], int]:
    """Samples that round-trip, a seeded subset of max_n of them in file order; and how many did not round-trip."""
    ok = [s for s in samples if round_trips(s)]
    dropped = len(samples) - len(ok)
    if max_n is not None and max_n < len(ok):
        keep = sorted(np.random.default_rng(seed).permutation(len(ok))[:max_n].tolist())
        ok = [ok[i] for i in keep]
    return ok, dropped


def split_pool(split: str, data: str | None, max_n: int | None, seed: int) -> tuple[Pool, list[int], int]:
    """(cached pool file, labels, samples left out) of one split."""
    samples, dropped = select(load_split(split, data), max_n, seed)
    pool = to_pool(samples, split)
    path = cache.root() / "pools" / f"processbench-{split}-{pool.content_hash()}.jsonl"
    if not path.is_file():
        save_pool(pool, path)
    return load_pool(path), [s.label for s in samples], dropped


@dataclass
class Options(TaskOptions):
    data: str | None = field(default=None, metadata={"help": "local folder of the ProcessBench split files"})
    splits: list[str] | None = field(default=None, metadata={"help": "comma-separated splits (default: all four)"})
    max_per_split: int | None = field(default=DEFAULT_MAX_PER_SPLIT,
                                      metadata={"help": "seeded subset of each split"})
    tune_on: str = field(default=TUNE_ON, metadata={"help": "split the threshold is chosen on (gsm8k)"})
    max_problems: int | str = field(default=gsm8k_gpt3.DEFAULT_MAX_PROBLEMS, metadata={
        "help": "problems of the gsm8k-gpt3 experiment whose half A trains a reward model given no --model"})

    def __post_init__(self):
        if self.max_per_split is not None and self.max_per_split < 1:
            raise InputError(f"{self.max_per_split} is not positive", field="--max-per-split", expected=">= 1")
        gsm8k_gpt3.Options(max_problems=self.max_problems)  # the same check as gsm8k-gpt3's


@register_task("processbench")
class ProcessBench(Task):
    name = "processbench"
    title = "ProcessBench"
    default_base = "smollm2"

    def problems(self, split: str = "gsm8k") -> list[TaskProblem]:
        return [TaskProblem(s.id, s.problem, "", {"label": s.label, "steps": s.steps})
                for s in load_split(split, self.data)]

    # flow "steps": each split a pool of one response per sample, labelled by its first wrong step
    flow = "steps"
    splits = SPLITS
    tune_on = TUNE_ON
    Options = Options

    def step_pool(self, split: str, task_options: dict, seed: int) -> tuple[Pool, list[int], int]:
        """(pool, first-wrong-step labels, samples left out) of one split."""
        return split_pool(split, task_options.get("data"), task_options.get("max_per_split",
                                                                            DEFAULT_MAX_PER_SPLIT), seed)

    def train_pool(self, task_options: dict, seed: int) -> Pool:
        """What a trainable reward model with no --model learns from: half A of the gsm8k-gpt3 experiment (the
        checkpoint that `run --task gsm8k-gpt3` trained first)."""
        return gsm8k_gpt3.build_halves(None, gsm8k_gpt3.max_problems_of(task_options), seed)["A"]
