"""Implicit PRMs (Yuan et al. 2024): a policy trained with an outcome-level objective, read as process rewards.

    q_t = beta * sum over response tokens up to the end of step t of log pi_theta / pi_ref
    step reward: q_t - q_{t-1} ("single", the paper's default) or q_t ("accumulative")

so the "single" step rewards of a response sum to beta * log pi_theta(y|x) / pi_ref(y|x). Without a reference
(use_ref=False, the paper's Table 5) the log pi_ref term is dropped. Any pair of local causal LMs with the same
tokenizer can be scored without training via model=PATH ref=PATH.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness.core.errors import InputError
from harness.core.fingerprint import fingerprint
from reward_models import register_rm
from reward_models.base import RewardModel
from reward_models.lm.loading import check_same_tokenizer, load_causal_lm, load_tokenizer, pad_id
from reward_models.lm.logp_cache import cached_step_logps
from reward_models.lm.logprobs import encode_pool, prompt_format_id, regroup, sequence_logps, step_logps
from reward_models.training import losses as L
from reward_models.training.loop import TrainConfig, flat_sums, mismatched_pool, train, train_config_of
from reward_models.training.losses import LOSSES

# The authors' released code multiplies by 0.001 instead of beta at inference. Best-of-N and min-aggregation are
# unchanged by a positive scale; only weighted vote's sigmoid weights see it. score_beta=0.001 reproduces it.
SCORE_BETA_NOTE = ("score_beta scales the step rewards; the authors' inference code uses 0.001, which changes only "
                   "sigmoid weights in weighted vote, not rankings")


class PolicyRatio:
    """The implicit PRM's reward under training: r = beta * (log pi_theta(y|x) - log pi_ref(y|x)) of whole responses;
    the policy starts as the base model, which is also the reference, whose log-probs are computed once up front (no
    grad, the shared reference cache). Without a reference in training (train_ref=False, Table 5) r = beta * log
    pi_theta(y|x) and no reference pass is made or counted."""
    kind = "implicit"

    @property
    def losses(self) -> tuple:
        return LOSSES

    def modules(self) -> list:
        return []  # everything it trains is the policy itself

    def prepare(self, run, val_pool) -> None:
        import torch  # lazy: torch costs ~2 s at import; light commands must not pay it

        cfg = run.cfg

        def ref_sums(pool):
            if not cfg.train_ref:
                return torch.zeros(sum(len(p.responses) for p in pool.problems), dtype=torch.float64)
            with run.amp():
                return torch.from_numpy(flat_sums(cached_step_logps(run.base_model, pool, **run.runtime)))
        self.ref = ref_sums(run.train_pool)
        self.kl_encs = None
        if cfg.loss == "kto" and len(run.train_pool.problems) > 1:  # KTO's reference point: mismatched pairs
            kl_pool = mismatched_pool(run.train_pool)
            self.kl_encs = encode_pool(run.tok, kl_pool, max_len=cfg.max_len)
            self.kl_ref = ref_sums(kl_pool)
        if val_pool is not None:
            self.val_ref = ref_sums(val_pool).numpy()

    def rewards(self, run, idx, batch, positions=None):
        logp = sequence_logps(run.model, batch, run.pad)
        return run.cfg.beta * (logp - self.ref[idx].to(run.device)).float()

    def kto_reference_point(self, run, chunk):
        import torch  # lazy: torch costs ~2 s at import; light commands must not pay it

        if self.kl_encs is None:
            return torch.zeros(())
        with torch.no_grad():
            kl = sequence_logps(run.model, [self.kl_encs[i] for i in chunk], run.pad) - self.kl_ref[chunk].to(
                run.device)
            run.counted["reference"] += sum(len(self.kl_encs[i].ids) for i in chunk)
            return L.kto_reference_point(run.cfg.beta * kl.float())

    def val_scores(self, run, val_pool):
        val_encs = encode_pool(run.tok, val_pool, max_len=run.cfg.max_len)
        with run.amp():
            pol = step_logps(run.model, val_encs, run.pad, batch_size=run.score_batch_size, desc="validation",
                             progress=run.progress)
        return run.cfg.beta * (np.array([s.sum() for s in pol]) - self.val_ref)

    def reference_tokens(self, run) -> int:
        """The reference pass over the training pool (and KTO's mismatched pairs)."""
        if not run.cfg.train_ref:
            return 0
        return sum(len(e.ids) for e in run.encs) + (sum(len(e.ids) for e in self.kl_encs) if self.kl_encs else 0)

    def save(self, folder) -> None:
        pass  # the policy is the checkpoint


@dataclass
class ImplicitConfig(TrainConfig):
    score_beta: float | None = field(default=None, metadata={
        "help": "the coefficient of the step rewards at scoring; default: beta"})
    reward: str = field(default="single", metadata={"help": "single | accumulative"})
    use_ref: bool = field(default=True, metadata={
        "help": "subtract log pi_ref; false scores beta * log pi_theta alone (the paper's Table 5)"})
    model: str | None = field(default=None, metadata={
        "help": "policy: set by fit, or any local causal LM folder / .gguf file"})
    ref: str | None = field(default=None, metadata={
        "help": "reference: the base model the policy was trained from"})
    device: str = field(default="cpu", metadata={"help": "torch device of training and scoring (cpu, cuda, ...)"})
    score_batch_size: int = field(default=32, metadata={"help": "responses per forward pass when scoring"})
    max_batch_tokens: int | None = field(default=None, metadata={
        "help": "at most this many padded tokens per scoring batch (memory); default: no limit"})
    padding_side: str = field(default="left", metadata={"help": "left | right padding of scoring batches"})
    share_prompt: bool = field(default=True, metadata={
        "help": "one prompt pass per problem, its KV cache reused (runtime: not in the score key; equal within 1e-5 "
                "and faster here: results/performance.md)"})
    share_prefix: bool = field(default=True, metadata={
        "help": "every shared prefix (prompt, agreed first steps) forwarded once; supersedes share_prompt (runtime: "
                "not in the score key; equal within 1e-5, 35-45% fewer tokens on the arith test pools: "
                "reward_models/lm/prefix_tree.py)"})
    progress: bool = field(default=True, metadata={"help": "show progress bars"})


class ImplicitPRM(RewardModel):
    trainable = True
    loss = "ce"
    Config = ImplicitConfig

    @classmethod
    def check_options(cls, config, given):
        if "loss" in given and given["loss"] != cls.loss:
            raise InputError(f"{cls.name} trains with loss '{cls.loss}'", field="loss",
                             expected="implicit_<loss> to choose another loss")
        config.loss = cls.loss
        if config.reward not in ("single", "accumulative"):
            raise InputError(f"unknown reward '{config.reward}'", field="reward", expected="single or accumulative")

    def train_config(self) -> TrainConfig:
        return train_config_of(self.config)

    @property
    def score_beta(self) -> float:
        return self.config.beta if self.config.score_beta is None else self.config.score_beta

    def fit(self, train_pool, base_model: str, val_pool=None) -> Path:
        c = self.config
        ckpt = train(PolicyRatio(), self.name, base_model, train_pool, self.train_config(), val_pool, device=c.device,
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
        model, ref = self._paths()
        c = self.config
        return {"model_fingerprint": fingerprint(model), "ref_fingerprint": fingerprint(ref) if ref else None,
                "score_beta": self.score_beta, "reward": c.reward, "use_ref": c.use_ref, "dtype": c.dtype,
                "max_len": c.max_len, "prompt_format": prompt_format_id()}

    def compute_scores(self, pool):
        c = self.config
        model_path, ref_path = self._paths()
        model, tok = load_causal_lm(model_path, dtype=c.dtype, device=c.device)
        if ref_path is not None:
            check_same_tokenizer(tok, load_tokenizer(ref_path))
        encs = encode_pool(tok, pool, max_len=c.max_len, add_eos=not self.as_prefix)
        runtime = dict(batch_size=c.score_batch_size, max_tokens=c.max_batch_tokens, padding_side=c.padding_side,
                       share_prompt=c.share_prompt, share_prefix=c.share_prefix, progress=c.progress, dedupe=True)
        policy = regroup(step_logps(model, encs, pad_id(tok), desc=f"{self.name} policy", **runtime), pool)
        del model
        ref = (cached_step_logps(ref_path, pool, dtype=c.dtype, max_len=c.max_len, device=c.device, encs=encs,
                                 add_eos=not self.as_prefix, **runtime)
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
