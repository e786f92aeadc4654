"""The fast decoder (harness.generation.fast_decode): the Llama forward pass to 1e-4 for multi-head, grouped-query and
multi-query attention, and the same draws as the generic Hugging Face cache on the arith generators."""

from __future__ import annotations

import pytest
import torch
from _decoding import fast_and_generic_samples


# multi-head (the world <= v5 generators), grouped-query with two groups of two (SmolLM2's kind: the grouping order
# matters) and multi-query, four heads on one kv head (the default world's "small_mqa" generators)
@pytest.mark.parametrize("heads,kv_heads", [(2, 2), (4, 2), (4, 1)])
def test_fast_decoder_matches_llama_forward(heads, kv_heads):
    from transformers import LlamaForCausalLM

    from harness.core.prompting import build_prompt
    from harness.generation.fast_decode import LlamaDecoder
    from tasks.arith.model import make_model
    from tasks.arith.tokenizer import build_tokenizer
    tok = build_tokenizer()
    model = make_model(tok, "nano", seed=1)
    if (heads, kv_heads) != (model.config.num_attention_heads, model.config.num_key_value_heads):
        cfg = model.config
        cfg.num_attention_heads, cfg.num_key_value_heads = heads, kv_heads
        cfg.head_dim = cfg.hidden_size // heads
        torch.manual_seed(1)
        model = LlamaForCausalLM(cfg)
    model = model.eval()
    assert model.model.layers[0].self_attn.k_proj.out_features == kv_heads * model.config.head_dim
    assert model.model.layers[0].self_attn.q_proj.out_features == model.config.hidden_size
    prompts = [build_prompt(tok, "Compute 8 * 2"), build_prompt(tok, "Compute (1 + 2) * 3 - 4")]
    e = tok(prompts, add_special_tokens=False, padding=True, padding_side="left", return_tensors="pt")
    pos = (e.attention_mask.cumsum(-1) - 1).clamp(min=0)
    dec = LlamaDecoder(model)
    L = e.input_ids.shape[1] + 1
    kv = [(torch.zeros(2, dec.n_kv, L, dec.head_dim), torch.zeros(2, dec.n_kv, L, dec.head_dim))
          for _ in model.model.layers]
    km = torch.zeros(2, L, dtype=torch.bool)
    km[:, :e.input_ids.shape[1]] = e.attention_mask.bool()
    with torch.inference_mode():
        ref = model(input_ids=e.input_ids, attention_mask=e.attention_mask, position_ids=pos).logits[:, -1]
        mine = dec.forward(e.input_ids, pos, kv, 0, km)
        # one decode step against a full forward of the extended sequence
        nxt = torch.tensor([7, 9])
        km[:, -1] = True
        step = dec.forward(nxt.unsqueeze(1), pos[:, -1:] + 1, kv, L - 1, km)
        ids2 = torch.cat([e.input_ids, nxt.unsqueeze(1)], 1)
        am2 = torch.cat([e.attention_mask, torch.ones(2, 1, dtype=torch.long)], 1)
        ref2 = model(input_ids=ids2, attention_mask=am2, position_ids=(am2.cumsum(-1) - 1).clamp(min=0)).logits[:, -1]
    assert torch.allclose(ref, mine, atol=1e-4)
    assert torch.allclose(ref2, step, atol=1e-4)


def test_arith_generators_sample_through_the_fast_decoder_and_agree_with_the_generic_path():
    # transformers 5 writes unscaled rotary embeddings as {'rope_type': 'default'}; the fast path must still be taken
    # (it silently was not, which tripled the world's sampling time), and scaled variants must still fall back.
    from harness.generation import fast_decode
    from tasks.arith.model import make_model
    from tasks.arith.tokenizer import build_tokenizer
    tok = build_tokenizer()
    model = make_model(tok, "nano", seed=3).eval()
    assert fast_decode.supports(model)
    scaled = make_model(tok, "nano", seed=3)
    scaled.config.rope_parameters = {"rope_type": "linear", "factor": 2.0, "rope_theta": 10000.0}
    assert not fast_decode.supports(scaled)
    # the same draws from the same generator: equal wherever the generic path has not stopped (it pads after eos)
    fast, slow = fast_and_generic_samples(model, tok, ["Compute 1 + 2", "Compute (3 + 4) * 5 - 6"] * 3, 1.0, 40)
    assert torch.equal(fast, slow)
