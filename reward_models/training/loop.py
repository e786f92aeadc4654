"""Training a reward model from outcome labels: one short loop, readable in one sitting.

The adapter hands in what the reward of a response under training is (`train`'s `reward`): the implicit PRM's
beta * (log pi_theta(y|x) - log pi_ref(y|x)) (reward_models.implicit.PolicyRatio), or the ORM's value-head logit
(reward_models.orm.ValueHead). The objective (reward_models.training.objective) trains it under one of the losses
in reward_models.training.losses and owns the checks that the two fit; `train` reads top to bottom as the run: the
data and the model (start_run), the objective, AdamW with linear warm-up then cosine decay, gradient clipping and
seeded shuffling (fit_epochs, the package's one epoch loop), validation, the checkpoint (save_checkpoint). The checkpoint (HF
folder + value head + train_config.json + metrics.json) is written to a temporary folder and renamed into
<cache>/checkpoints/<name>-<key>/, so a checkpoint that exists is complete.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from harness.core import cache
from harness.core import progress as progress_mod
from harness.core.fingerprint import fingerprint
from harness.core.pool import Pool, Problem
from reward_models.lm.loading import load_causal_lm, pad_id, save_model
from reward_models.lm.logprobs import encode_pool, prompt_format_id
from reward_models.training import flops as compute
from reward_models.training.objective import Objective


# The options of the training loop (fit_epochs), shared by every trained reward model's config (TrainConfig here,
# reward_models.training.step_tags.StepTagOptions): one default and one help each, which a config may word for itself.
LOOP_OPTIONS: dict[str, tuple[Any, str]] = {
    "lr": (1e-4, "peak learning rate"),
    "epochs": (1, "passes over the training data"),
    "batch_size": (16, "training examples per optimizer step"),
    "grad_accum": (1, "split each batch into this many forward/backward chunks (memory)"),
    "warmup_ratio": (0.1, "fraction of the optimizer steps of linear warmup, then a cosine decay to 0"),
    "weight_decay": (0.0, "AdamW weight decay"),
    "grad_clip": (1.0, "gradient norm clipped to this before each step"),
    "seed": (0, "seed of the training (torch, batch order)"),
}


def loop_option(name: str, help: str | None = None):
    """The dataclass field of training-loop option `name` (LOOP_OPTIONS), with the config's own wording if given."""
    default, text = LOOP_OPTIONS[name]
    return field(default=default, metadata={"help": help or text})


@dataclass
class TrainConfig:
    loss: str = field(default="ce", metadata={
        "help": "dpo | kto | nca | ce | ce_inst | ce_data (implicit); ce* | bt (value head)"})
    lr: float = loop_option("lr", "peak learning rate: tiny arith models; the paper used 5e-7 on 7B models")
    epochs: int = loop_option("epochs", "passes over the training rollouts")
    batch_size: int = loop_option("batch_size",
                                  "responses (kto, ce*), pairs (dpo, nca) or problems (bt) per optimizer step")
    grad_accum: int = loop_option("grad_accum")
    warmup_ratio: float = loop_option("warmup_ratio")
    weight_decay: float = loop_option("weight_decay")
    grad_clip: float = loop_option("grad_clip")
    beta: float = field(default=0.05, metadata={
        "help": "beta of the implicit reward r = beta * log pi_theta(y) / pi_ref(y) (unused by a value head)"})
    seed: int = loop_option("seed", "seed of the training (torch, batch order, the instruction subset, a new value "
                                    "head)")
    max_len: int | None = field(default=None, metadata={
        "help": "tokens of prompt + response; longer responses lose their tail"})
    dtype: str = field(default="float32", metadata={
        "help": "float32 | bfloat16 | float16 of training (a half dtype: float32 weights under autocast) and scoring"})
    pairing: str = field(default="one_to_one", metadata={
        "help": 'dpo/nca pairs: k-th correct with k-th incorrect, or "all" correct x incorrect ("all" won on the '
                "arith validation split for both: results/tuning/*.options.json)"})
    kto_lambda_d: float = field(default=1.0, metadata={"help": "KTO's weight of desirable (correct) responses"})
    kto_lambda_u: float = field(default=1.0, metadata={"help": "KTO's weight of undesirable (incorrect) responses"})
    # Ablations of the paper (added later: see _LATE_DEFAULTS).
    train_ref: bool = field(default=True, metadata={
        "help": "False drops log pi_ref from the training reward (the paper's Table 5; implicit PRMs only)"})
    responses_per_instruction: int | None = field(default=None, metadata={
        "help": "train on the first k of each instruction's rollouts (generation order; the paper's Figure 4)"})
    instruction_fraction: float = field(default=1.0, metadata={
        "help": "train on a seeded, nested subset of the instructions: 25% is inside 50% is inside 75% (the "
                "paper's Figure 5)"})
    head_at: str = field(default="last", metadata={
        "help": 'ORM only: where the value head is read and trained. "last": the last token. "steps": the '
                "prompt's last token and the end of every step, each toward the response's outcome label "
                "(AutoPSV's outcome-supervised verifier)"})


