"""Compute accounting: FLOP formulas, token counts of every trained reward model, and `harness list`."""

from __future__ import annotations

import pytest

from harness.core import cache
from harness.core.pool import Pool, Problem, Response
from reward_models import get_rm
from reward_models.training import flops as compute

META = {"task": "arith", "temperature": 0.5}


def tiny_pool() -> Pool:
    def sol(a, b, ans):
        return f"Step 1: {a}\n\nStep 2: {b}\n\nThe answer is {ans}"
    return Pool([
        Problem("p0", "Compute 3 * 4 + 2", "14", [Response(sol("3 * 4 = 12", "12 + 2 = 14", 14), "14", True),
                                                  Response(sol("3 * 4 = 11", "11 + 2 = 13", 13), "13", False),
                                                  Response("The answer is 14", "14", True)], dict(META)),
        Problem("p1", "Compute 7 * 8 - 6", "50", [Response(sol("7 * 8 = 56", "56 - 6 = 50", 50), "50", True),
                                                  Response(sol("7 * 8 = 54", "54 - 6 = 48", 48), "48", False)],
                dict(META)),
    ])


def test_flop_formulas_and_stages_add_up():
    rec = compute.record(params=1000, generator_params=4000, generated=10, trained=20, reference=30)
    assert rec["data_collection_flops"] == 2 * 4000 * 10
    assert rec["training_flops"] == 6 * 1000 * 20
    assert rec["reference_flops"] == 2 * 1000 * 30  # the reference is the base model: same size unless told
    assert rec["total_flops"] == 80_000 + 120_000 + 60_000
    two = compute.combine(rec, compute.record(params=1000, generator_params=4000, generated=5, trained=0))
    assert two["total_flops"] == 260_000 + 40_000 and two["generated_tokens"] == 15 and len(two["stages"]) == 2
    assert compute.flop_ratio(two, rec) == pytest.approx(300_000 / 260_000)


def test_parameter_and_generated_token_counts(tiny_lm_dir):
    from reward_models.lm.loading import load_causal_lm
    model, tok = load_causal_lm(tiny_lm_dir("nano", 0))
    v, h, inter, layers = len(tok), 32, 64, 2
    # tied embeddings counted once: embeddings + (attention 4h^2 + MLP 3h*inter + 2 norms) per layer + final norm
    assert compute.n_params(model) == v * h + layers * (4 * h * h + 3 * h * inter + 2 * h) + h
    pool = tiny_pool()
    assert compute.generated_tokens(tok, pool) == sum(len(r.text) + 1 for p in pool.problems for r in p.responses)
    # every response prefilled its prompt: "<|user|>" + problem + "\n" + "<|assistant|>" (the chat tags are 1 token)
    assert compute.prompt_tokens(tok, pool) == sum((len(p.problem) + 3) * len(p.responses) for p in pool.problems)


def test_data_collection_counts_the_prefill():
    rec = compute.record(params=1000, generator_params=4000, generated=10, prefill=5, trained=0)
    assert rec["data_collection_flops"] == 2 * 4000 * (10 + 5) and rec["prefill_tokens"] == 5
    two = compute.combine(rec, rec)
    assert two["prefill_tokens"] == 10 and two["total_flops"] == 2 * rec["total_flops"]


def _tokens(tok, pool):
    from reward_models.lm.logprobs import encode_pool
    return [len(e.ids) for e in encode_pool(tok, pool)]


