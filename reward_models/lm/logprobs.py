"""Per-token log-probabilities of responses given their prompts, summed per step, in length-bucketed batches.

A sequence is the prompt (harness.core.prompting.build_prompt, tokenized on its own) followed by the response tokens
(tokenized once, with character offsets) followed by eos. Each response token belongs to the step whose span contains
its first character; eos belongs to the last step. So per-step sums add up to the whole-response log-probability.

Padding is masked and position ids are derived from the mask, so a sequence's numbers do not depend on which other
sequences share its batch or on the padding side. Only the logits of response positions are computed
(`logits_to_keep`), and log-softmax is evaluated only at response tokens.

With share_prompt, the N responses of a problem do not each carry their prompt: the prompts of a window of problems
are run once (left-padded, batched), their key/value caches are kept, and each response batch (length-bucketed across
the window, right-padded) runs only its response tokens on top of its rows' prompt caches. The numbers equal the plain
path's to float rounding (tests/system/test_performance_paths.py); benchmarks/prompt_sharing.py measures when it pays.
"""

from __future__ import annotations

import hashlib
import inspect
from collections import Counter
from dataclasses import dataclass

import numpy as np

from harness.core import progress as progress_mod
from harness.core.errors import InputError
from harness.core.hf_compat import cache_kwargs, output_cache
from harness.core.prompting import build_prompt
from harness.core.steps import step_spans
from reward_models.lm.prefix_tree import tree_batches

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
    import torch  # lazy: torch costs ~2 s at import; light commands must not pay it
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


def hidden_at(body, seqs: list[tuple[list[int], list[int]]], pad: int):
    """[marks in the batch, hidden] last hidden states of `body` (a transformer without its LM head) at the marked
    token indices of each (ids, marks) sequence, row by row. Right padding, so a mark's column is its token index;
    position ids from the mask, so no sequence depends on the others. Differentiable unless under no_grad."""
    import torch  # lazy: torch costs ~2 s at import; light commands must not pay it
    device = next(body.parameters()).device
    width = max(len(ids) for ids, _ in seqs)
    ids = torch.full((len(seqs), width), pad, dtype=torch.long)
    attn = torch.zeros((len(seqs), width), dtype=torch.long)
    rows, cols = [], []
    for i, (seq, marks) in enumerate(seqs):
        ids[i, :len(seq)] = torch.tensor(seq)
        attn[i, :len(seq)] = 1
        rows += [i] * len(marks)
        cols += marks
    position_ids = (attn.cumsum(-1) - 1).clamp(min=0)
    hidden = body(input_ids=ids.to(device), attention_mask=attn.to(device), position_ids=position_ids.to(device),
                  use_cache=False).last_hidden_state
    return hidden[torch.tensor(rows, device=device), torch.tensor(cols, device=device)]


_KEEP_SUPPORT: dict[type, bool] = {}


def token_logps(model, batch):
    """Log-probabilities of the response tokens of a collated batch (differentiable unless under no_grad).

    Returns (logp [N] float32, response mask [B, L]); the N values are the response tokens in row-major order.
    """
    import torch  # lazy: torch costs ~2 s at import; light commands must not pay it
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
    if _keeps_logits(model):
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
               return_tokens: bool = False, share_prompt: bool = False, dedupe: bool = False,
               share_prefix: bool = False):
    """Per-step sums of log pi(token) for every sequence (float64), in the order of `encs`.

    dedupe: forward each distinct sequence (same ids and step map) once and hand its numbers to every copy; a pool's
    repeated responses (3-8% of an arith test pool) then cost nothing, and copies get equal scores exactly.

    With return_tokens, also each sequence's token log-probs (float32, aligned with `Encoded.step_of`).
    share_prompt: compute each distinct prompt once and reuse its key/value cache (see the module docstring);
    padding_side does not apply then (prompts are left-padded, responses right-padded).
    share_prefix: every shared prefix (the prompt, and the first steps responses agree on) forwarded once
    (reward_models.lm.prefix_tree); supersedes share_prompt and dedupe (a repeated sequence is all shared prefix).
    """
    import torch  # lazy: torch costs ~2 s at import; light commands must not pay it

    if dedupe and not share_prefix:
        first: dict[tuple, int] = {}
        where = [first.setdefault((tuple(e.ids), e.prompt_len, e.step_of.tobytes()), len(first)) for e in encs]
        if len(first) < len(encs):
            uniq = [None] * len(first)
            for e, w in zip(encs, where):
                uniq[w] = uniq[w] or e
            out = step_logps(model, uniq, pad, batch_size=batch_size, max_tokens=max_tokens,
                             padding_side=padding_side, desc=desc, progress=progress, return_tokens=return_tokens,
                             share_prompt=share_prompt)
            if return_tokens:
                return [out[0][w].copy() for w in where], [out[1][w].copy() for w in where]
            return [out[w].copy() for w in where]
    STATS["passes"] += 1
    sums: list[np.ndarray | None] = [None] * len(encs)
    toks: list[np.ndarray | None] = [None] * len(encs)
    was_training = model.training
    model.eval()
    bar = progress_mod.bar(len(encs), desc, "seq", enabled=progress, inner=True)
    try:
        with torch.inference_mode():
            if share_prefix:
                batches = tree_batches(model, encs, pad, batch_size, max_tokens, STATS, make_batches)
            elif share_prompt:
                batches = _shared_prompt_batches(model, encs, pad, batch_size, max_tokens)
            else:
                batches = ((idx, *token_logps(model, collate([encs[i] for i in idx], pad, padding_side)))
                           for idx in make_batches([len(e.ids) for e in encs], batch_size, max_tokens))
            for idx, logp, resp in batches:
                _scatter_steps(idx, encs, logp, resp, sums, toks)
                bar.update(len(idx))
    finally:
        bar.close()
        model.train(was_training)
    return (sums, toks) if return_tokens else sums


