"""Per-token log-probabilities of responses given their prompts, summed per step, in length-bucketed batches.

A sequence is the prompt (harness.prompting.build_prompt, tokenized on its own) followed by the response tokens
(tokenized once, with character offsets) followed by eos. Each response token belongs to the step whose span contains
its first character; eos belongs to the last step. So per-step sums add up to the whole-response log-probability.

Padding is masked and position ids are derived from the mask, so a sequence's numbers do not depend on which other
sequences share its batch or on the padding side. Only the logits of response positions are computed
(`logits_to_keep`), and log-softmax is evaluated only at response tokens.
"""

from __future__ import annotations

import hashlib
import inspect
from collections import Counter
from dataclasses import dataclass

import numpy as np

from harness.errors import InputError
from harness.prompting import build_prompt
from harness.steps import step_spans

# Model passes (one per call over a set of sequences), forward batches and tokens: the benchmark and the tests read
# these to show that a shared reference cache saves passes.
STATS: Counter = Counter()


def prompt_format_id() -> str:
    """Changes whenever the prompt format does, so cached log-probs of an old format are never reused."""
    return hashlib.sha256(inspect.getsource(build_prompt).encode()).hexdigest()[:12]


@dataclass
class Encoded:
    ids: list[int]        # prompt + response (+ eos), after truncation to max_len
    prompt_len: int
    step_of: np.ndarray   # step index of every token after the prompt
    n_steps: int
    truncated: bool = False


def encode_pool(tokenizer, pool, max_len: int | None = None, add_eos: bool = True) -> list[Encoded]:
    """Every response of the pool in pool order (problem by problem), ready for `step_logps`."""
    if not getattr(tokenizer, "is_fast", False):
        raise InputError("a fast tokenizer is needed (character offsets map tokens to steps)",
                         expected="a tokenizer.json in the model folder")
    eos = [tokenizer.eos_token_id] if add_eos and tokenizer.eos_token_id is not None else []
    out: list[Encoded] = []
    for prob in pool.problems:
        prompt = tokenizer(build_prompt(tokenizer, prob.problem), add_special_tokens=False)["input_ids"]
        if max_len is not None and len(prompt) >= max_len:
            raise InputError(f"prompt is {len(prompt)} tokens, max_len is {max_len}", field=f"problem {prob.id}",
                             expected="a larger max_len")
        texts = [r.text for r in prob.responses]
        enc = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
        for text, ids, offs in zip(texts, enc["input_ids"], enc["offset_mapping"]):
            spans = step_spans(text)
            starts = np.array([a for a, _ in spans])
            tok_starts = np.array([o[0] for o in offs], dtype=np.int64)
            step_of = np.searchsorted(starts, tok_starts, side="right") - 1
            step_of = np.concatenate([np.clip(step_of, 0, len(spans) - 1), [len(spans) - 1] * len(eos)])
            resp = list(ids) + eos
            truncated = max_len is not None and len(prompt) + len(resp) > max_len
            if truncated:  # the tail is dropped; steps it held contribute nothing
                keep = max_len - len(prompt)
                resp, step_of = resp[:keep], step_of[:keep]
            out.append(Encoded(prompt + resp, len(prompt), step_of.astype(np.int64), len(spans), truncated))
    return out


def make_batches(lengths: list[int], batch_size: int, max_tokens: int | None = None) -> list[list[int]]:
    """Indices grouped longest first, at most `batch_size` sequences and `max_tokens` padded tokens a batch."""
    if batch_size < 1:
        raise InputError("batch size must be positive", field="batch_size", expected=">= 1")
    batches, cur, width = [], [], 0
    for i in sorted(range(len(lengths)), key=lambda i: (-lengths[i], i)):
        w = max(width, lengths[i])
        if cur and (len(cur) >= batch_size or (max_tokens and w * (len(cur) + 1) > max_tokens)):
            batches.append(cur)
            cur, w = [], lengths[i]
        cur.append(i)
        width = w
    if cur:
        batches.append(cur)
    return batches


def collate(encs: list[Encoded], pad: int, padding_side: str = "left"):
    """Padded ids, attention mask, position ids, a mask of response tokens, and each token's step slot.

    Step slots number the steps of the whole batch consecutively (row 0's steps first), so one index_add sums
    every step of every row.
    """
    import torch
    if padding_side not in ("left", "right"):
        raise InputError(f"unknown padding side '{padding_side}'", field="padding_side", expected="left or right")
    width = max(len(e.ids) for e in encs)
    ids = torch.full((len(encs), width), pad, dtype=torch.long)
    attn = torch.zeros((len(encs), width), dtype=torch.long)
    resp = torch.zeros((len(encs), width), dtype=torch.bool)
    slot = torch.zeros((len(encs), width), dtype=torch.long)
    first_slot = 0
    for i, e in enumerate(encs):
        o = width - len(e.ids) if padding_side == "left" else 0
        ids[i, o:o + len(e.ids)] = torch.tensor(e.ids)
        attn[i, o:o + len(e.ids)] = 1
        resp[i, o + e.prompt_len:o + len(e.ids)] = True
        slot[i, o + e.prompt_len:o + len(e.ids)] = torch.from_numpy(e.step_of) + first_slot
        first_slot += e.n_steps
    position_ids = (attn.cumsum(-1) - 1).clamp(min=0)
    return {"input_ids": ids, "attention_mask": attn, "position_ids": position_ids, "response_mask": resp,
            "step_slot": slot, "n_slots": first_slot}