def test_every_trained_reward_model_writes_compute_json_and_list_shows_it(tiny_lm_dir, cache_root, capsys):
    from harness.cli import main
    from reward_models.lm.loading import load_tokenizer
    base = str(tiny_lm_dir("nano", 0))
    tok = load_tokenizer(base)
    pool = tiny_pool()
    lens = _tokens(tok, pool)
    params = compute.n_params(__import__("reward_models.lm.loading", fromlist=["x"]).load_causal_lm(base)[0])
    generated = sum(len(r.text) + 1 for p in pool.problems for r in p.responses)

    ce = compute.read_compute(get_rm("implicit_ce", epochs=2, batch_size=2, progress=False).fit(pool, base))
    assert ce["trained_tokens"] == 2 * sum(lens)          # every response, forward and backward, twice
    assert ce["reference_tokens"] == sum(lens)            # one reference pass over the training pool
    assert ce["generated_tokens"] == generated and ce["params"] == params
    prefill = compute.prompt_tokens(tok, pool)
    assert ce["prefill_tokens"] == prefill > 0
    assert ce["total_flops"] == pytest.approx(2 * params * (generated + prefill) + 6 * params * 2 * sum(lens)
                                              + 2 * params * sum(lens))
    dpo = compute.read_compute(get_rm("implicit_dpo", batch_size=2, pairing="all", progress=False).fit(pool, base))
    pairs = [(0, 1), (2, 1), (3, 4)]                      # every correct x incorrect pair per problem
    assert dpo["trained_tokens"] == sum(lens[w] + lens[lo] for w, lo in pairs)
    orm = compute.read_compute(get_rm("orm", batch_size=2, progress=False).fit(pool, base))
    assert orm["reference_tokens"] == 0 and orm["params"] == params + 32 + 1  # the value head
    assert orm["trained_tokens"] == sum(lens)

    assert main(["list", "--format", "json"]) == 0
    listed = {c["checkpoint"].split("-")[0]: c for c in __import__("json").loads(capsys.readouterr().out)[
        "checkpoints"]}
    assert listed["implicit_ce"]["compute"]["total_flops"] == ce["total_flops"]
    ratios = compute.ratios_to(list(listed.values()))
    assert ratios[listed["implicit_dpo"]["checkpoint"]] == pytest.approx(dpo["total_flops"] / ce["total_flops"])
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert f"{ce['total_flops']:.3g}" in out and f"{dpo['total_flops'] / ce['total_flops']:.2f}x" in out


def test_math_shepherd_counts_its_rollouts(tiny_lm_dir, cache_root):
    base = str(tiny_lm_dir("nano", 0))
    pool = tiny_pool()
    ms = get_rm("math_shepherd", k=2, max_new_tokens=16, batch_size=2, progress=False)
    ckpt = ms.fit(pool, base)
    comp = compute.read_compute(ckpt)
    prefixes = 4  # two-step responses have one step prefix each; one-step responses none
    assert comp["mc_rollouts"] == prefixes * 2
    assert prefixes * 2 <= comp["mc_generated_tokens"] <= prefixes * 2 * 16
    assert comp["generated_tokens"] == comp["rollout_tokens"] + comp["mc_generated_tokens"]
    labels = cache.read_json(ckpt / "metrics.json")["mc_labels"]
    assert labels["steps"] == 4 * 2 + 1 and labels["agreement_with_first_error"] is None  # no error_step recorded here
    from reward_models.lm.loading import load_tokenizer
    from reward_models.lm.tagged import encode_pool_tagged, resolve_format
    tagged = encode_pool_tagged(load_tokenizer(base), pool, resolve_format(ckpt))
    assert comp["trained_tokens"] == sum(len(e.ids) for e in tagged)  # one epoch over the tagged responses
    p = comp["params"]
    # the prefill: every rollout read its prompt, every MC completion its prompt and the prefix it continues
    assert comp["prefill_tokens"] == compute.prompt_tokens(load_tokenizer(base), pool) + comp["mc_prompt_tokens"]
    assert comp["mc_prompt_tokens"] > comp["mc_rollouts"] * len("<|user|>")
    assert comp["total_flops"] == pytest.approx(2 * p * (comp["generated_tokens"] + comp["prefill_tokens"])
                                                + 6 * p * comp["trained_tokens"])
    # max_instructions labels (and trains on) a prefix of the pool only
    small = compute.read_compute(get_rm("math_shepherd", k=2, max_new_tokens=16, batch_size=2, max_instructions=1,
                                        progress=False).fit(pool, base))
    assert small["instructions"] == 1 and small["mc_rollouts"] == 2 * 2
