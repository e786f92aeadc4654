"""`tune` chooses training options by what selection uses: within-problem AUC of the min-aggregated step rewards."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness.cli import main
from harness.core import cache


def _within_auc_by_hand(scores, pool) -> float:
    """Mean over problems with both classes of P(correct scores above wrong), ties half: every pair counted."""
    per = []
    for s, p in zip(scores, pool.problems):
        pos = [x for x, r in zip(s, p.responses) if r.correct]
        neg = [x for x, r in zip(s, p.responses) if not r.correct]
        if pos and neg:
            per.append(np.mean([1.0 if a > b else 0.5 if a == b else 0.0 for a in pos for b in neg]))
    return float(np.mean(per))


def test_tune_judges_by_validation_within_problem_auc_of_min_step_rewards(tmp_path, monkeypatch, tiny_lm_dir):
    from _smoke_pool import smoke_pool_file

    from harness.core.pool import load_pool
    from reward_models import get_rm
    monkeypatch.setattr(cache, "_ROOT", None)
    cdir, results = tmp_path / "cache", tmp_path / "results"
    base = str(tiny_lm_dir("nano", 0))
    train = smoke_pool_file(tmp_path / "train.jsonl", problems=16, seed=1)
    val = smoke_pool_file(tmp_path / "val.jsonl", problems=12, seed=2)
    opts = ["--set", "progress=false", "--set", "batch_size=8"]
    args = ["--cache-dir", str(cdir), "tune", "--rm", "implicit_ce", "--task", "gsm8k", "--pool", str(val),
            "--train-pool", str(train), "--val-pool", str(val), "--base", base, "--grid", "lr=1e-4,3e-3",
            *opts, "--results", str(results)]
    assert main(args) == 0
    doc = json.loads((results / "tuning" / "gsm8k-default-implicit_ce.json").read_text())
    rows = doc["rows"]
    assert [r["lr"] for r in rows] == ["1e-4", "3e-3"]
    best = max(rows, key=lambda r: r["val_within_auc"])
    assert doc["chosen"] == {"lr": best["lr"]}
    assert "within-problem ROC AUC of the `min`-aggregated" in (results / "tuning" / "gsm8k-default-implicit_ce.md"
                                                                ).read_text()
    # the figure is the within-problem AUC of the min step reward on the validation rollouts, computed by hand
    val_pool, train_pool = load_pool(val), load_pool(train)
    with cache.using(cdir):
        for r in rows:
            rm = get_rm("implicit_ce", lr=r["lr"], progress="false", batch_size="8")
            rm.fit(train_pool, base, val_pool)  # cached: the tuned checkpoint
            scores = rm.score(val_pool).aggregate("min")
            assert r["val_within_auc"] == pytest.approx(_within_auc_by_hand(scores, val_pool), abs=1e-12)
