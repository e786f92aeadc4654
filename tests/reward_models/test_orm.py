"""The outcome reward model: value head on the nano backbone, trained with BCE, one score per response."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness.core.errors import InputError
from harness.core.pool import Pool, Problem, Response
from reward_models import get_rm
from reward_models.training.value_head import HEAD_FILE


TRAIN_PAIRS = [(2, 3), (4, 4), (7, 1)]
HELD_OUT_PAIRS = [(5, 6), (3, 8), (9, 2)]  # problems the ORM is not trained on, for its validation AUC


def graded_pool(pairs=TRAIN_PAIRS) -> Pool:
    good = "Step 1: {a} + {b} = {c}\n\nThe answer is {c}"
    return Pool([
        Problem(f"q{a}", f"Compute {a} + {b}", str(a + b), [
            Response(good.format(a=a, b=b, c=a + b), str(a + b), True),
            Response(good.format(a=a, b=b, c=a + b + 1), str(a + b + 1), False),
            Response(f"The answer is {a * b}", str(a * b), a * b == a + b),
        ]) for a, b in pairs
    ])


def test_orm_trains_and_scores_one_step_per_response(tiny_lm_dir, cache_root):
    pool = graded_pool()
    rm = get_rm("orm", lr=3e-3, epochs=8, batch_size=pool.n_responses, warmup_ratio=0.0, progress=False)
    ckpt = rm.fit(pool, str(tiny_lm_dir("nano", 0)), val_pool=graded_pool(HELD_OUT_PAIRS))
    assert (ckpt / HEAD_FILE).is_file() and (ckpt / "model.safetensors").is_file()
    metrics = json.loads((ckpt / "metrics.json").read_text())
    assert metrics["loss"][-1] < metrics["loss"][0]
    # measured on problems it was not trained on; 0.5 is chance (an untrained head ranks at random)
    assert metrics["val_auc"] > 0.5, metrics["val_auc"]

    ss = rm.score(pool)
    assert [[len(s) for s in prob] for prob in ss.step_scores] == [[1] * 3] * 3
    flat = np.array([s[0] for prob in ss.step_scores for s in prob])
    labels = np.array([r.correct for p in pool.problems for r in p.responses])
    assert flat[labels].mean() > flat[~labels].mean()

    # a fresh adapter reading the checkpoint from disk computes the same numbers (head included)
    steps, _ = get_rm("orm", model=str(ckpt), score_batch_size=2, progress=False).compute_scores(pool)
    np.testing.assert_allclose([s[0] for prob in steps for s in prob], flat, atol=1e-6, rtol=0)


def test_orm_without_checkpoint_or_head_is_refused(tiny_lm_dir, cache_root):
    with pytest.raises(InputError, match="no checkpoint"):
        get_rm("orm").score(graded_pool())
    with pytest.raises(InputError, match="value head missing"):
        get_rm("orm", model=str(tiny_lm_dir("nano", 0)), progress=False).score(graded_pool())
    with pytest.raises(InputError, match="loss"):
        get_rm("orm", loss="dpo").fit(graded_pool(), str(tiny_lm_dir("nano", 0)))
