"""`harness score --rm NAME`: score pools with one reward model (training it first if needed); scores are cached.

Also runs under `torchrun --nproc_per_node K -m harness score ...` (or `accelerate launch -m harness score ...`).
"""

from __future__ import annotations

from harness.cli import arguments, command
from harness.commands.run import add_rm_arguments, stage_config
from harness.core import distributed
from harness.core.scores import score_dir
from harness.flow.run import prepare_rm, resolve_inputs


def _add(p):
    add_rm_arguments(p)


@command("score", "score pools with a reward model; the score sets are cached for `leaderboard`")
@arguments(_add)
def run(args) -> int:
    cfg = stage_config(args)
    distributed.init()  # under torchrun each rank scores its share of every pool; rank 0 merges and prints
    with distributed.main_first():
        inputs = resolve_inputs(cfg, print)
    with distributed.main_first():
        rm = prepare_rm(cfg, inputs, print)
    for pool in inputs.test_pools:
        ss = rm.score(pool)
        print(f"{pool.path}: {sum(len(s) for s in ss.step_scores)} responses scored -> "
              f"{score_dir(pool.content_hash())}")
    return 0
