"""`math_shepherd`: a PRM trained in-repo from Monte-Carlo step labels (Wang et al. 2024), scored as `hf_prm`.

fit(train_pool, base_model, val_pool):
  1. MC-label the RM-training responses with the base model as the policy (it wrote them): K completions per step
     prefix at the pool's own temperature (reward_models.training.mc_labels; cached, resumable). `max_instructions`
     labels only the first problems, because K rollouts per step are expensive on a CPU.
  2. Fine-tune the base model to predict good/bad at a step tag placed after every step: cross-entropy over the two
     label tokens' logits at the tag positions, against the hard labels (default) or the soft ones (target=soft),
     averaged over the tags of a batch, as Math-Shepherd trains its released PRM.
  3. Save an ordinary causal-LM checkpoint (safetensors, tokenizer, prm_config.json with the tag format) in one
     atomic rename, with train_config.json, metrics.json and compute.json (MC rollouts included).
Scoring is `hf_prm` on that checkpoint: P(good)/(P(good)+P(bad)) at each tag; aggregate with min, prod or last.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from harness.core import cache
from harness.core.errors import InputError
from harness.core.fingerprint import fingerprint
from reward_models import register_rm
from reward_models.hf_prm import HFPRM
from reward_models.lm.loading import load_causal_lm, load_tokenizer
from reward_models.lm.logprobs import prompt_format_id
from reward_models.lm.tagged import TagFormat, encode_pool_tagged, pick_step_tag, resolve_format
from reward_models.training import step_tags as prm_training
from reward_models.training import mc_labels as mc
from reward_models.training import flops as compute
from reward_models.training.step_tags import StepTagOptions


@dataclass
class MCOptions:
    """How step labels are collected (shared with the step-level KTO second stage)."""
    k: int = field(default=8, metadata={"help": "completions per step prefix (Math-Shepherd's N)"})
    temperature: float | None = field(default=None, metadata={
        "help": "sampling temperature of the completions; default: the pool's sampling temperature, else 0.5"})
    max_new_tokens: int = field(default=200, metadata={"help": "longest completion of a step prefix, in tokens"})
    mc_seed: int = field(default=0, metadata={"help": "seed of the completions' sampling"})
    max_instructions: int | None = field(default=None, metadata={
        "help": "label only the first problems of the training pool"})
    chunk_problems: int = field(default=8, metadata={
        "help": "problems per resumable chunk (each with its own seeded generator)"})
    rollout_batch_rows: int = field(default=512, metadata={
        "help": "sampled rows per batch (KV-cache memory grows with it)"})


@dataclass
class MCSetup:
    pool: object        # the labelled subset of the training pool
    key: str            # the MC label cache key
    identity: dict      # what keys the samples besides pool, K, seed and chunking
    grader: object
    options: MCOptions
    policy: str
    temperature: float

    def run(self, progress: bool = True, load=None):
        """Compute (or read) the labels; the policy is loaded only if something is left to sample."""
        c = self.options
        sampler = mc.policy_sampler(self.policy, temperature=self.temperature, max_new_tokens=c.max_new_tokens,
                                    dtype=self.identity["dtype"], device=getattr(c, "device", "cpu"),
                                    batch_rows=c.rollout_batch_rows, load=load)
        return mc.mc_label_pool(self.pool, sampler, self.grader, identity=self.identity, k=c.k, seed=c.mc_seed,
                                chunk_problems=c.chunk_problems, progress=progress)


def mc_setup(c: MCOptions, train_pool, base_model) -> MCSetup:
    """Everything that determines the MC labels of a training pool, without sampling anything yet."""
    pool = mc.subset_pool(train_pool, c.max_instructions)
    temperature = c.temperature if c.temperature is not None else mc.pool_temperature(pool)
    grader_name, grader = mc.pool_grader(pool)
    identity = mc.policy_identity(base_model, pool, temperature=temperature, max_new_tokens=c.max_new_tokens,
                                  dtype=getattr(c, "dtype", "float32"), grader_name=grader_name)
    return MCSetup(pool, mc.mc_key(pool, identity, c.k, c.mc_seed, c.chunk_problems), identity, grader, c,
                   str(base_model), temperature)


def label_quality(pool, hard) -> dict:
    """How the hard MC labels of incorrect responses agree with the first wrong step, where the pool records it
    (arith: extra.error_step): steps before it should be '+', the rest '-'."""
    agree = total = 0
    for p, labels in zip(pool.problems, hard):
        for r, steps in zip(p.responses, labels):
            err = r.extra.get("error_step") if not r.correct else None
            if err is None:
                continue
            for t, h in enumerate(steps):
                total += 1
                agree += h == (t + 1 < err)
    flat = [h for prob in hard for steps in prob for h in steps]
    return {"steps": len(flat), "positive_fraction": sum(flat) / max(1, len(flat)),
            "agreement_with_first_error": agree / total if total else None, "steps_with_first_error": total}


@dataclass
class MathShepherdConfig(StepTagOptions, MCOptions):
    target: str = field(default="hard", metadata={"help": "hard | soft MC labels as cross-entropy targets"})


TRAIN_FIELDS = ("target",) + prm_training.TRAIN_FIELDS


@register_rm("math_shepherd")
class MathShepherd(HFPRM):
    name = "math_shepherd"
    trainable = True
    Config = MathShepherdConfig
    paper_row = 9
    paper_note = ("Math-Shepherd-style PRM from Monte-Carlo step labels (K = 8) for every step of all RM-training "
                  "rollouts (~45 min cold here; `-- --set max_instructions=200` labels the first 200 instructions "
                  "only)")

    @classmethod
    def check_options(cls, config, given):
        super().check_options(config, given)
        if config.target not in ("hard", "soft"):
            raise InputError(f"unknown target '{config.target}'", field="target", expected="hard or soft")

    def tag_format(self) -> TagFormat:
        c = self.config
        return resolve_format(self._model(), c.step_tag, c.good, c.bad, None)

    def fit(self, train_pool, base_model: str, val_pool=None) -> Path:
        c = self.config
        ckpt = train_prm(self.name, c, train_pool, base_model, val_pool)
        c.model = str(ckpt)
        return ckpt


def train_prm(name: str, c: MathShepherdConfig, train_pool, base_model, val_pool=None) -> Path:
    """MC-label, fine-tune, save (or find the cached checkpoint) and return the checkpoint folder."""
    mc = mc_setup(c, train_pool, base_model)
    pool, mc_key = mc.pool, mc.key
    tok = load_tokenizer(base_model)
    fmt = TagFormat(c.step_tag or pick_step_tag(tok), c.good, c.bad, "prompt")
    train_cfg = {f: getattr(c, f) for f in TRAIN_FIELDS} | {"step_tag": fmt.step_tag}
    key = cache.stable_hash({"kind": "math_shepherd", "train": train_cfg, "mc": mc_key, "base": fingerprint(base_model),
                             "prompt_format": prompt_format_id()})
    out = cache.root() / "checkpoints" / f"{name}-{key}"
    if cache.check_dir(out, "removing it and training again"):  # a damaged checkpoint is never used
        return out
    if val_pool is not None and not val_pool.is_graded():
        raise InputError("validation pool is not graded (run `grade` first)", file=val_pool.path)

    import torch  # lazy: torch costs ~2 s at import; light commands must not pay it

    model, tok = load_causal_lm(base_model, dtype=c.dtype, device=c.device)
    labels = mc.run(progress=c.progress, load=lambda: (model, tok))  # before training the model *is* the policy
    params = compute.n_params(model)
    encs = encode_pool_tagged(tok, pool, fmt)
    chosen = labels.soft if c.target == "soft" else labels.hard
    targets = [torch.tensor([float(v) for v in steps]) for prob in chosen for steps in prob]
    metrics, trained_tokens = prm_training.fit_tagged(c, model, tok, encs, targets, name)
    metrics |= {"instructions": len(pool.problems), "mc_labels": label_quality(pool, labels.hard)}
    if val_pool is not None:
        metrics["val_auc"] = prm_training.val_auc(model, tok, val_pool, fmt, c)
    rollout_tokens = compute.generated_tokens(tok, pool)
    comp = compute.record(params=params, generator_params=params, generated=rollout_tokens + labels.generated_tokens,
                          prefill=compute.prompt_tokens(tok, pool) + labels.meta.get("prompt_tokens", 0),
                          trained=trained_tokens, reference=0, kind="math_shepherd", instructions=len(pool.problems),
                          rollout_tokens=rollout_tokens, mc_generated_tokens=labels.generated_tokens,
                          mc_prompt_tokens=labels.meta.get("prompt_tokens", 0),
                          mc_rollouts=labels.meta.get("rollouts", 0), k=c.k)
    record = {"kind": "math_shepherd", "name": name, "config": dataclasses.asdict(c), "format": fmt.as_dict(),
              "base_model": str(base_model), "key": key, "mc_labels": mc_key,
              "train_pool_hash": train_pool.content_hash(), "labelled_pool_hash": pool.content_hash()}
    prm_training.save_tagged(out, model, tok, fmt, record, metrics, comp)
    return out
