"""The embedded `arith` world: multi-step integer arithmetic, generators trained by the project, no network.

Heavy modules (torch, transformers) are imported only when the world is built or sampled.
"""

from __future__ import annotations

from tasks import register_task
from tasks.base import Task, TaskProblem


@register_task("arith")
class ArithTask(Task):
    name = "arith"
    builds_world = True  # `generate` builds generators and pools itself instead of asking for --model

    def __init__(self, data: str | None = None, scale: str = "default", seed: int = 0, **options):
        super().__init__(data, **options)
        from tasks.arith.world import world_config
        self.config = world_config(scale, seed)

    def problems(self, split: str = "test") -> list[TaskProblem]:
        from tasks.arith.world import splits
        return [TaskProblem(p.id, p.problem, str(p.answer), {"steps": list(p.steps)})
                for p in splits(self.config)[split]]

    def extract_answer(self, text: str) -> str | None:
        from tasks.arith.problems import extract_answer
        return extract_answer(text)
