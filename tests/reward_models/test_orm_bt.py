"""orm_bt: the ORM's value head under a Bradley-Terry loss over the correct x incorrect responses of a problem."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from harness.core.errors import InputError
from harness.core.pool import Pool, Problem, Response
from harness.evaluation.auc import roc_auc_ci
from reward_models import get_rm
from reward_models.training.value_head import HEAD_FILE


def marked_pool(n: int = 12) -> Pool:
    """Responses to one problem differ by a word that says whether they are right (one of "guessed", "maybe",
    "rough": the words are arbitrary) or not ("checked", "sure", "exact"); problems differ in how many are right
    (one to three of four), and a few are all wrong. The untrained head ranks them at 0.65 within problems (seed 0);
    what separates them is learnable."""
    bad, good = ("checked", "sure", "exact"), ("guessed", "maybe", "rough")

    def resp(a, b, ok, k):
        return Response(f"Step 1: {(good if ok else bad)[k % 3]} {a} + {b}\n\nThe answer is {a + b + (not ok)}",
                        str(a + b + (not ok)), ok)
    problems = []
    for i in range(n):
        a, b = i + 2, 3 * i % 7
        right = 0 if i % 4 == 3 else 1 + i % 3
        problems.append(Problem(f"q{i}", f"Compute {a} + {b}", str(a + b),
                                [resp(a, b, j < right, i + j) for j in range(4)]))
    return Pool(problems)


def within_auc(score_set, pool) -> float:
    return roc_auc_ci(score_set.aggregate("min"), [[r.correct for r in p.responses] for p in pool.problems],
                      n_boot=0)["within_auc"]


def test_first_step_loss_is_bradley_terry_over_each_problems_pairs(tiny_lm_dir, cache_root):
    """The loss the loop records for its first step (one batch holding every problem) is, by hand, the mean over
    mixed problems of the mean -log s(r_c - r_i) over their pairs, at the untrained head's values."""
    import torch

    from reward_models.lm.loading import load_causal_lm, pad_id
    from reward_models.lm.logprobs import encode_pool
    from reward_models.training.value_head import head_values, new_head
    pool, base = marked_pool(), str(tiny_lm_dir("nano", 0))
    rm = get_rm("orm_bt", lr=1e-3, epochs=1, batch_size=len(pool.problems), warmup_ratio=0.0, progress=False)
    metrics = json.loads((rm.fit(pool, base) / "metrics.json").read_text())
    assert metrics["train_units"] == 9 and metrics["dropped_instructions"] == 3 and metrics["steps"] == 1

    model, tok = load_causal_lm(base, dtype="float32", device="cpu")
    head = new_head(model, 0)
    with torch.no_grad():
        r = head_values(model, head, encode_pool(tok, pool), pad_id(tok)).double().numpy()
    per_problem, at = [], 0
    for p in pool.problems:
        v, ok = r[at:at + 4], [x.correct for x in p.responses]
        at += 4
        pairs = [(v[c], v[i]) for c in range(4) if ok[c] for i in range(4) if not ok[i]]
        if pairs:
            per_problem.append(sum(math.log1p(math.exp(-(a - b))) for a, b in pairs) / len(pairs))
    assert metrics["loss"][0] == pytest.approx(sum(per_problem) / len(per_problem), abs=1e-5)


def test_training_raises_within_problem_auc(tiny_lm_dir, cache_root):
    pool, base = marked_pool(), str(tiny_lm_dir("nano", 0))
    untrained = get_rm("orm_bt", epochs=0, progress=False)  # zero steps: the fresh head (seed 0) on the base
    untrained.fit(pool, base)
    before = within_auc(untrained.score(pool), pool)
    rm = get_rm("orm_bt", lr=3e-3, epochs=10, batch_size=3, warmup_ratio=0.0, progress=False)
    ckpt = rm.fit(pool, base)
    assert (ckpt / HEAD_FILE).is_file()
    ss = rm.score(pool)
    assert [[len(s) for s in prob] for prob in ss.step_scores] == [[1] * 4] * len(pool.problems)
    after = within_auc(ss, pool)
    assert after > 0.95 and after > before + 0.2
    # a fresh adapter reading the checkpoint computes the same numbers (the head is saved beside the backbone)
    steps, _ = get_rm("orm_bt", model=str(ckpt), progress=False).compute_scores(pool)
    np.testing.assert_allclose([s[0] for p in steps for s in p], [s[0] for p in ss.step_scores for s in p],
                               atol=1e-6, rtol=0)


def test_orm_bt_refuses_other_losses_and_step_heads(tiny_lm_dir, cache_root):
    with pytest.raises(InputError, match="loss"):
        get_rm("orm_bt", loss="ce")
    with pytest.raises(InputError, match="head_at"):
        get_rm("orm_bt", head_at="steps")
    with pytest.raises(InputError, match="loss"):  # the BCE ORM does not take the bt loss either
        get_rm("orm", loss="bt", progress=False).fit(marked_pool(), str(tiny_lm_dir("nano", 0)))
