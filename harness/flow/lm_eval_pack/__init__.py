"""lm-evaluation-harness tasks of this harness (YAML beside this file), loaded with

    lm_eval.tasks.TaskManager(include_path=harness.flow.lm_eval_pack.PACK_DIR)

`harness_arith` (the embedded world's test problems, its generators' chat prompt), `harness_math500` (the Minerva
4-shot prompt and stop sequence, the paper's T = 0.5), `harness_gsm8k`: each samples `repeats` responses per problem
and keeps them all (filter `keep_all`), which `harness generate --backend lm-eval` turns into a pool.
`harness_arith_rerank` shows `reward_rerank`, the reward-model selection filter of harness.flow.lm_eval_filter.
Problems come from this harness's tasks (local data where present, the Hugging Face hub otherwise), so the pool's
problem ids and references are the harness's own.
"""

from pathlib import Path

from harness.generation.lm_eval_backend import load_tasks  # noqa: F401  (the pack's loader, for callers)
from harness.generation.lm_eval_backend import task_manager as manager

PACK_DIR = Path(__file__).resolve().parent
TASKS = {"arith": "harness_arith", "math500": "harness_math500", "gsm8k": "harness_gsm8k"}


def task_manager(extra_paths=()):
    return manager([PACK_DIR, *extra_paths])
