"""Supervised training of an arith generator on reference solutions: short enough to read in one sitting.

Loss is next-token cross-entropy on the response tokens (prompt tokens are context only). A cosine schedule with
warm-up; fresh problems every step from the train split, each with a solution drawn from the grammar's distribution
over correct texts (tasks.arith.grammar), seeded, so the run is the same on every call. `on_eval(step, model)` is
called every `eval_every` steps so the caller can measure validation pass@1 and keep checkpoints; it returns True to stop training there (the schedule
is still the one of `steps`, so the checkpoints before the stop are those of the full run).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import torch

from harness.core.prompting import build_prompt


@dataclass
class GeneratorTrainConfig:
    steps: int = 3000
    batch_size: int = 64
    lr: float = 3e-3
    min_lr_ratio: float = 0.1
    warmup_steps: int = 100
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    eval_every: int = 250
    seed: int = 0


def encode_examples(tokenizer, problems, solutions):
    """Token ids of prompt + solution + eos, and a mask that is 1 on solution and eos tokens."""
    seqs, masks = [], []
    for p, s in zip(problems, solutions):
        prompt = tokenizer(build_prompt(tokenizer, p), add_special_tokens=False)["input_ids"]
        resp = tokenizer(s, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        seqs.append(prompt + resp)
        masks.append([0] * len(prompt) + [1] * len(resp))
    return seqs, masks


def collate(seqs, masks, pad_id):
    width = max(map(len, seqs))
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    loss_mask = torch.zeros((len(seqs), width), dtype=torch.float32)
    attn = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, (s, m) in enumerate(zip(seqs, masks)):
        ids[i, :len(s)] = torch.tensor(s)
        loss_mask[i, :len(m)] = torch.tensor(m, dtype=torch.float32)
        attn[i, :len(s)] = 1
    return ids, attn, loss_mask


def lr_at(step: int, cfg: GeneratorTrainConfig) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def train_generator(model, tokenizer, train_problems, cfg: GeneratorTrainConfig, on_eval=None, progress=None):
    """Train in place; `train_problems` are ArithProblem objects, drawn in a seeded order, cycling if exhausted."""
    gen = torch.Generator().manual_seed(cfg.seed)
    order = torch.randperm(len(train_problems), generator=gen).tolist()
    draws = random.Random(cfg.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.98))
    model.train()
    cursor = 0
    for step in range(cfg.steps):
        batch = []
        for _ in range(cfg.batch_size):
            if cursor == len(order):
                order, cursor = torch.randperm(len(train_problems), generator=gen).tolist(), 0
            batch.append(train_problems[order[cursor]])
            cursor += 1
        seqs, masks = encode_examples(tokenizer, [p.problem for p in batch], [p.draw_solution(draws) for p in batch])
        ids, attn, loss_mask = collate(seqs, masks, tokenizer.pad_token_id)
        logits = model(input_ids=ids, attention_mask=attn).logits[:, :-1].float()
        nll = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1),
                                                reduction="none").view(ids.shape[0], -1)
        tgt_mask = loss_mask[:, 1:]
        loss = (nll * tgt_mask).sum() / tgt_mask.sum()
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        if progress is not None:
            progress.update(1)
            progress.set_postfix(loss=f"{loss.item():.3f}")
        if on_eval is not None and ((step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps):
            model.eval()
            stop = on_eval(step + 1, model)
            model.train()
            if stop:
                break
    model.eval()
    return model
