"""Implicit PRMs (Yuan et al. 2024): a policy trained with an outcome-level objective, read as process rewards.

    q_t = beta * sum over response tokens up to the end of step t of log pi_theta / pi_ref
    step reward: q_t - q_{t-1} ("single", the paper's default) or q_t ("accumulative")

so the "single" step rewards of a response sum to beta * log pi_theta(y|x) / pi_ref(y|x). Without a reference
(use_ref=False, the paper's Table 5) the log pi_ref term is dropped. Any pair of local causal LMs with the same
tokenizer can be scored without training via model=PATH ref=PATH.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from harness.core.errors import InputError
from harness.core.fingerprint import fingerprint
from reward_models import register_rm
from reward_models.base import RewardModel
from reward_models.training.loop import TrainConfig

# The authors' released code multiplies by 0.001 instead of beta at inference. Best-of-N and min-aggregation are
# unchanged by a positive scale; only weighted vote's sigmoid weights see it. score_beta=0.001 reproduces it.
SCORE_BETA_NOTE = ("score_beta scales the step rewards; the authors' inference code uses 0.001, which changes only "
                   "sigmoid weights in weighted vote, not rankings")


@dataclass
class ImplicitConfig(TrainConfig):
    score_beta: float | None = None  # default: beta
    reward: str = "single"           # single | accumulative
    use_ref: bool = True
    model: str | None = None         # policy: set by fit, or any local causal LM folder / .gguf file
    ref: str | None = None           # reference: the base model the policy was trained from
    device: str = "cpu"
    score_batch_size: int = 32
    max_batch_tokens: int | None = None
    padding_side: str = "left"
    share_prompt: bool = True        # one prompt pass per problem, its KV cache reused (runtime: not in the score
                                     # key; equal within 1e-5 and faster here: results/performance.md)
    progress: bool = True


class ImplicitPRM(RewardModel):
    trainable = True
    loss = "ce"
    Config = ImplicitConfig

    def __init__(self, **options):
        if "loss" in options and options["loss"] != self.loss:
            raise InputError(f"{self.name} trains with loss '{self.loss}'", field="loss",
                             expected="implicit_<loss> to choose another loss")
        super().__init__(**options)
        self.config.loss = self.loss
        if self.config.reward not in ("single", "accumulative"):
            raise InputError(f"unknown reward '{self.config.reward}'", field="reward",
                             expected="single or accumulative")

    def train_config(self) -> TrainConfig:
        return TrainConfig(**{f.name: getattr(self.config, f.name) for f in fields(TrainConfig)})

    @property
    def score_beta(self) -> float:
        return self.config.beta if self.config.score_beta is None else self.config.score_beta

    def fit(self, train_pool, base_model: str, val_pool=None) -> Path:
        from reward_models.training.loop import train
        c = self.config
        ckpt = train("implicit", self.name, base_model, train_pool, self.train_config(), val_pool, device=c.device,
                     score_batch_size=c.score_batch_size, progress=c.progress)
        c.model, c.ref = str(ckpt), str(base_model)
        return ckpt

    def _paths(self) -> tuple[str, str | None]:
        c = self.config
        if c.model is None:
            raise InputError(f"{self.name} has no policy: train it first or pass model=PATH", field="model")
        if c.use_ref and c.ref is None:
            raise InputError(f"{self.name} has no reference model: pass ref=PATH (or use_ref=false)", field="ref")
        return c.model, (c.ref if c.use_ref else None)

    def scoring_identity(self):
        from reward_models.lm.logprobs import prompt_format_id
        model, ref = self._paths()
        c = self.config
        return {"model_fingerprint": fingerprint(model), "ref_fingerprint": fingerprint(ref) if ref else None,
                "score_beta": self.score_beta, "reward": c.reward, "use_ref": c.use_ref, "dtype": c.dtype,
                "max_len": c.max_len, "prompt_format": prompt_format_id()}

    def compute_scores(self, pool):
        from reward_models.lm.loading import (
            check_same_tokenizer,
            load_causal_lm,
            load_tokenizer,
            pad_id,
        )
        from reward_models.lm.logp_cache import cached_step_logps
        from reward_models.lm.logprobs import encode_pool, regroup, step_logps
        c = self.config
        model_path, ref_path = self._paths()
        model, tok = load_causal_lm(model_path, dtype=c.dtype, device=c.device)
        if ref_path is not None:
            check_same_tokenizer(tok, load_tokenizer(ref_path))
        encs = encode_pool(tok, pool, max_len=c.max_len)
        runtime = dict(batch_size=c.score_batch_size, max_tokens=c.max_batch_tokens, padding_side=c.padding_side,
                       share_prompt=c.share_prompt, progress=c.progress)
        policy = regroup(step_logps(model, encs, pad_id(tok), desc=f"{self.name} policy", **runtime), pool)
        del model
        ref = (cached_step_logps(ref_path, pool, dtype=c.dtype, max_len=c.max_len, device=c.device, **runtime)
               if ref_path is not None else None)
        steps = []
        for i, prob in enumerate(policy):
            row = []
            for j, pol in enumerate(prob):
                ratio = pol - np.asarray(ref[i][j]) if ref is not None else pol
                r = self.score_beta * ratio
                row.append((np.cumsum(r) if c.reward == "accumulative" else r).tolist())
            steps.append(row)
        meta = {"model": str(model_path), "ref": str(ref_path) if ref_path else None, "beta": c.beta,
                "score_beta_note": SCORE_BETA_NOTE, "truncated": sum(e.truncated for e in encs)}
        return steps, meta


def _variant(name: str, loss: str, paper_row: float | None):
    cls = type(f"Implicit_{loss}", (ImplicitPRM,), {"name": name, "loss": loss, "paper_row": paper_row,
                                                     "__doc__": f"Implicit PRM trained with the {loss} objective."})
    return register_rm(name)(cls)


# The four losses are the paper's main rows; the balanced CE variants are its ablations (harness.paper.recipes).
for _name, _loss, _row in [("implicit_dpo", "dpo", 1), ("implicit_kto", "kto", 2), ("implicit_nca", "nca", 3),
                           ("implicit_ce", "ce", 4), ("implicit_ce_inst", "ce_inst", None),
                           ("implicit_ce_data", "ce_data", None)]:
    _variant(_name, _loss, _row)
