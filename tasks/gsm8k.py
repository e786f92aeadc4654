"""GSM8K (grade-school math word problems): reference = the number after '####' with commas removed.

Read from a local test.jsonl / train.jsonl (`--data PATH`: a file, or a folder holding <split>.jsonl; else
../shared/data/gsm8k beside the checkout when present), else from the hub (openai/gsm8k, config main).
Ids are "<split>/<line index>", the same as the OVM importer's, so imported GSM8K pools join with this task.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from harness.core.errors import InputError
from tasks import register_task
from tasks.base import Task, TaskProblem
from tasks.math500 import SHARED_DATA, field, load_hub, read_jsonl

HUB_DATASET = "openai/gsm8k"
SPLITS = ("train", "test")


def gsm8k_reference(solution: str, where=None, line: int | None = None) -> str:
    if "####" not in solution:
        raise InputError("no '#### <answer>' in the solution", file=where, line=line, field="answer",
                         expected="a GSM8K solution ending '#### N'")
    return solution.rsplit("####", 1)[1].strip().replace(",", "")


@register_task("gsm8k")
class GSM8K(Task):
    name = "gsm8k"
    default_dir = SHARED_DATA / "gsm8k"

    def _path(self, split: str) -> Path | None:
        if self.data:
            p = Path(self.data)
            if p.is_dir():
                p = p / f"{split}.jsonl"
            if not p.is_file():
                raise InputError("file not found", file=p, field="--data", expected=f"a GSM8K {split}.jsonl")
            return p
        p = self.default_dir / f"{split}.jsonl"
        return p if p.is_file() else None

    # GSM8K answers are numbers: a response that states none in a marked way is graded by its last number, and an
    # answer stated as a sentence by the number in it (`harness grade --fallback-number` on any pool).
    fallback_number = True
    grader_name = "gsm8k"

    def problems(self, split: str = "test") -> list[TaskProblem]:
        if split not in SPLITS:
            raise InputError(f"GSM8K has no '{split}' split", field="split", expected=" or ".join(SPLITS))
        path = self._path(split)
        if path is not None:
            rows: Iterable[tuple[int | None, dict]] = read_jsonl(path)
        else:
            ds = load_hub(HUB_DATASET, "main", split=split,
                          local_hint=f"--data PATH to a local GSM8K {split}.jsonl (or its folder)")
            rows = ((None, dict(r)) for r in ds)
        where = path if path is not None else HUB_DATASET
        out = []
        for i, (line, r) in enumerate(rows):
            question = str(field(r, "question", where, line))
            solution = str(field(r, "answer", where, line))
            out.append(TaskProblem(f"{split}/{i}", question, gsm8k_reference(solution, where, line),
                                   {"split": split}))
        return out
