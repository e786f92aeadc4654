"""Batched sampling from a causal LM: the N responses of each prompt, reproducible for a given seed.

Prompts are left-padded so that every row's next token sits at the same position; generation uses the model's KV
cache through `generate`. Each chunk of prompts draws from its own seeded generator, so results do not depend on how
the work is split into chunks (which is what makes chunked, resumable sampling byte-identical to a one-shot run).
"""

from __future__ import annotations

import torch

from harness.core.hf_compat import cache_kwargs, output_cache
from harness.core.prompting import build_prompt
from harness.generation import fast_decode


@torch.inference_mode()
def sample_responses(model, tokenizer, problems: list[str], n: int, *, temperature: float, max_new_tokens: int,
                     seed: int, batch_rows: int = 1024, prefixes: list[str] | None = None,
                     stats: dict | None = None) -> list[list[str]]:
    """`n` sampled continuations for each problem (list per problem, in order).

    prefixes: text already written after each problem's prompt (a response's first steps), which the samples
    continue; the returned texts are the continuations only. stats: if given, its "prompt_tokens" and
    "generated_tokens" counts are increased (generated tokens include eos, the compute of writing the samples).
    """
    model.eval()
    prompts = [build_prompt(tokenizer, p) for p in problems]
    if prefixes is not None:
        prompts = [p + prefix for p, prefix in zip(prompts, prefixes, strict=True)]
    rows = [(i, prompts[i]) for i in range(len(prompts)) for _ in range(n)]
    out: list[list[str]] = [[] for _ in problems]
    device = next(model.parameters()).device
    gen = torch.Generator(device=device).manual_seed(seed)  # sampling draws on the model's device
    for start in range(0, len(rows), batch_rows):
        chunk = rows[start:start + batch_rows]
        enc = tokenizer([p for _, p in chunk], add_special_tokens=False, padding=True, padding_side="left",
                        return_tensors="pt")
        ids = _generate(model, enc["input_ids"].to(device), enc["attention_mask"].to(device), temperature,
                        max_new_tokens,
                        tokenizer.eos_token_id, tokenizer.pad_token_id, gen)
        if stats is not None:
            stats["prompt_tokens"] = stats.get("prompt_tokens", 0) + int(enc["attention_mask"].sum())
        for (i, _), seq in zip(chunk, ids.tolist()):
            if tokenizer.eos_token_id in seq:
                seq = seq[:seq.index(tokenizer.eos_token_id)]
                if stats is not None:
                    stats["generated_tokens"] = stats.get("generated_tokens", 0) + len(seq) + 1
            elif stats is not None:
                stats["generated_tokens"] = stats.get("generated_tokens", 0) + len(seq)
            out[i].append(tokenizer.decode(seq, skip_special_tokens=True))
    return out


def _generate(model, input_ids, attention_mask, temperature, max_new_tokens, eos_id, pad_id, gen):
    """Plain ancestral sampling with a KV cache; an explicit torch.Generator keeps it independent of global RNG."""
    if fast_decode.supports(model):
        return fast_decode.LlamaDecoder(model).sample(input_ids, attention_mask, temperature, max_new_tokens, eos_id,
                                                      pad_id, gen)
    return _generate_generic(model, input_ids, attention_mask, temperature, max_new_tokens, eos_id, pad_id, gen)


def _generate_generic(model, input_ids, attention_mask, temperature, max_new_tokens, eos_id, pad_id, gen):
    from transformers import DynamicCache  # lazy: transformers (and torch behind it) cost seconds at import

    bsz = input_ids.shape[0]
    position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    cache = DynamicCache()
    out = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                use_cache=True, **cache_kwargs(model, cache))
    next_pos = position_ids[:, -1:] + 1
    done = torch.zeros(bsz, dtype=torch.bool, device=input_ids.device)
    new_tokens = []
    logits = out.logits[:, -1, :]
    for _ in range(max_new_tokens):
        probs = torch.softmax(logits.float() / temperature, dim=-1)
        tok = torch.multinomial(probs, 1, generator=gen).squeeze(1)
        tok = torch.where(done, torch.full_like(tok, pad_id), tok)
        new_tokens.append(tok)
        done |= tok == eos_id
        if bool(done.all()):
            break
        attention_mask = torch.cat([attention_mask, (~done).long().unsqueeze(1) | 1], dim=1)
        out = model(input_ids=tok.unsqueeze(1), attention_mask=attention_mask, position_ids=next_pos,
                    use_cache=True, **cache_kwargs(model, output_cache(out)))
        next_pos = next_pos + 1
        logits = out.logits[:, -1, :]
    return (torch.stack(new_tokens, dim=1) if new_tokens
            else torch.empty(bsz, 0, dtype=torch.long, device=input_ids.device))
