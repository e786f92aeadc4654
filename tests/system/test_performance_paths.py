"""Fast paths give the plain path's numbers: prompt-shared log-probs (one prompt pass per problem, its key/value cache
reused by every response) equal the plain per-sequence log-probs on pools with varied prompt and response lengths."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from _smoke_pool import empty_responses_pool

from harness.core.pool import Pool, Problem, Response
from reward_models.lm.logprobs import STATS, encode_pool, step_logps
from tasks.arith.model import make_model
from tasks.arith.tokenizer import build_tokenizer


def varied_pool() -> Pool:
    """Prompts of different lengths, responses from one character to several steps, a repeated problem."""
    def sol(steps, answer):
        return "".join(f"Step {i}: {s}\n\n" for i, s in enumerate(steps, 1)) + f"The answer is {answer}"
    return Pool([
        Problem("a", "Compute 2 + 3 * 4", "14", [
            Response(sol(["3 * 4 = 12", "2 + 12 = 14"], 14)), Response("7"),
            Response(sol(["2 + 3 = 5", "5 * 4 = 20", "check: 20"], 20)), Response("The answer is 14")]),
        Problem("b", "Compute (100 - 37) * 12 + 5 * (6 - 4) - 81 / 9", "747", [
            Response(sol(["100 - 37 = 63", "63 * 12 = 756", "6 - 4 = 2", "5 * 2 = 10", "81 / 9 = 9",
                          "756 + 10 - 9 = 757"], 757)),
            Response("756")]),
        Problem("c", "Compute 7 * 8", "56", [Response(sol(["7 * 8 = 56"], 56))]),
        Problem("a2", "Compute 2 + 3 * 4", "14", [Response(sol(["3 * 4 = 12", "2 + 12 = 14"], 14)),
                                                   Response("14")]),
    ])


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    tok = build_tokenizer()
    return make_model(tok, "nano", seed=3).eval(), tok


@pytest.mark.parametrize("padding_side", ["left", "right"])
@pytest.mark.parametrize("batch_size", [1, 3, 64])
def test_shared_prompt_equals_plain(setup, padding_side, batch_size):
    model, tok = setup
    pool = varied_pool()
    encs = encode_pool(tok, pool)
    plain, plain_tok = step_logps(model, encs, tok.pad_token_id, batch_size=batch_size, padding_side=padding_side,
                                  progress=False, return_tokens=True)
    shared, shared_tok = step_logps(model, encs, tok.pad_token_id, batch_size=batch_size, progress=False,
                                    return_tokens=True, share_prompt=True)
    assert len(shared) == len(plain) == pool.n_responses
    for p, s, pt, st, e in zip(plain, shared, plain_tok, shared_tok, encs):
        assert s.shape == p.shape == (e.n_steps,)
        assert len(st) == len(pt) == len(e.ids) - e.prompt_len
        np.testing.assert_allclose(s, p, atol=1e-5, rtol=0)
        np.testing.assert_allclose(st, pt, atol=1e-5, rtol=0)
    # the numbers are log-probs of real tokens, not zeros from a mask mistake
    assert all(np.all(s < 0) for s in shared)


def test_shared_prompt_with_truncation_and_token_budget(setup):
    model, tok = setup
    pool = varied_pool()
    encs = encode_pool(tok, pool, max_len=60)
    assert any(e.truncated for e in encs)
    plain = step_logps(model, encs, tok.pad_token_id, batch_size=4, max_tokens=200, progress=False)
    shared = step_logps(model, encs, tok.pad_token_id, batch_size=4, max_tokens=200, progress=False,
                        share_prompt=True)
    for p, s in zip(plain, shared):
        np.testing.assert_allclose(s, p, atol=1e-5, rtol=0)


def test_shared_prompt_forwards_each_prompt_once(setup):
    model, tok = setup
    pool = varied_pool()
    encs = encode_pool(tok, pool)
    prompt_len = {p.id: e.prompt_len for p, e in zip([p for p in pool.problems for _ in p.responses], encs)}
    total = sum(len(e.ids) for e in encs)
    STATS.clear()
    step_logps(model, encs, tok.pad_token_id, batch_size=8, progress=False, share_prompt=True)
    # "a" and "a2" have the same prompt: 6 sequences under it, one pass; "b" 2 sequences; "c" 1
    saved = 5 * prompt_len["a"] + 1 * prompt_len["b"]
    assert STATS["prompt_tokens_saved"] == saved
    assert STATS["tokens"] == total - saved


def test_share_prompt_is_a_runtime_option_of_implicit_prms(tiny_lm_dir, cache_root):
    """Same score key (a cached score set is reused either way) and the same step rewards."""
    from reward_models import get_rm
    pool = varied_pool()
    paths = dict(model=str(tiny_lm_dir("nano", 1)), ref=str(tiny_lm_dir("nano", 0)), progress=False)
    plain = get_rm("implicit_ce", score_batch_size=3, share_prompt="false", share_prefix="false", **paths)
    shared = get_rm("implicit_ce", score_batch_size=5, share_prefix="false", **paths)
    tree = get_rm("implicit_ce", score_batch_size=4, **paths)  # the default: the prefix tree
    assert shared.config.share_prompt is True and plain.config.share_prompt is False
    assert tree.config.share_prefix is True and shared.config.share_prefix is False
    assert shared.score_key(pool) == plain.score_key(pool) == tree.score_key(pool)
    a = plain.compute_scores(pool)[0]
    for other in (shared, tree):
        b = other.compute_scores(pool)[0]
        for pa, pb in zip(a, b, strict=True):
            for ra, rb in zip(pa, pb, strict=True):
                np.testing.assert_allclose(rb, ra, atol=1e-5, rtol=0)


def test_shared_prompt_with_empty_responses_and_no_eos(setup):
    model, tok = setup
    pool = empty_responses_pool()
    encs = encode_pool(tok, pool, add_eos=False)
    assert [len(e.ids) - e.prompt_len for e in encs] == [0, 1, 0, 0]
    for bs in (1, 4):
        plain = step_logps(model, encs, tok.pad_token_id, batch_size=bs, progress=False)
        shared = step_logps(model, encs, tok.pad_token_id, batch_size=bs, progress=False, share_prompt=True)
        for p, s in zip(plain, shared):
            np.testing.assert_allclose(s, p, atol=1e-5, rtol=0)
        assert [s[0] == 0 for s in shared] == [True, False, True, True]


def test_the_authors_eval_code_transcribed_gives_the_harness_step_rewards(setup):
    """benchmarks/vs_authors.py's transcription of the authors' scoring (whole responses in file-order batches padded
    on the right, full-vocabulary log-softmax, step ends from tokenized prefixes) and its per-prefix scorer give the
    harness's step rewards on the varied pool, so the speed comparison compares like with like."""
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from vs_authors import authors_scores, harness_scores, straightforward_scores
    model, tok = setup
    ref = make_model(tok, "nano", seed=4).eval()
    pool = varied_pool()
    ours = harness_scores(model, ref, tok, pool, batch_size=3)
    authors, _ = authors_scores(model, ref, tok, pool, batch_size=3)
    prefix, _ = straightforward_scores(model, ref, tok, pool, batch_size=3)
    for other in (authors, prefix):
        for p_ours, p_other in zip(ours, other):
            for a, b in zip(p_ours, p_other):
                assert len(a) == len(b) and np.allclose(a, b, atol=1e-4)


