"""Tiny LlamaForCausalLM generators for the arith world, built from a config (no download)."""

from __future__ import annotations

import torch
from transformers import LlamaConfig, LlamaForCausalLM

SIZES = {
    # name: (hidden, layers, heads, intermediate)
    "nano": (32, 2, 2, 64),     # tests
    "small": (96, 4, 4, 256),   # ~0.45M parameters
    "base": (128, 4, 4, 384),
}


def make_model(tokenizer, size: str = "small", seed: int = 0, max_positions: int = 512) -> LlamaForCausalLM:
    hidden, layers, heads, inter = SIZES[size]
    cfg = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
        num_key_value_heads=heads, intermediate_size=inter, max_position_embeddings=max_positions,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True, rope_theta=10000.0,
    )
    torch.manual_seed(seed)
    return LlamaForCausalLM(cfg)
