"""What every task provides: problems with reference answers, and how its responses are read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.steps import split_steps


@dataclass
class TaskProblem:
    id: str
    problem: str
    reference: str
    meta: dict[str, Any]


class Task:
    name = "base"

    def __init__(self, data: str | None = None, **options: Any):
        self.data = data  # local path given by --data; None means the task's default source
        self.options = options

    def problems(self, split: str = "test") -> list[TaskProblem]:
        raise NotImplementedError

    def split_steps(self, text: str) -> list[str]:
        return split_steps(text)
