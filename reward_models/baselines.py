"""Reference points that every trained reward model must beat.

random: seeded uniform scores, one step per response, each response its own draw: a random response, i.e. pass@1.
text_hash: a deterministic score of the text without signal (a hash of it), one step per response. Copies of one
text get one score, as under any deterministic reward model, so where correct responses repeat one text and wrong
ones are many distinct texts, it falls below pass@1 as N grows: the fair floor for a trained reward model.
loglik: the untrained model's own log-likelihood, summed per step, with no reference: the paper's "no RM training,
w/o ref" row. It reads the shared log-prob cache, so it costs nothing after an implicit PRM on the same base model.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from harness.core.errors import InputError
from harness.core.fingerprint import fingerprint
from reward_models import register_rm
from reward_models.base import RewardModel
from reward_models.lm.logp_cache import cached_step_logps
from reward_models.lm.logprobs import prompt_format_id


@dataclass
class RandomConfig:
    seed: int = field(default=0, metadata={"help": "seed of the uniform draws"})


@register_rm("random")
class RandomRM(RewardModel):
    name = "random"
    Config = RandomConfig
    paper_row = 6
    chunkable = False  # one random stream over the whole pool

    def scoring_identity(self):
        return {"seed": self.config.seed}

    def compute_scores(self, pool):
        rng = np.random.default_rng(self.config.seed)
        return [[[float(rng.uniform())] for _ in p.responses] for p in pool.problems], {}


@dataclass
class TextHashConfig:
    seed: int = field(default=0, metadata={"help": "salt of the hash: another seed, another fixed scoring"})


@register_rm("text_hash")
class TextHashRM(RewardModel):
    name = "text_hash"
    Config = TextHashConfig
    paper_row = 7

    def scoring_identity(self):
        return {"seed": self.config.seed}

    def compute_scores(self, pool):
        seed = str(self.config.seed).encode()

        def score(text: str) -> float:  # uniform in [0, 1) from the first 8 bytes of the digest
            return int.from_bytes(hashlib.sha256(seed + b"\0" + text.encode("utf-8")).digest()[:8], "big") / 2 ** 64

        return [[[score(r.text)] for r in p.responses] for p in pool.problems], {}


@dataclass
class LoglikConfig:
    model: str | None = field(default=None, metadata={
        "help": "the base model; fit(..., base_model) sets it when not given"})
    dtype: str = field(default="float32", metadata={"help": "torch dtype of the model (float32, bfloat16)"})
    device: str = field(default="cpu", metadata={"help": "torch device of scoring (cpu, cuda, ...)"})
    max_len: int | None = field(default=None, metadata={
        "help": "tokens of prompt + response; longer responses lose their tail"})
    score_batch_size: int = field(default=32, metadata={"help": "responses per forward pass"})
    max_batch_tokens: int | None = field(default=None, metadata={
        "help": "at most this many padded tokens per batch (memory); default: no limit"})
    padding_side: str = field(default="left", metadata={"help": "left | right padding of the batches"})
    progress: bool = field(default=True, metadata={"help": "show progress bars"})


@register_rm("loglik")
class LoglikRM(RewardModel):
    name = "loglik"
    Config = LoglikConfig
    paper_row = 8

    def fit(self, train_pool, base_model: str, val_pool=None):
        if self.config.model is None:
            self.config.model = str(base_model)
        return None

    def _model(self) -> str:
        if self.config.model is None:
            raise InputError("loglik needs a model: pass model=PATH", field="model")
        return self.config.model

    def scoring_identity(self):
        c = self.config
        return {"model_fingerprint": fingerprint(self._model()), "dtype": c.dtype, "max_len": c.max_len,
                "prompt_format": prompt_format_id(), "score": "sum of token log-probs per step"}

    def compute_scores(self, pool):
        c = self.config
        steps = cached_step_logps(self._model(), pool, dtype=c.dtype, max_len=c.max_len, device=c.device,
                                  add_eos=not self.as_prefix,
                                  batch_size=c.score_batch_size, max_tokens=c.max_batch_tokens,
                                  padding_side=c.padding_side, progress=c.progress, desc="loglik")
        return steps, {"model": str(self._model())}