def _scatter_steps(idx, encs, logp, resp, sums, toks) -> None:
    """Sum a batch's token log-probs (row-major over `resp`) into per-step float64 totals, one index_add."""
    import torch  # lazy: torch costs ~2 s at import; light commands must not pay it
    counts = resp.sum(1).tolist()
    slots = np.concatenate([encs[i].step_of[:c] + off for i, c, off in
                            zip(idx, counts, np.cumsum([0] + [encs[i].n_steps for i in idx[:-1]]))])
    total = torch.zeros(sum(encs[i].n_steps for i in idx), dtype=torch.float64, device=logp.device)
    total.index_add_(0, torch.from_numpy(slots).to(logp.device), logp.double())
    total = total.cpu().numpy()
    per_row = logp.cpu().numpy()
    at, tat = 0, 0
    for i, c in zip(idx, counts):
        sums[i] = total[at:at + encs[i].n_steps].copy()
        toks[i] = per_row[tat:tat + c].copy()
        at += encs[i].n_steps
        tat += c


# Responses per window of problems whose prompt caches are held at once: enough to fill several length-bucketed
# batches, few enough that the caches of a window stay small next to the model.
_WINDOW_BATCHES = 8


def _shared_prompt_batches(model, encs: list[Encoded], pad: int, batch_size: int, max_tokens: int | None):
    """Yield (indices, token log-probs row-major, response mask) per batch, each prompt forwarded once.

    Sequences with the same prompt ids share one cache (the responses of a problem, and repeated problems).
    """
    for window in _prompt_windows(encs, batch_size):
        prompts = [list(k) for k, _ in window]
        plen = [len(p) for p in prompts]
        kv, last_lse, pmask = _prompt_pass(model, prompts, pad, batch_size, max_tokens)
        members = [(g, i) for g, (_, ms) in enumerate(window) for i in ms]
        STATS["prompt_tokens_saved"] += sum((len(ms) - 1) * plen[g] for g, (_, ms) in enumerate(window))
        rlen = [len(encs[i].ids) - encs[i].prompt_len for _, i in members]
        for bidx in make_batches([r + max(plen) for r in rlen], batch_size, max_tokens):
            yield _response_pass(model, encs, [members[b] for b in bidx], plen, kv, last_lse, pmask, pad)


def _prompt_windows(encs: list[Encoded], batch_size: int) -> list[list[tuple[tuple, list[int]]]]:
    """The sequences grouped by prompt ids, (prompt, member indices), in windows of about _WINDOW_BATCHES batches."""
    groups: dict[tuple, list[int]] = {}
    for i, e in enumerate(encs):
        groups.setdefault(tuple(e.ids[:e.prompt_len]), []).append(i)
    windows, cur, n = [], [], 0
    for key, members in groups.items():
        cur.append((key, members))
        n += len(members)
        if n >= _WINDOW_BATCHES * batch_size:
            windows.append(cur)
            cur, n = [], 0
    if cur:
        windows.append(cur)
    return windows


