"""The embedded `arith` world: multi-step integer arithmetic, generators trained by the project, no network.

Heavy modules (torch, transformers) are imported only when the world is built or sampled.
"""

from __future__ import annotations

from tasks import register_task
from tasks.base import Task, TaskInputs, TaskProblem


@register_task("arith")
class ArithTask(Task):
    name = "arith"
    flow = "world"  # `generate` builds generators and pools itself instead of asking for --model

    def __init__(self, data: str | None = None, scale: str = "default", seed: int = 0, **options):
        super().__init__(data, **options)
        from tasks.arith.world_config import world_config
        self.config = world_config(scale, seed)

    def problems(self, split: str = "test") -> list[TaskProblem]:
        from tasks.arith.world_config import splits
        return [TaskProblem(p.id, p.problem, str(p.answer), {"steps": list(p.steps)})
                for p in splits(self.config)[split]]

    @staticmethod
    def world_inputs(*, scale: str, seed: int, generators: list[str], threads: int | None, rebuild: bool,
                     base: str | None, log) -> TaskInputs:
        """The shipped world (or the one built in the cache): test pools of `generators`, the mid generator's
        RM-training and validation rollouts, the mid generator as the base model."""
        from harness.core.errors import InputError
        from harness.core.pool import load_pool
        from tasks.arith.world import open_world
        from tasks.arith.world_config import GENERATORS, world_config
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
        from tasks.arith import frozen
        from tasks.arith.world import built_key, uses_frozen
        from tasks.arith.world_config import is_built, load_world, world_config
        cfg = world_config(scale)
        if uses_frozen(cfg):
            return frozen.manifest()["content_key"]
        if not is_built(cfg):
            return None
        return (load_world(cfg) or {}).get("content_key") or built_key(cfg)

    @classmethod
    def open_world(cls, *, scale: str, seed: int = 0, threads: int | None = None, rebuild: bool = False, log=print,
                   sharded: bool = False):
        from tasks.arith.world import open_world
        from tasks.arith.world_config import world_config
        cfg = world_config(scale, seed, **({"threads": threads} if threads else {}))
        return open_world(cfg, rebuild=rebuild, log=log, sharded=sharded)

    @classmethod
    def freeze_world(cls, world):
        from tasks.arith import frozen
        from tasks.arith.world import world_generators, world_pools
        m = frozen.freeze(world.summary, world_pools(world.config), world_generators(world.config))
        return m["content_key"], frozen.DATA

    @classmethod
    def world_test_pools(cls, scale: str) -> list[str]:
        from tasks.arith.world import open_world, uses_frozen
        from tasks.arith.world_config import GENERATORS, is_built, world_config
        cfg = world_config(scale, 0)
        if not (uses_frozen(cfg) or is_built(cfg)):  # never build a world for a report
            return []
        world = open_world(cfg, log=lambda m: None)
        return [str(world.pool("test", g)) for g in GENERATORS]

    @classmethod
    def worlds(cls) -> list[dict]:
        from harness.core import cache
        from tasks.arith import frozen
        out = [{**frozen.summary(), "shipped": True}] if frozen.is_shipped() else []
        for wj in sorted((cache.root() / "arith").glob("*/world.json")):
            try:
                out.append(cache.read_json(wj))
            except (OSError, ValueError):
                continue  # a world being built by another run
        return out

    @classmethod
    def generator_path(cls, name: str):
        from tasks.arith import frozen
        return frozen.generator_path(name)

    @classmethod
    def load_generator(cls, path) -> tuple:
        from tasks.arith.world_sampling import load_generator
        return load_generator(path)

    # The grader: the integer of the final line, compared by value (tasks.arith.problems).
    grader_name = "arith"

    def extract_answer(self, text: str) -> str | None:
        from tasks.arith.problems import extract_answer
        return extract_answer(text)

    def answer_key(self, answer: str) -> str:
        return answer  # integers, already canonical

    def is_correct(self, text: str, reference: str) -> bool:
        from tasks.arith.problems import is_correct
        return is_correct(text, reference)

    def grade(self, text: str, reference: str) -> tuple[str | None, bool, dict]:
        from tasks.arith.problems import grade
        return grade(text, reference)

    def grade_pool(self, pool, *, workers: int = 1, timeout: float = 5.0, fallback_number: bool = False,
                   cache_path=None, progress: bool | None = None):
        """Exact integer comparison in this process: no deadline, no verdict cache, no answer fallback needed."""
        from tasks.arith.problems import grade_pool
        return grade_pool(pool)