_KEEP_SUPPORT: dict[type, bool] = {}


def token_logps(model, batch):
    """Log-probabilities of the response tokens of a collated batch (differentiable unless under no_grad).

    Returns (logp [N] float32, response mask [B, L]); the N values are the response tokens in row-major order.
    """
    import torch
    device = next(model.parameters()).device
    ids, resp = batch["input_ids"].to(device), batch["response_mask"].to(device)
    width = ids.shape[1]
    has_resp = resp.any(0).nonzero()
    if len(has_resp) == 0:
        return torch.zeros(0, device=device), resp
    # A token at position t is predicted by the logits at t - 1: keep logits from the first such position on.
    first = int(has_resp[0]) - 1
    kwargs = dict(input_ids=ids, attention_mask=batch["attention_mask"].to(device),
                  position_ids=batch["position_ids"].to(device), use_cache=False)
    cls = type(model)
    if cls not in _KEEP_SUPPORT:
        _KEEP_SUPPORT[cls] = "logits_to_keep" in inspect.signature(model.forward).parameters
    if _KEEP_SUPPORT[cls]:
        logits = model(**kwargs, logits_to_keep=width - first).logits
    else:
        logits = model(**kwargs).logits[:, first:]
    sel_mask = resp[:, first + 1:]
    sel = logits[:, :-1][sel_mask]                       # [N, V] logits at predicting positions only
    targets = ids[:, first + 1:][sel_mask]
    logp = sel.gather(-1, targets[:, None]).squeeze(-1).float() - torch.logsumexp(sel.float(), dim=-1)
    STATS["batches"] += 1
    STATS["tokens"] += int(batch["attention_mask"].sum())
    return logp, resp


def step_logps(model, encs: list[Encoded], pad: int, *, batch_size: int = 8, max_tokens: int | None = None,
               padding_side: str = "left", desc: str = "log-probs", progress: bool = True,
               return_tokens: bool = False):
    """Per-step sums of log pi(token) for every sequence (float64), in the order of `encs`.

    With return_tokens, also each sequence's token log-probs (float32, aligned with `Encoded.step_of`).
    """
    import torch
    from tqdm.auto import tqdm
    STATS["passes"] += 1
    sums: list[np.ndarray | None] = [None] * len(encs)
    toks: list[np.ndarray | None] = [None] * len(encs)
    was_training = model.training
    model.eval()
    bar = tqdm(total=len(encs), desc=desc, unit="seq", disable=not progress, leave=False)
    try:
        with torch.inference_mode():
            for idx in make_batches([len(e.ids) for e in encs], batch_size, max_tokens):
                batch = collate([encs[i] for i in idx], pad, padding_side)
                logp, resp = token_logps(model, batch)
                slots = batch["step_slot"].to(resp.device)[resp]
                total = torch.zeros(batch["n_slots"], dtype=torch.float64, device=resp.device)
                total.index_add_(0, slots, logp.double())
                total = total.cpu().numpy()
                counts = resp.sum(1).tolist()
                per_row = logp.cpu().numpy()
                at, tat = 0, 0
                for i, c in zip(idx, counts):
                    sums[i] = total[at:at + encs[i].n_steps].copy()
                    toks[i] = per_row[tat:tat + c].copy()
                    at += encs[i].n_steps
                    tat += c
                bar.update(len(idx))
    finally:
        bar.close()
        model.train(was_training)
    return (sums, toks) if return_tokens else sums


def sequence_logps(model, encs: list[Encoded], pad: int, padding_side: str = "left"):
    """Whole-response log pi(y|x) of each sequence as a differentiable tensor [B] (for training)."""
    import torch
    batch = collate(encs, pad, padding_side)
    logp, resp = token_logps(model, batch)
    rows = torch.arange(resp.shape[0], device=resp.device)[:, None].expand_as(resp)[resp]
    out = torch.zeros(resp.shape[0], dtype=torch.float64, device=resp.device)
    return out.index_add(0, rows, logp.double())


def regroup(flat: list, pool) -> list[list]:
    """Flat per-response values (pool order) -> [problem][response]."""
    out, at = [], 0
    for p in pool.problems:
        out.append(flat[at:at + len(p.responses)])
        at += len(p.responses)
    return out