def _prompt_pass(model, prompts: list[list[int]], pad: int, batch_size: int, max_tokens: int | None):
    """Forward a window's prompts once. Returns (keys/values per layer, left-padded to the window's widest prompt,
    in prompt order; the log-softmax at each prompt's last token; the prompts' attention mask)."""
    import torch  # lazy: torch costs ~2 s at import; light commands must not pay it

    device = next(model.parameters()).device
    plen = [len(p) for p in prompts]
    width = max(plen)
    # Prompt pass: left-padded so every row's last position is its prompt's last token.
    pbatch = collate([Encoded(p, len(p), np.zeros(0, np.int64), 0) for p in prompts], pad, "left")
    kv, last = None, []
    for idx in make_batches(plen, batch_size, max_tokens):
        wb = max(plen[i] for i in idx)  # this batch's own width; its caches are left-padded to the window's
        cols = slice(width - wb, width)
        out = model(input_ids=pbatch["input_ids"][idx, cols].to(device),
                    attention_mask=pbatch["attention_mask"][idx, cols].to(device),
                    position_ids=pbatch["position_ids"][idx, cols].to(device), use_cache=True,
                    **({"logits_to_keep": 1} if _keeps_logits(model) else {}))
        last.append((idx, out.logits[:, -1].float()))
        layers = [tuple(torch.nn.functional.pad(t, (0, 0, width - wb, 0)) for t in (layer.keys, layer.values))
                  for layer in output_cache(out).layers]
        kv = [[(k, v)] for k, v in layers] if kv is None else [acc + [kvl] for acc, kvl in zip(kv, layers)]
        STATS["batches"] += 1
        STATS["tokens"] += int(pbatch["attention_mask"][idx, cols].sum())
    order = torch.tensor([i for idx, _ in last for i in idx])
    inv = torch.empty_like(order)
    inv[order] = torch.arange(len(order))
    inv = inv.to(device)
    kv = [(torch.cat([k for k, _ in parts])[inv], torch.cat([v for _, v in parts])[inv]) for parts in kv]
    last_lse = torch.cat([lg for _, lg in last])[inv]
    last_lse = last_lse - torch.logsumexp(last_lse, dim=-1, keepdim=True)   # log-softmax at the last prompt token
    return kv, last_lse, pbatch["attention_mask"].to(device)


def _response_pass(model, encs: list[Encoded], batch: list[tuple[int, int]], plen: list[int], kv, last_lse, pmask,
                   pad: int):
    """Forward the responses of `batch` ((prompt, sequence) pairs) on their prompts' keys/values: (indices, token
    log-probs row-major, response mask)."""
    # lazy: these load torch and transformers (seconds); light commands must not pay that
    import torch
    from transformers import DynamicCache

    device = next(model.parameters()).device
    width = max(plen)
    g_idx = torch.tensor([g for g, _ in batch], device=device)
    idx = [i for _, i in batch]
    rows = [encs[i].ids[encs[i].prompt_len:] for i in idx]
    pw = max(plen[g] for g, _ in batch)   # drop columns that are padding in every row
    rw = max(len(r) for r in rows)
    ids = torch.full((len(rows), rw), pad, dtype=torch.long)
    resp = torch.zeros((len(rows), rw), dtype=torch.bool)
    for r, row in enumerate(rows):
        ids[r, :len(row)] = torch.tensor(row)
        resp[r, :len(row)] = True
    ids, resp = ids.to(device), resp.to(device)
    if rw == 0:  # only empty responses (no eos): nothing to score
        return idx, torch.zeros(0, device=device), resp
    cache = DynamicCache([(k[g_idx, :, width - pw:], v[g_idx, :, width - pw:]) for k, v in kv], config=model.config)
    attn = torch.cat([pmask[g_idx, width - pw:], resp.long()], dim=1)
    position_ids = attn[:, :pw].sum(1, keepdim=True) + torch.arange(rw, device=device)
    logits = model(input_ids=ids, attention_mask=attn, position_ids=position_ids, use_cache=True,
                   **cache_kwargs(model, cache)).logits
    # Token 0 of a response is predicted by its prompt's last position, token j > 0 by response position j-1.
    logp = torch.zeros(resp.shape, dtype=torch.float32, device=device)
    logp[:, 0] = last_lse[g_idx].gather(-1, ids[:, :1]).squeeze(-1)
    sel_mask = resp[:, 1:]
    sel = logits[:, :-1][sel_mask]
    logp[:, 1:][sel_mask] = (sel.gather(-1, ids[:, 1:][sel_mask][:, None]).squeeze(-1).float()
                             - torch.logsumexp(sel.float(), dim=-1))
    STATS["batches"] += 1
    STATS["tokens"] += int(resp.sum())
    return idx, logp[resp], resp


def _keeps_logits(model) -> bool:
    cls = type(model)
    if cls not in _KEEP_SUPPORT:
        _KEEP_SUPPORT[cls] = "logits_to_keep" in inspect.signature(model.forward).parameters
    return _KEEP_SUPPORT[cls]


def sequence_logps(model, encs: list[Encoded], pad: int, padding_side: str = "left"):
    """Whole-response log pi(y|x) of each sequence as a differentiable tensor [B] (for training)."""
    import torch  # lazy: torch costs ~2 s at import; light commands must not pay it
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
