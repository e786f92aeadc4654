"""Baselines: seeded random scores, and the untrained model's per-step log-likelihood (shared log-prob cache)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harness.core.pool import Pool, Problem, Response
from harness.core.prompting import build_prompt
from harness.core.steps import step_spans
from reward_models import REWARD_MODELS, get_rm
from reward_models.lm.loading import load_causal_lm
from reward_models.lm.logprobs import STATS


def small_pool() -> Pool:
    return Pool([
        Problem("a", "Compute 6 * 7", "42", [Response("Step 1: 6 * 7 = 42\n\nThe answer is 42"),
                                             Response("Step 1: 6 * 7 = 43\n\nThe answer is 43"),
                                             Response("The answer is 42")]),
        Problem("b", "Compute 9 - 4", "5", [Response("Step 1: 9 - 4 = 5\n\nStep 2: done\n\nThe answer is 5")]),
    ])


def test_registered_names():
    for name in ("implicit_dpo", "implicit_kto", "implicit_nca", "implicit_ce", "implicit_ce_inst",
                 "implicit_ce_data", "orm", "random", "loglik"):
        assert name in REWARD_MODELS


def test_random_is_seeded_uniform_with_one_step(cache_root):
    a = get_rm("random", seed=3).score(small_pool())
    b = get_rm("random", seed=3).compute_scores(small_pool())[0]
    c = get_rm("random", seed=4).score(small_pool())
    assert a.step_scores == b
    assert a.step_scores != c.step_scores
    flat = [s for prob in a.step_scores for resp in prob for s in resp]
    assert [[len(r) for r in prob] for prob in a.step_scores] == [[1, 1, 1], [1]]
    assert all(0.0 <= s < 1.0 for s in flat)
    assert len({a.meta["key"], c.meta["key"]}) == 2


def test_loglik_is_per_step_log_likelihood_and_reads_the_shared_cache(tiny_lm_dir, cache_root):
    base = str(tiny_lm_dir("nano", 0))
    pool = small_pool()
    rm = get_rm("loglik", progress=False)
    assert rm.fit(pool, base) is None and rm.config.model == base
    ss = rm.score(pool)
    model, tok = load_causal_lm(base)
    for prob, scores in zip(pool.problems, ss.step_scores):
        prompt = tok(build_prompt(tok, prob.problem), add_special_tokens=False)["input_ids"]
        for resp, steps in zip(prob.responses, scores):
            ids = tok(resp.text, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
            with torch.no_grad():
                lp = torch.log_softmax(model(torch.tensor([prompt + ids])).logits[0].double(), -1)
            token_lp = np.array([lp[len(prompt) + k - 1, t].item() for k, t in enumerate(ids)])
            spans = step_spans(resp.text)
            ends = [b for _, b in spans]
            ends[-1] += 1  # eos joins the last step (char-level tokens: token k is character k)
            starts = [a for a, _ in spans]
            assert steps == pytest.approx([token_lp[a:b].sum() for a, b in zip(starts, ends)], abs=1e-5)

    # an implicit PRM whose reference is the same base model needs no reference pass after loglik
    start = STATS["passes"]
    get_rm("implicit_ce", model=str(tiny_lm_dir("nano", 1)), ref=base, progress=False).score(pool)
    assert STATS["passes"] - start == 1


def test_text_hash_gives_copies_of_a_text_one_score_and_has_no_signal(cache_root):
    dup = Pool([Problem("a", "Compute 6 * 7", "42", [Response("Step 1: 6 * 7 = 42\n\nThe answer is 42", "42", True),
                                                     Response("Step 1: 6 * 7 = 43\n\nThe answer is 43", "43", False),
                                                     Response("Step 1: 6 * 7 = 42\n\nThe answer is 42", "42", True)])])
    a = get_rm("text_hash").score(dup)
    flat = [resp[0] for resp in a.step_scores[0]]
    assert [[len(r) for r in prob] for prob in a.step_scores] == [[1, 1, 1]]
    assert flat[0] == flat[2] != flat[1]  # copies of one text: one score; another text: another
    assert get_rm("text_hash").compute_scores(dup)[0] == a.step_scores  # deterministic
    assert get_rm("text_hash", seed=1).score(dup).step_scores != a.step_scores
    # without signal: over many distinct texts, correct and wrong ones score alike on average
    texts = [f"Step 1: {i} + 1 = {i + 1}\n\nThe answer is {i + 1}" for i in range(4000)]
    pool = Pool([Problem("b", "q", "0", [Response(t, str(i), i % 2 == 0) for i, t in enumerate(texts)])])
    s = np.array(get_rm("text_hash").compute_scores(pool)[0][0]).ravel()
    assert abs(s[::2].mean() - s[1::2].mean()) < 0.03 and 0 <= s.min() and s.max() < 1
