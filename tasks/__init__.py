"""Tasks: problems with reference answers. Each module registers itself with @register_task("name").

Modules outside tasks/ reach a task only through this registry and the Task protocol (tasks.base): never by
importing a task's own modules (tests/system/test_layout.py checks it).
"""

from harness.core.registry import Registry
from tasks.base import Task

TASKS = Registry("task", "tasks")
register_task = TASKS.register


def get_task(name: str, **kwargs):
    return TASKS.get(name)(**kwargs)


def pool_task(pool):
    """The task whose grader grades `pool`: the registered task every problem names (meta "task"), else the MATH
    grader of the Task protocol (pools of no task, of several, or of a task not registered here, e.g. an lm-eval
    task's name)."""
    names = {p.meta.get("task") for p in pool.problems}
    name = names.pop() if len(names) == 1 else None
    return get_task(name) if name is not None and name in TASKS else Task()


def world_tasks() -> list:
    """The registered task classes with flow "world" (tasks that build their own generators and pools)."""
    return [TASKS.get(n) for n in TASKS.names() if TASKS.get(n).flow == "world"]
