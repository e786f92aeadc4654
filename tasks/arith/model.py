"""Tiny LlamaForCausalLM generators for the arith world, built from a config (no download)."""

from __future__ import annotations

import torch
from transformers import LlamaConfig, LlamaForCausalLM

SIZES = {
    # name: (hidden, layers, heads, intermediate[, kv heads]); kv heads default to heads (multi-head attention)
    "nano": (32, 2, 2, 64),     # tests
    "small": (96, 4, 4, 256),   # ~0.45M parameters: the generators of world versions <= 5
    # ~0.30M parameters, one kv head shared by the four query heads (multi-query attention): sampling reads a
    # quarter of the key/value cache and a quarter fewer layers, 2.2x the responses/s of "small" at one thread, and
    # it reaches the three pass@1 targets in the same 1,000-step schedule. The default world's generators.
    "small_mqa": (96, 3, 4, 256, 1),
    "base": (128, 4, 4, 384),
}


def make_model(tokenizer, size: str = "small", seed: int = 0, max_positions: int = 512) -> LlamaForCausalLM:
    hidden, layers, heads, inter, *kv = SIZES[size]
    cfg = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
        num_key_value_heads=kv[0] if kv else heads, intermediate_size=inter, max_position_embeddings=max_positions,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True, rope_theta=10000.0,
    )
    torch.manual_seed(seed)
    return LlamaForCausalLM(cfg)
