"""`harness train --rm NAME`: train a reward model on RM-training rollouts (cached checkpoint) and print its path."""

from __future__ import annotations

from harness.cli import arguments, command
from harness.commands.run import add_rm_arguments, stage_config
from harness.core.errors import InputError
from harness.flow.run import resolve_inputs


def _add(p):
    add_rm_arguments(p)


@command("train", "train a reward model (cached) and print the checkpoint folder")
@arguments(_add)
def run(args) -> int:
    cfg = stage_config(args)
    inputs = resolve_inputs(cfg, print)
    rm = cfg.reward_model()
    if not rm.trainable:
        raise InputError(f"{cfg.rm} is not trained", field="--rm", expected="a trainable reward model")
    if inputs.train_pool is None or inputs.base_model is None:
        raise InputError("no training data", field="--train-pool/--base", expected="graded rollouts and a base model")
    print(rm.fit(inputs.train_pool, inputs.base_model, inputs.val_pool))
    return 0
