"""Sampling the same prompts through harness.generation.fast_decode and through the generic Hugging Face cache, for the
tests that check the two draw the same tokens."""

from __future__ import annotations

import torch


def fast_and_generic_samples(model, tok, problems: list[str], temperature: float, max_new_tokens: int,
                             seed: int = 4):
    """(fast, generic) token ids from one seed; the fast ones are cut to the generic width (it pads after eos)."""
    from harness.generation import fast_decode, sampling
    e = tok([sampling.build_prompt(tok, p) for p in problems], add_special_tokens=False, padding=True,
            padding_side="left", return_tensors="pt")
    args = (e.input_ids, e.attention_mask, temperature, max_new_tokens, tok.eos_token_id, tok.pad_token_id)
    with torch.inference_mode():
        fast = fast_decode.LlamaDecoder(model).sample(*args, torch.Generator().manual_seed(seed))
        slow = sampling._generate_generic(model, *args, torch.Generator().manual_seed(seed))
    return fast[:, :slow.shape[1]], slow
