"""Tasks: problems with reference answers. Each module registers itself with @register_task("name")."""

from harness.core.registry import Registry

TASKS = Registry("task", "tasks")
register_task = TASKS.register


def get_task(name: str, **kwargs):
    return TASKS.get(name)(**kwargs)