# Fields added after checkpoints were recorded enter the checkpoint key only when they differ from these defaults,
# so every checkpoint trained before they existed keeps its key (and its cached scores stay valid).
_LATE_DEFAULTS = {"train_ref": True, "responses_per_instruction": None, "instruction_fraction": 1.0,
                  "head_at": "last"}


def train_config_of(config) -> TrainConfig:
    """The training options of a reward model's config (its TrainConfig fields; the adapter's config extends it)."""
    return TrainConfig(**{f.name: getattr(config, f.name) for f in dataclasses.fields(TrainConfig)})


def training_subset(pool: Pool, cfg: TrainConfig) -> Pool:
    """The rollouts a run trains on: all of them unless the data-scaling options ask for fewer."""
    if cfg.responses_per_instruction is None and cfg.instruction_fraction == 1.0:
        return pool
    problems = pool.problems
    if cfg.instruction_fraction < 1.0:
        order = np.random.default_rng(cfg.seed).permutation(len(problems))
        keep = sorted(order[:max(1, round(cfg.instruction_fraction * len(problems)))].tolist())
        problems = [problems[i] for i in keep]
    k = cfg.responses_per_instruction
    if k is not None:
        problems = [dataclasses.replace(p, responses=p.responses[:k]) for p in problems]
    return Pool(problems, path=pool.path)


def lr_at(step: int, total: int, cfg: TrainConfig) -> float:
    warmup = math.ceil(cfg.warmup_ratio * total)
    if step < warmup:
        return cfg.lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * progress))


def optimizer_step(opt, params, batch: list, lr: float, grad_accum: int, grad_clip: float, chunk_loss,
                   history: dict, bar) -> float:
    """One AdamW step over `batch`, in `grad_accum` chunks; `chunk_loss(chunk)` is that chunk's share of the
    batch loss. Shared by every training loop of the package; records loss, learning rate and gradient norm."""
    import torch  # lazy: torch costs ~2 s at import; light commands must not pay it
    for group in opt.param_groups:
        group["lr"] = lr
    opt.zero_grad(set_to_none=True)
    total = 0.0
    n_chunks = max(1, min(grad_accum, len(batch)))
    for c in range(n_chunks):
        loss = chunk_loss(batch[c::n_chunks])
        loss.backward()
        total += loss.item()
    norm = torch.nn.utils.clip_grad_norm_(params, grad_clip)
    opt.step()
    history["loss"].append(total)
    history["lr"].append(lr)
    history["grad_norm"].append(float(norm))
    bar.update(1)
    bar.set_postfix(loss=f"{total:.4f}")
    return total


