"""`implicit_ce_stage2`: the paper's §5.3 second stage, an implicit PRM continued with step-level KTO on MC labels.

Stage 1 is exactly `implicit_ce` (the same cached checkpoint). Stage 2 starts from that policy, keeps the base
model as the reference, and trains the implicit Q-value of every step prefix

    q_t = beta * sum over response tokens up to the end of step t of log pi_theta / pi_ref

with the KTO objective against the Math-Shepherd hard label of step t (reward_models.training.mc_labels, the same cached
labels `math_shepherd` trains on): desirable lambda_D (1 - s(q_t - z0)), undesirable lambda_U (1 - s(z0 - q_t)),
averaged over the steps of a batch. The reference point z0 is 0: the KTO paper's mismatched-pair KL estimate is
defined for whole responses, not prefixes. Scoring is the implicit PRM's, unchanged. compute.json adds the MC
rollouts, the stage-2 training and its reference pass to stage 1's compute.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness.core import cache
from harness.core.errors import InputError
from harness.core.fingerprint import fingerprint
from harness.evaluation.auc import roc_auc
from reward_models import register_rm
from reward_models.implicit import ImplicitConfig, ImplicitPRM, PolicyRatio
from reward_models.lm.loading import load_causal_lm, pad_id, save_model
from reward_models.lm.logp_cache import cached_step_logps
from reward_models.lm.logprobs import collate, encode_pool, step_logps, token_logps
from reward_models.math_shepherd import MCOptions, label_quality, mc_setup
from reward_models.training import flops as compute
from reward_models.training import losses as L
from reward_models.training.loop import fit_epochs, flat_sums, train


@dataclass
class Stage2Config(ImplicitConfig, MCOptions):
    stage2_lr: float | None = field(default=None, metadata={"help": "peak learning rate of stage 2; default: lr"})
    stage2_epochs: int = field(default=1, metadata={"help": "passes of stage 2 over the MC-labelled responses"})
    stage2_batch_size: int | None = field(default=None, metadata={
        "help": "responses (every step of each) per optimizer step of stage 2; default: batch_size"})


def prefix_rewards(model, encs, ref_prefix, beta: float, pad: int):
    """q_t of every step of every sequence, concatenated row by row (differentiable); ref_prefix: same layout."""
    import torch  # lazy: torch costs ~2 s at import; light commands must not pay it

    batch = collate(encs, pad, "left")
    logp, resp = token_logps(model, batch)
    slots = batch["step_slot"].to(resp.device)[resp]
    sums = torch.zeros(batch["n_slots"], dtype=torch.float64, device=resp.device).index_add(0, slots, logp.double())
    parts, at = [], 0
    for e in encs:
        parts.append(torch.cumsum(sums[at:at + e.n_steps], 0))
        at += e.n_steps
    return beta * (torch.cat(parts) - ref_prefix.to(resp.device))


@register_rm("implicit_ce_stage2")
class ImplicitCEStage2(ImplicitPRM):
    """Implicit PRM (CE), then step-level KTO on Math-Shepherd MC labels."""
    name = "implicit_ce_stage2"
    loss = "ce"
    Config = Stage2Config

    def fit(self, train_pool, base_model: str, val_pool=None) -> Path:
        c = self.config
        stage1 = train(PolicyRatio(), "implicit_ce", base_model, train_pool, self.train_config(), val_pool,
                       device=c.device, score_batch_size=c.score_batch_size, progress=c.progress)
        ckpt = train_stage2(self.name, c, stage1, train_pool, base_model, val_pool)
        c.model, c.ref = str(ckpt), str(base_model)
        return ckpt


def train_stage2(name: str, c: Stage2Config, stage1: Path, train_pool, base_model, val_pool=None) -> Path:
    mc = mc_setup(c, train_pool, base_model)
    pool, mc_key = mc.pool, mc.key
    s2 = {"lr": c.stage2_lr if c.stage2_lr is not None else c.lr, "epochs": c.stage2_epochs,
          "batch_size": c.stage2_batch_size or c.batch_size}
    if s2["epochs"] < 1 or s2["batch_size"] < 1:
        raise InputError("stage-2 epochs and batch size must be positive", field="stage2_epochs/stage2_batch_size")
    key = cache.stable_hash({"kind": "implicit_stage2", "stage1": fingerprint(stage1), "mc": mc_key, "stage2": s2,
                             "beta": c.beta, "kto": [c.kto_lambda_d, c.kto_lambda_u], "seed": c.seed,
                             "grad_clip": c.grad_clip, "warmup_ratio": c.warmup_ratio, "max_len": c.max_len,
                             "ref": fingerprint(base_model)})
    out = cache.root() / "checkpoints" / f"{name}-{key}"
    if cache.check_dir(out, "removing it and training again"):  # a damaged checkpoint is never used
        return out

    import torch  # lazy: torch costs ~2 s at import; light commands must not pay it

    labels = mc.run(progress=c.progress)  # the base model is the policy that wrote the rollouts
    model, tok = load_causal_lm(stage1, dtype=c.dtype, device=c.device)
    params = compute.n_params(model)
    pad = pad_id(tok)
    encs = encode_pool(tok, pool, max_len=c.max_len)
    ref_steps = cached_step_logps(base_model, pool, dtype=c.dtype, max_len=c.max_len, device=c.device,
                                  batch_size=c.score_batch_size, progress=c.progress)
    ref_prefix = [torch.from_numpy(np.cumsum(s)) for prob in ref_steps for s in prob]
    desirable = [torch.tensor(steps, dtype=torch.bool) for prob in labels.hard for steps in prob]
    for e, d in zip(encs, desirable):
        assert e.n_steps == len(d), "one MC label per step"

    torch.manual_seed(c.seed)
    trained_tokens = 0

    def chunk_loss_of(batch):  # step-level KTO on the MC labels, the mean over the batch's steps
        n_steps = sum(encs[i].n_steps for i in batch)

        def chunk_loss(chunk):
            nonlocal trained_tokens
            q = prefix_rewards(model, [encs[i] for i in chunk], torch.cat([ref_prefix[i] for i in chunk]),
                               c.beta, pad).float()
            d = torch.cat([desirable[i] for i in chunk]).to(q.device)
            trained_tokens += sum(len(encs[i].ids) for i in chunk)
            return L.kto_loss(q, d, 0.0, c.kto_lambda_d, c.kto_lambda_u).sum() / n_steps
        return chunk_loss

    fitted = fit_epochs(model, list(model.parameters()), list(range(len(encs))),
                        schedule=dataclasses.replace(c, lr=s2["lr"]), epochs=s2["epochs"],
                        batch_size=s2["batch_size"], seed=c.seed, grad_accum=c.grad_accum, grad_clip=c.grad_clip,
                        weight_decay=c.weight_decay, chunk_loss_of=chunk_loss_of, name=name, progress=c.progress)
    metrics = {**fitted, "train_responses": len(encs), "train_steps": int(sum(map(len, desirable))),
               "instructions": len(pool.problems), "mc_labels": label_quality(pool, labels.hard), **s2}
    if val_pool is not None:
        metrics["val_auc"] = val_auc(model, tok, c, base_model, val_pool)
    comp = stage2_compute(stage1, c, labels, params=params, trained=trained_tokens,
                          reference=sum(len(e.ids) for e in encs), instructions=len(pool.problems))
    record = {"kind": "implicit_stage2", "name": name, "config": dataclasses.asdict(c), "stage1": str(stage1),
              "base_model": str(base_model), "key": key, "mc_labels": mc_key, "stage2": s2,
              "train_pool_hash": train_pool.content_hash(), "labelled_pool_hash": pool.content_hash()}
    with cache.atomic_dir(out) as tmp:
        save_model(model, tok, tmp)
        cache.write_json_atomic(tmp / "train_config.json", record, indent=2)
        cache.write_json_atomic(tmp / "metrics.json", metrics, indent=2)
        compute.write_compute(tmp, comp)
        cache.write_manifest(tmp)  # last: the hashes of everything above, checked when the checkpoint is reused
    return out


def val_auc(model, tok, c: Stage2Config, base_model, val_pool) -> float:
    """ROC AUC of the stage-2 policy's beta * log pi_theta / pi_ref of whole responses on the validation labels."""
    val_encs = encode_pool(tok, val_pool, max_len=c.max_len)
    pol = step_logps(model, val_encs, pad_id(tok), batch_size=c.score_batch_size, desc="validation",
                     progress=c.progress)
    val_ref = flat_sums(cached_step_logps(base_model, val_pool, dtype=c.dtype, max_len=c.max_len,
                                          device=c.device, batch_size=c.score_batch_size, progress=c.progress))
    return roc_auc(c.beta * (np.array([s.sum() for s in pol]) - val_ref),
                   [bool(r.correct) for p in val_pool.problems for r in p.responses])


def stage2_compute(stage1: Path, c: Stage2Config, labels, *, params: int, trained: int, reference: int,
                   instructions: int) -> dict:
    """Stage 1's compute (read from its checkpoint) plus the MC rollouts, the stage-2 training and its reference."""
    stage2 = compute.record(params=params, generator_params=params, generated=labels.generated_tokens,
                            prefill=labels.meta.get("prompt_tokens", 0), trained=trained, reference=reference,
                            kind="implicit_stage2", instructions=instructions,
                            mc_generated_tokens=labels.generated_tokens, mc_rollouts=labels.meta.get("rollouts", 0),
                            k=c.k)
    stage1_comp = compute.read_compute(stage1) or {}
    return compute.combine(*(r for r in (stage1_comp, stage2) if r), kind="implicit_ce_stage2",
                           instructions=stage1_comp.get("instructions", instructions))
