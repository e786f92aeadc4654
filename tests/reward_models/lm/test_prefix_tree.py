"""The prefix-tree path (reward_models.lm.prefix_tree): every shared prefix forwarded once, the plain path's numbers.

Against the plain per-sequence pass on pools where responses share prompts, first steps, whole texts, and where
truncation cuts them; with windows small enough that a pool spans several; and the forwarded token count equals the
number of distinct prefixes (the tree's nodes) plus one recomputed token per branching sequence.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from _paths import REPO
from _smoke_pool import empty_responses_pool

from harness.core.pool import Pool, Problem, Response
from reward_models.lm import prefix_tree
from reward_models.lm.logprobs import STATS, encode_pool, step_logps
from tasks.arith.model import make_model
from tasks.arith.tokenizer import build_tokenizer

sys.path.insert(0, str(REPO / "tests" / "system"))
from test_performance_paths import varied_pool  # noqa: E402


def branching_pool() -> Pool:
    """Responses that agree on their first steps and part ways at different depths, an exact repeat, and two
    problems with the same prompt (their responses share a tree)."""
    def sol(steps, answer):
        return "".join(f"Step {i}: {s}\n\n" for i, s in enumerate(steps, 1)) + f"The answer is {answer}"
    a = [sol(["3 * 4 = 12", "2 + 12 = 14"], 14), sol(["3 * 4 = 12", "2 + 12 = 15"], 15),
         sol(["3 * 4 = 12", "2 + 12 = 14"], 14), sol(["3 * 4 = 13", "2 + 13 = 15"], 15), "14",
         sol(["3 * 4 = 12"], 12)]
    b = [sol(["9 - 4 = 5", "5 * 5 = 25", "25 + 1 = 26"], 26), sol(["9 - 4 = 5", "5 * 5 = 20"], 20),
         sol(["9 - 4 = 6", "6 * 5 = 30"], 30)]
    return Pool([Problem("a", "Compute 2 + 3 * 4", "14", [Response(t) for t in a]),
                 Problem("b", "Compute (9 - 4) * 5 + 1", "26", [Response(t) for t in b]),
                 Problem("a2", "Compute 2 + 3 * 4", "14", [Response(t) for t in a[:2]])])


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    tok = build_tokenizer()
    return make_model(tok, "nano", seed=3).eval(), tok


def distinct_prefixes(encs) -> int:
    return len({tuple(e.ids[:d]) for e in encs for d in range(1, len(e.ids) + 1)})


@pytest.mark.parametrize("pool_of", [varied_pool, branching_pool])
@pytest.mark.parametrize("batch_size", [1, 3, 64])
@pytest.mark.parametrize("max_len", [None, 60])
def test_tree_equals_plain(setup, pool_of, batch_size, max_len):
    model, tok = setup
    encs = encode_pool(tok, pool_of(), max_len=max_len)
    plain, plain_tok = step_logps(model, encs, tok.pad_token_id, batch_size=batch_size, progress=False,
                                  return_tokens=True)
    tree, tree_tok = step_logps(model, encs, tok.pad_token_id, batch_size=batch_size, progress=False,
                                return_tokens=True, share_prefix=True)
    for p, t, pt, tt, e in zip(plain, tree, plain_tok, tree_tok, encs, strict=True):
        assert t.shape == p.shape == (e.n_steps,) and len(tt) == len(pt) == len(e.ids) - e.prompt_len
        np.testing.assert_allclose(t, p, atol=1e-5, rtol=0)
        np.testing.assert_allclose(tt, pt, atol=1e-5, rtol=0)
    # log-probs of real tokens, not zeros from a mask mistake (truncation leaves cut steps at 0)
    assert all(np.all(t < 0) for t, e in zip(tree, encs) if not e.truncated)


def test_tree_forwards_each_distinct_prefix_once(setup):
    model, tok = setup
    encs = encode_pool(tok, branching_pool())
    order, shared = prefix_tree.plan(encs)
    # one recomputed token (the last shared one) for every sequence that shares a prefix and adds a token
    recomputed = sum(1 for k, i in enumerate(order) if 0 < shared[k] < len(encs[i].ids))
    STATS.clear()
    step_logps(model, encs, tok.pad_token_id, batch_size=4, progress=False, share_prefix=True)
    assert STATS["tokens"] == distinct_prefixes(encs) + recomputed
    assert STATS["tokens"] < sum(len(e.ids) for e in encs) / 2
    # the exact repeat (responses 0 and 2 of "a", and both of "a2") gets equal numbers
    tree = step_logps(model, encs, tok.pad_token_id, batch_size=4, progress=False, share_prefix=True)
    np.testing.assert_array_equal(tree[0], tree[2])
    np.testing.assert_array_equal(tree[0], tree[9])


def test_plan_sorts_and_measures_common_prefixes():
    class E:
        def __init__(self, ids):
            self.ids = ids
    encs = [E([1, 2, 3]), E([1, 2]), E([1, 4]), E([1, 2, 3])]
    assert prefix_tree.plan(encs) == ([1, 0, 3, 2], [0, 2, 3, 1])


def test_windows_split_a_pool_without_changing_numbers(setup, monkeypatch):
    """A window budget of a few sequences' keys/values: each window's first sequence recomputes its prefix."""
    model, tok = setup
    encs = encode_pool(tok, branching_pool())
    whole = step_logps(model, encs, tok.pad_token_id, batch_size=3, progress=False, share_prefix=True)
    STATS.clear()
    step_logps(model, encs, tok.pad_token_id, batch_size=3, progress=False, share_prefix=True)
    one_window = STATS["tokens"]
    monkeypatch.setattr(prefix_tree, "WINDOW_BYTES", 120 * prefix_tree._kv_bytes_per_token(model))
    STATS.clear()
    split = step_logps(model, encs, tok.pad_token_id, batch_size=3, progress=False, share_prefix=True)
    assert STATS["tokens"] > one_window  # later windows could not reuse the first one's prefixes
    for a, b in zip(whole, split, strict=True):
        np.testing.assert_allclose(b, a, atol=1e-5, rtol=0)


def test_empty_responses_without_eos(setup):
    model, tok = setup
    pool = empty_responses_pool()
    encs = encode_pool(tok, pool, add_eos=False)
    plain = step_logps(model, encs, tok.pad_token_id, batch_size=2, progress=False)
    tree = step_logps(model, encs, tok.pad_token_id, batch_size=2, progress=False, share_prefix=True)
    for p, t in zip(plain, tree, strict=True):
        np.testing.assert_allclose(t, p, atol=1e-5, rtol=0)
    assert [t[0] == 0 for t in tree] == [True, False, True, True]