def fit_epochs(model, params, items: list, *, schedule, epochs: int, batch_size: int, seed: int, grad_accum: int,
               grad_clip: float, weight_decay: float, chunk_loss_of, name: str, progress: bool = True) -> dict:
    """The one training loop of the package: AdamW over `params`, `epochs` passes over `items` in an order drawn
    from `seed`, one optimizer step per batch of `batch_size`; `chunk_loss_of(batch)` gives the function of a chunk
    of the batch whose value is that chunk's share of the batch loss (the objective is the caller's). The learning
    rate follows lr_at(step, total, schedule) (`schedule` has lr and warmup_ratio). Returns the loss, learning-rate
    and gradient-norm history and the number of steps."""
    import torch  # lazy: torch costs ~2 s at import; light commands must not pay it

    opt = torch.optim.AdamW(params, lr=schedule.lr, weight_decay=weight_decay)
    steps_per_epoch = math.ceil(len(items) / batch_size)
    total = epochs * steps_per_epoch
    gen = torch.Generator().manual_seed(seed)
    history: dict = {"loss": [], "lr": [], "grad_norm": []}
    model.train()
    with progress_mod.bar(total, f"train {name}", "step", enabled=progress) as bar:
        for _epoch in range(epochs):
            order = torch.randperm(len(items), generator=gen).tolist()
            for b in range(steps_per_epoch):
                batch = [items[i] for i in order[b * batch_size:(b + 1) * batch_size]]
                optimizer_step(opt, params, batch, lr_at(len(history["loss"]), total, schedule), grad_accum,
                               grad_clip, chunk_loss_of(batch), history, bar)
    model.eval()
    return {**history, "steps": total}


def checkpoint_key(kind: str, cfg: TrainConfig, base_model, train_pool) -> str:
    config = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in _LATE_DEFAULTS or v != _LATE_DEFAULTS[k]}
    return cache.stable_hash({"kind": kind, "config": config, "base": fingerprint(base_model),
                              "pool": [train_pool.content_hash(), train_pool.grades_hash()],
                              "prompt_format": prompt_format_id()})


def mismatched_pool(pool) -> Pool:
    """Responses of problem i under the prompt of problem i+1: the KTO paper's (x, y') pairs for its KL estimate."""
    ps = pool.problems
    return Pool([Problem(f"{ps[(i + 1) % len(ps)].id}|y-of|{p.id}", ps[(i + 1) % len(ps)].problem, "",
                         p.responses) for i, p in enumerate(ps)])


def flat_sums(step_values) -> np.ndarray:
    return np.array([math.fsum(s) for prob in step_values for s in prob], dtype=np.float64)


@dataclass
class TrainingRun:
    """What a response-level reward (`train`'s `reward`) needs of the run: the model being trained and its inputs."""
    model: Any
    tok: Any
    cfg: TrainConfig
    base_model: Any
    train_pool: Pool
    encs: list
    pad: int
    device: str
    amp: Callable
    runtime: dict
    counted: dict
    score_batch_size: int
    progress: bool
    gen_params: int = 0             # parameters of the base model, which wrote the rollouts


def train(reward, name: str, base_model, train_pool, cfg: TrainConfig, val_pool=None, *, device: str = "cpu",
          score_batch_size: int = 32, progress: bool = True) -> Path:
    """Train (or find cached) and return the checkpoint folder. `reward` is the adapter's: what the reward of a
    response under training is (reward_models.implicit.PolicyRatio, reward_models.orm.ValueHead); the objective
    (reward_models.training.objective) trains it under cfg.loss and checks that the two fit."""
    objective = Objective(reward, name, cfg)  # a loss or option that does not fit fails before anything runs
    train_pool = training_subset(train_pool, cfg)
    key = checkpoint_key(reward.kind, cfg, base_model, train_pool)
    out = cache.root() / "checkpoints" / f"{name}-{key}"
    if cache.check_dir(out, "removing it and training again"):  # a damaged checkpoint is never used
        return out
    objective.check_pools(train_pool, val_pool)

    run = start_run(base_model, train_pool, cfg, device=device, score_batch_size=score_batch_size,
                    progress=progress)
    units = objective.prepare(run, val_pool)
    params = list(run.model.parameters()) + [p for m in objective.modules() for p in m.parameters()]
    fitted = fit_epochs(run.model, params, units, schedule=cfg, epochs=cfg.epochs, batch_size=cfg.batch_size,
                        seed=cfg.seed, grad_accum=cfg.grad_accum, grad_clip=cfg.grad_clip,
                        weight_decay=cfg.weight_decay, name=name, progress=progress,
                        chunk_loss_of=objective.chunk_loss_of)
    metrics = {**fitted, "train_responses": len(run.encs), "train_units": len(units), **objective.stats}
    if val_pool is not None:
        metrics["val_auc"] = objective.val_auc(val_pool)

    run.counted["reference"] += objective.reference_tokens()
    record = {"kind": reward.kind, "name": name, "config": dataclasses.asdict(cfg), "base_model": str(base_model),
              "key": key, "train_pool_hash": train_pool.content_hash(), "train_grades_hash": train_pool.grades_hash()}
    save_checkpoint(out, run, objective, record, metrics)
    return out


