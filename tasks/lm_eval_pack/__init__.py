"""lm-evaluation-harness tasks of this harness (YAML beside this file), loaded with

    lm_eval.tasks.TaskManager(include_path=tasks.lm_eval_pack.PACK_DIR)

`harness_arith` (the embedded world's test problems, its generators' chat prompt), `harness_math500` (the Minerva
4-shot prompt and stop sequence, the paper's T = 0.5), `harness_gsm8k`: each samples `repeats` responses per problem
and keeps them all (filter `keep_all`), which `harness generate --backend lm-eval` turns into a pool.
`harness_arith_rerank` shows `reward_rerank`, the reward-model selection filter of harness.lm_eval_filter.
Problems come from this harness's tasks (local data where present, the Hugging Face hub otherwise), so the pool's
problem ids and references are the harness's own.
"""

from pathlib import Path

PACK_DIR = Path(__file__).resolve().parent
TASKS = {"arith": "harness_arith", "math500": "harness_math500", "gsm8k": "harness_gsm8k"}


def task_manager(extra_paths=()):
    from lm_eval.tasks import TaskManager
    return TaskManager(include_path=[str(PACK_DIR), *map(str, extra_paths)])


def load_tasks(tm, names: list[str]) -> dict:
    """{name: lm-eval Task}: TaskManager.load where lm-eval has it (get_task_dict is deprecated there)."""
    if hasattr(tm, "load"):
        return tm.load(list(names))["tasks"]
    from lm_eval.tasks import get_task_dict
    return get_task_dict(list(names), tm)
