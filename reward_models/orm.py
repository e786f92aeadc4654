"""Outcome reward model: the base model's backbone plus a scalar value head, trained with BCE on outcome labels.

The head (reward_models.training.value_head) is one nn.Linear read at the last token (eos) of prompt + response; its
logit is the response's score, reported as a single step.
Trained with head_at="steps" (an outcome-supervised verifier in AutoPSV's sense, Lu et al. 2024) the head is also
read at the end of every step: its logit there estimates whether the response will end correct from that prefix, and
scoring reports one value per step (the last one is the last token's, as before).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.core.errors import InputError
from harness.core.fingerprint import fingerprint
from reward_models import register_rm
from reward_models.base import RewardModel
from reward_models.lm.loading import load_causal_lm
from reward_models.lm.logprobs import regroup
from reward_models.training.loop import TrainConfig, train, train_config_of
from reward_models.training.objective import check_train_config
from reward_models.training.value_head import (
    head_values,
    head_values_at,
    load_head,
    new_head,
    orm_scores,
    orm_step_values,
    save_head,
)


class ValueHead:
    """The ORM's reward under training: the value head's logit at the last token (head_at="steps": read and trained
    at the prompt's end and at every step's end, all toward the outcome label, as AutoPSV's verifier)."""
    kind = "orm"
    losses = ("ce", "ce_inst", "ce_data")

    def prepare(self, run, val_pool) -> None:
        self.head = new_head(run.model, run.cfg.seed).to(run.device)

    def modules(self) -> list:
        return [self.head]

    def rewards(self, run, idx, batch, positions=None):
        if positions is not None:
            return head_values_at(run.model, self.head, batch, run.pad, positions)
        return head_values(run.model, self.head, batch, run.pad)

    def kto_reference_point(self, run, chunk):
        raise AssertionError("kto is not among an ORM's losses")

    def val_scores(self, run, val_pool):
        with run.amp():
            return orm_scores(run.model, self.head, run.tok, val_pool, max_len=run.cfg.max_len,
                              batch_size=run.score_batch_size, progress=run.progress)

    def reference_tokens(self, run) -> int:
        return 0

    def save(self, folder) -> None:
        save_head(self.head, folder)


@dataclass
class ORMConfig(TrainConfig):
    model: str | None = field(default=None, metadata={
        "help": "an ORM checkpoint folder (set by fit, or given to score without training)"})
    device: str = field(default="cpu", metadata={"help": "torch device of training and scoring (cpu, cuda, ...)"})
    score_batch_size: int = field(default=32, metadata={"help": "responses per forward pass when scoring"})
    max_batch_tokens: int | None = field(default=None, metadata={
        "help": "at most this many padded tokens per scoring batch (memory); default: no limit"})
    progress: bool = field(default=True, metadata={"help": "show progress bars"})


@register_rm("orm")
class ORM(RewardModel):
    name = "orm"
    trainable = True
    Config = ORMConfig
    paper_row = 5
    objective = ValueHead   # the reward under training and its losses (orm_bt: the same head, the bt loss)

    @classmethod
    def check_options(cls, config, given):
        super().check_options(config, given)
        check_train_config("orm", train_config_of(config))  # e.g. a head_at typo, before anything is scored under it

    def train_config(self) -> TrainConfig:
        return train_config_of(self.config)

    def fit(self, train_pool, base_model: str, val_pool=None) -> Path:
        c = self.config
        ckpt = train(self.objective(), self.name, base_model, train_pool, self.train_config(), val_pool, device=c.device,
                     score_batch_size=c.score_batch_size, progress=c.progress)
        c.model = str(ckpt)
        return ckpt

    def _model(self) -> str:
        if self.config.model is None:
            raise InputError("orm has no checkpoint: train it first or pass model=PATH", field="model")
        return self.config.model

    def scoring_identity(self):
        c = self.config
        where = "the end of every step" if c.head_at == "steps" else "the last token"
        return {"model_fingerprint": fingerprint(self._model()), "dtype": c.dtype, "max_len": c.max_len,
                "score": f"value-head logit at {where}"}

    def compute_scores(self, pool):
        c = self.config
        model, tok = load_causal_lm(self._model(), dtype=c.dtype, device=c.device)
        head = load_head(model, self._model())
        if c.head_at == "steps":  # one value per step (the prompt's, the first, is not a step's)
            values = orm_step_values(model, head, tok, pool, max_len=c.max_len, batch_size=c.score_batch_size,
                                     max_tokens=c.max_batch_tokens, progress=c.progress)
            return regroup([[float(x) for x in v[1:]] for v in values], pool), {"model": str(self._model())}
        values = orm_scores(model, head, tok, pool, max_len=c.max_len, batch_size=c.score_batch_size,
                            max_tokens=c.max_batch_tokens, progress=c.progress)
        steps, at = [], 0
        for p in pool.problems:
            steps.append([[float(v)] for v in values[at:at + len(p.responses)]])
            at += len(p.responses)
        return steps, {"model": str(self._model())}