def start_run(base_model, train_pool: Pool, cfg: TrainConfig, *, device: str, score_batch_size: int,
              progress: bool) -> TrainingRun:
    """The seeded base model (the policy to train, or the backbone of a value head) and the encoded training pool."""
    import torch  # lazy: torch costs ~2 s at import; light commands must not pay it

    torch.manual_seed(cfg.seed)
    # bfloat16/float16: mixed precision. The weights and AdamW's state stay float32 (a bf16 weight cannot take an
    # update below 1/256 of itself, so small learning rates would train nothing); forward passes run autocast.
    mixed = cfg.dtype in ("bfloat16", "float16")
    model, tok = load_causal_lm(base_model, dtype="float32" if mixed else cfg.dtype, device=device)

    def amp():
        return (torch.autocast(torch.device(device).type, dtype=getattr(torch, cfg.dtype)) if mixed
                else contextlib.nullcontext())
    gen_params = compute.n_params(model)  # the base model wrote the rollouts; counted before any head is added
    counted = {"trained": 0, "reference": 0}  # tokens through forward+backward, and through no-grad forwards
    encs = encode_pool(tok, train_pool, max_len=cfg.max_len)
    # the reference pass under autocast is its own cache entry, not the one of a pure-bf16 reference
    runtime = dict(dtype=f"autocast-{cfg.dtype}" if mixed else cfg.dtype, max_len=cfg.max_len,
                   batch_size=score_batch_size, progress=progress,
                   load=lambda: (model, tok))  # before the first step the policy *is* the reference
    return TrainingRun(model, tok, cfg, base_model, train_pool, encs, pad_id(tok), device, amp, runtime, counted,
                       score_batch_size, progress, gen_params)


def save_checkpoint(out: Path, run: TrainingRun, objective: Objective, record: dict, metrics: dict) -> None:
    """The model (and value head), train_config.json, metrics.json, compute.json and the manifest, written to a
    temporary folder renamed into `out`: a checkpoint that exists is complete."""
    model, tok, cfg, pool = run.model, run.tok, run.cfg, run.train_pool
    comp = compute.record(params=compute.n_params(model) + sum(compute.n_params(m) for m in objective.modules()),
                          generator_params=run.gen_params, generated=compute.generated_tokens(tok, pool),
                          prefill=compute.prompt_tokens(tok, pool), trained=run.counted["trained"],
                          reference=run.counted["reference"], reference_params=run.gen_params,
                          kind=f"{objective.kind}_{cfg.loss}", instructions=len(pool.problems))
    tmp = out.parent / f".tmp-{out.name}-{os.getpid()}"
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        save_model(model, tok, tmp)
        objective.reward.save(tmp)
        cache.write_json_atomic(tmp / "train_config.json", record, indent=2)
        cache.write_json_atomic(tmp / "metrics.json", metrics, indent=2)
        compute.write_compute(tmp, comp)
        cache.write_manifest(tmp)  # last: the hashes of everything above, checked when the checkpoint is reused
        try:
            os.rename(tmp, out)
        except OSError:
            if not out.is_dir():  # a concurrent run finishing first is fine; anything else is not
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
