"""`orm_bt`: an outcome reward model trained on preferences, the kind the paper's ORM rows are (EurusRM-7B,
Skywork-Reward, ArmoRM are Bradley-Terry reward models, not BCE classifiers).

The backbone and value head are the ORM's (reward_models.orm, reward_models.training.value_head: one nn.Linear read
at the last token, its logit the response's score, one step per response). Only the objective differs: for every
RM-training instruction with both outcomes, every correct response is preferred to every incorrect one,

    loss(problem) = mean over (c, i) in correct x incorrect of  -log sigmoid(r_c - r_i)       (Bradley-Terry)

and each optimizer step averages this over `batch_size` problems (reward_models.training.losses.bt_loss; every
response of a problem runs through the model once per step, whatever its number of pairs). Instructions whose
responses are all right or all wrong give no pair and are not trained on. The loss sees only differences between
responses to one problem, so, unlike BCE, it cannot lower its loss by learning which problems are hard: what it
learns is exactly what best-of-N asks of a reward model. Scores are unanchored (no 0.5 threshold means anything).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.core.errors import InputError
from reward_models import register_rm
from reward_models.orm import ORM, ORMConfig, ValueHead


class PairedValueHead(ValueHead):
    """The ORM's value head under the Bradley-Terry loss over the correct x incorrect responses of one problem."""
    losses = ("bt",)


@dataclass
class ORMBTConfig(ORMConfig):
    loss: str = field(default="bt", metadata={
        "help": "Bradley-Terry over correct x incorrect responses of one problem"})
    lr: float = field(default=3e-4, metadata={
        "help": "peak learning rate: the ORM's tuned rate on the arith world (results/tuning/arith-default-orm)"})
    batch_size: int = field(default=2, metadata={
        "help": "problems per optimizer step (~16 responses on the arith world, as the ORM's 16)"})


@register_rm("orm_bt")
class ORMBT(ORM):
    name = "orm_bt"
    Config = ORMBTConfig
    paper_row = 5.5   # beside the ORM
    paper_note = "the ORM's value head trained with a Bradley-Terry loss over correct x incorrect responses of a problem"
    objective = PairedValueHead

    @classmethod
    def check_options(cls, config, given):
        super().check_options(config, given)
        if config.loss != "bt":
            raise InputError(f"loss '{config.loss}' for orm_bt", field="loss",
                             expected="bt (the BCE value head is `--rm orm`)")
