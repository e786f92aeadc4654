"""The objective (reward_models/training/objective.py): its checks fail before anything is loaded, and its loss of a
chunk is the loss of reward_models.training.losses on the reward's values, the batch's mean."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from harness.core.errors import InputError
from harness.core.pool import Pool, Problem, Response
from reward_models.implicit import PolicyRatio
from reward_models.orm import ValueHead
from reward_models.orm_bt import PairedValueHead
from reward_models.training.loop import TrainConfig
from reward_models.training.objective import Objective


def pool(*outcomes, graded: bool = True) -> Pool:
    return Pool([Problem(f"p{i}", "1+1", "2", [Response(f"r{j}", None, c if graded else None)
                                               for j, c in enumerate(row)])
                 for i, row in enumerate(outcomes)])


@pytest.mark.parametrize("reward,cfg,field", [
    (PolicyRatio(), TrainConfig(loss="bt"), "loss"),                        # bt is a value head's loss
    (ValueHead(), TrainConfig(loss="dpo"), "loss"),
    (PairedValueHead(), TrainConfig(loss="ce"), "loss"),
    (ValueHead(), TrainConfig(train_ref=False), "train_ref"),               # no reference in an ORM
    (PolicyRatio(), TrainConfig(head_at="steps"), "head_at"),               # steps: a value head only
    (PairedValueHead(), TrainConfig(loss="bt", head_at="steps"), "head_at"),
    (ValueHead(), TrainConfig(instruction_fraction=0.0), "instruction_fraction"),
    (PolicyRatio(), TrainConfig(responses_per_instruction=0), "responses_per_instruction"),
])
def test_a_loss_or_option_that_does_not_fit_the_reward_fails_at_once(reward, cfg, field):
    with pytest.raises(InputError) as e:
        Objective(reward, "x", cfg)
    assert e.value.field == field


def test_fitting_options_pass():
    Objective(PolicyRatio(), "implicit_kto", TrainConfig(loss="kto", train_ref=False))
    Objective(ValueHead(), "orm", TrainConfig(loss="ce_inst", head_at="steps"))
    Objective(PairedValueHead(), "orm_bt", TrainConfig(loss="bt"))


def test_pools_must_be_graded():
    Objective.check_pools(pool([True, False]), pool([False]))
    with pytest.raises(InputError, match="ungraded"):
        Objective.check_pools(pool([True, False], graded=False), None)
    with pytest.raises(InputError, match="validation pool is not graded"):
        Objective.check_pools(pool([True, False]), pool([True], graded=False))


class FixedReward:
    """A reward whose value of response i is values[i] (no model), to check the objective's arithmetic."""
    kind = "implicit"
    losses = ("dpo", "ce", "ce_data")

    def __init__(self, values):
        self.values = values

    def prepare(self, run, val_pool):
        pass

    def rewards(self, run, idx, batch, positions=None):
        import torch
        return torch.tensor([self.values[i] for i in idx], dtype=torch.float32)


def fixed_run(train_pool):
    import contextlib
    encs = [SimpleNamespace(ids=[0] * (k + 1)) for k in range(train_pool.n_responses)]
    return SimpleNamespace(train_pool=train_pool, encs=encs, device="cpu", amp=contextlib.nullcontext,
                           counted={"trained": 0, "reference": 0})


def test_the_loss_of_a_chunk_is_its_share_of_the_batch_mean():
    torch = pytest.importorskip("torch")
    values = [0.5, -1.0, 2.0, 0.25, -0.5]          # problem 0: correct, wrong; problem 1: correct, wrong, wrong
    train = pool([True, False], [True, False, False])
    logsig = lambda x: -math.log1p(math.exp(-x))  # noqa: E731

    dpo = Objective(FixedReward(values), "x", TrainConfig(loss="dpo", pairing="all"))
    units = dpo.prepare(fixed_run(train), None)
    assert units == [(0, 1), (2, 3), (2, 4)] and dpo.stats["pairs"] == 3
    got = dpo.chunk_loss_of(units)(units[:2])      # two of the batch's three pairs
    assert got.item() == pytest.approx(-(logsig(0.5 + 1.0) + logsig(2.0 - 0.25)) / 3, rel=1e-6)

    ce = Objective(FixedReward(values), "x", TrainConfig(loss="ce_data"))
    run = fixed_run(train)
    units = ce.prepare(run, None)
    assert units == [0, 1, 2, 3, 4]
    w_pos, w_neg = 5 / (2 * 2), 5 / (2 * 3)        # one weight per class, both classes equal in total
    want = -(w_pos * (logsig(0.5) + logsig(2.0)) + w_neg * (logsig(1.0) + logsig(-0.25) + logsig(0.5))) / 5
    total = sum(ce.chunk_loss_of(units)(chunk) for chunk in (units[:2], units[2:]))
    assert isinstance(total, torch.Tensor) and total.item() == pytest.approx(want, rel=1e-6)
    assert run.counted["trained"] == sum(k + 1 for k in range(5))  # every response's tokens, counted once


def test_no_pair_is_one_clear_error():
    pytest.importorskip("torch")
    dpo = Objective(FixedReward([1.0, 1.0]), "x", TrainConfig(loss="dpo"))
    with pytest.raises(InputError, match="no \\(correct, incorrect\\) pair"):
        dpo.prepare(fixed_run(pool([True], [True])), None)
