"""The embedded `arith` world: multi-step integer arithmetic, generators trained by the project, no network.

Heavy modules (torch, transformers) are imported only when the world is built or sampled.
"""

from __future__ import annotations

from harness.core import cache
from harness.core.errors import InputError
from harness.core.pool import load_pool
from tasks import register_task
from tasks.arith import frozen
from tasks.arith.problems import extract_answer, grade, grade_pool, is_correct
from tasks.arith.world import built_key, open_world, uses_frozen, world_generators, world_pools
from tasks.arith.world_config import GENERATORS, is_built, load_world, splits, world_config
from tasks.arith.world_sampling import load_generator
from tasks.base import Task, TaskInputs, TaskProblem


@register_task("arith")
class ArithTask(Task):
    name = "arith"
    flow = "world"  # `generate` builds generators and pools itself instead of asking for --model

    def __init__(self, data: str | None = None, scale: str = "default", seed: int = 0, **options):
        super().__init__(data, **options)
        self.config = world_config(scale, seed)

    def problems(self, split: str = "test") -> list[TaskProblem]:
        return [TaskProblem(p.id, p.problem, str(p.answer), {"steps": list(p.steps)})
                for p in splits(self.config)[split]]

    @staticmethod
    def world_inputs(*, scale: str, seed: int, generators: list[str], threads: int | None, rebuild: bool,
                     base: str | None, log) -> TaskInputs:
        """The shipped world (or the one built in the cache): test pools of `generators`, the mid generator's
        RM-training and validation rollouts, the mid generator as the base model."""
        wcfg = world_config(scale, seed, **({"threads": threads} if threads else {}))
        for g in generators:
            if g not in GENERATORS:
                raise InputError(f"unknown generator '{g}'", field="--generators", expected=", ".join(GENERATORS))
        world = open_world(wcfg, rebuild=rebuild, log=log)
        where = "shipped, checksums verified" if world.frozen else "built in the cache"
        log(f"[world] arith world {world.key} ({where})")
        return TaskInputs([load_pool(world.pool("test", g)) for g in generators],
                          load_pool(world.pool("rm_train", "mid")), load_pool(world.pool("rm_val", "mid")),
                          base or str(world.generator("mid")), world.key)

    @staticmethod
    def world_key(scale: str) -> str | None:
        """The shipped world's content key, or that of the world built in the cache (None when none is built)."""
        cfg = world_config(scale)
        if uses_frozen(cfg):
            return frozen.manifest()["content_key"]
        if not is_built(cfg):
            return None
        return (load_world(cfg) or {}).get("content_key") or built_key(cfg)

    @classmethod
    def open_world(cls, *, scale: str, seed: int = 0, threads: int | None = None, rebuild: bool = False, log=print,
                   sharded: bool = False):
        cfg = world_config(scale, seed, **({"threads": threads} if threads else {}))
        return open_world(cfg, rebuild=rebuild, log=log, sharded=sharded)

    @classmethod
    def freeze_world(cls, world):
        m = frozen.freeze(world.summary, world_pools(world.config), world_generators(world.config))
        return m["content_key"], frozen.DATA

    @classmethod
    def world_test_pools(cls, scale: str) -> list[str]:
        cfg = world_config(scale, 0)
        if not (uses_frozen(cfg) or is_built(cfg)):  # never build a world for a report
            return []
        world = open_world(cfg, log=lambda m: None)
        return [str(world.pool("test", g)) for g in GENERATORS]

    @classmethod
    def worlds(cls) -> list[dict]:
        out = [{**frozen.summary(), "shipped": True}] if frozen.is_shipped() else []
        for wj in sorted((cache.root() / "arith").glob("*/world.json")):
            try:
                out.append(cache.read_json(wj))
            except (OSError, ValueError):
                continue  # a world being built by another run
        return out

    @classmethod
    def generator_path(cls, name: str):
        return frozen.generator_path(name)

    @classmethod
    def load_generator(cls, path) -> tuple:
        return load_generator(path)

    # The grader: the integer of the final line, compared by value (tasks.arith.problems).
    grader_name = "arith"

    def extract_answer(self, text: str) -> str | None:
        return extract_answer(text)

    def answer_key(self, answer: str) -> str:
        return answer  # integers, already canonical

    def is_correct(self, text: str, reference: str) -> bool:
        return is_correct(text, reference)

    def grade(self, text: str, reference: str) -> tuple[str | None, bool, dict]:
        return grade(text, reference)

    def grade_pool(self, pool, *, workers: int = 1, timeout: float = 5.0, fallback_number: bool = False,
                   cache_path=None, progress: bool | None = None):
        """Exact integer comparison in this process: no deadline, no verdict cache, no answer fallback needed."""
        return grade_pool(pool)