@pytest.mark.parametrize("share_prompt", [False, True])
def test_dedupe_forwards_a_repeated_response_once_with_the_same_numbers(setup, share_prompt):
    """Problems "a" and "a2" share a prompt and a response: with dedupe it is forwarded once, both copies get its
    numbers exactly, and every sequence's numbers equal the plain pass's within float rounding."""
    model, tok = setup
    encs = encode_pool(tok, varied_pool())
    kw = dict(batch_size=3, progress=False, share_prompt=share_prompt, return_tokens=True)
    plain, plain_tok = step_logps(model, encs, tok.pad_token_id, **kw)
    STATS.clear()
    deduped, deduped_tok = step_logps(model, encs, tok.pad_token_id, dedupe=True, **kw)
    copy_a, copy_a2 = 0, 7  # first response of "a" and of "a2" (pool order)
    assert encs[copy_a].ids == encs[copy_a2].ids
    assert STATS["tokens"] < sum(len(e.ids) for e in encs) - (0 if not share_prompt else STATS["prompt_tokens_saved"])
    np.testing.assert_array_equal(deduped[copy_a], deduped[copy_a2])
    assert deduped[copy_a] is not deduped[copy_a2]  # copies, so a caller editing one leaves the other alone
    for p, d, pt, dt in zip(plain, deduped, plain_tok, deduped_tok):
        np.testing.assert_allclose(d, p, atol=1e-5, rtol=0)
        np.testing.assert_allclose(dt, pt, atol=1e-5, rtol=0)
