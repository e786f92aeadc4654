"""Batched sampling (harness.generation.sampling): reproducible for a seed, the counts of prompt and generated tokens
it reports (the compute accounting's data-collection FLOPs), and an empty prefix changing nothing."""

from __future__ import annotations


def test_sampling_is_reproducible_and_independent_of_batching():
    from harness.generation.sampling import sample_responses
    from tasks.arith.model import make_model
    from tasks.arith.tokenizer import build_tokenizer
    tok = build_tokenizer()
    model = make_model(tok, "nano", seed=2)
    probs = ["Compute 1 + 2", "Compute (3 + 4) * 5"]
    a = sample_responses(model, tok, probs, 3, temperature=1.0, max_new_tokens=20, seed=5)
    b = sample_responses(model, tok, probs, 3, temperature=1.0, max_new_tokens=20, seed=5)
    c = sample_responses(model, tok, probs, 3, temperature=1.0, max_new_tokens=20, seed=6)
    assert a == b and a != c
    assert [len(x) for x in a] == [3, 3]


def test_sampling_counts_generated_tokens_and_continues_prefixes(tiny_lm_dir):
    from harness.generation.sampling import sample_responses
    from reward_models.lm.loading import load_causal_lm
    model, tok = load_causal_lm(tiny_lm_dir("nano", 0))
    kw = dict(temperature=1.0, max_new_tokens=12, seed=3)
    plain = sample_responses(model, tok, ["Compute 1 + 2", "Compute 3 * 4"], 3, **kw)
    stats: dict = {}
    same = sample_responses(model, tok, ["Compute 1 + 2", "Compute 3 * 4"], 3, prefixes=["", ""], stats=stats, **kw)
    assert same == plain  # an empty prefix changes nothing
    # the same draws by hand: a row that stopped wrote its tokens and eos, one that did not wrote 12 tokens
    import torch

    from harness.core.prompting import build_prompt
    from harness.generation.sampling import _generate
    prompts = [build_prompt(tok, q) for q in ["Compute 1 + 2", "Compute 3 * 4"] for _ in range(3)]
    enc = tok(prompts, add_special_tokens=False, padding=True, padding_side="left", return_tensors="pt")
    rows = _generate(model, enc["input_ids"], enc["attention_mask"], 1.0, 12, tok.eos_token_id, tok.pad_token_id,
                     torch.Generator().manual_seed(3)).tolist()
    want = sum(r.index(tok.eos_token_id) + 1 if tok.eos_token_id in r else len(r) for r in rows)
    assert stats["generated_tokens"] == want
    assert stats["prompt_tokens"] == int(enc["attention_mask"].sum())
