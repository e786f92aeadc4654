"""`tune` chooses training options by what selection uses: within-problem AUC of the min-aggregated step rewards."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness.cli import main
from harness.core import cache
from harness.flow import tune
from tasks import TASKS


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
            "--train-pool", str(train), "--val-pool", str(val), "--base", base, "--grid", "lr=1e-4,3e-3", "--fraction", "1",
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


def test_every_trained_main_row_takes_the_shared_budget_grid():
    """The budget is one grid over options every trained reward model of the paper's rows has."""
    import dataclasses

    from harness.flow.tune import BUDGET_GRID
    from harness.paper.recipes import main_experiments
    from reward_models import REWARD_MODELS
    trained = [e.rm for e in main_experiments() if REWARD_MODELS.get(e.rm).trainable]
    assert {"orm", "orm_bt", "math_shepherd", "autopsv", "implicit_ce"} <= set(trained)
    for name in trained:
        names = {f.name for f in dataclasses.fields(REWARD_MODELS.get(name).Config)}
        assert set(BUDGET_GRID) <= names, name


def test_tune_without_a_grid_spends_the_shared_budget_and_says_so(tmp_path, monkeypatch, tiny_lm_dir):
    from _smoke_pool import smoke_pool_file

    from harness.flow import tune as tune_flow
    monkeypatch.setattr(cache, "_ROOT", None)
    results = tmp_path / "results"
    train = smoke_pool_file(tmp_path / "train.jsonl", problems=8, seed=1)
    val = smoke_pool_file(tmp_path / "val.jsonl", problems=6, seed=2)
    common = ["--cache-dir", str(tmp_path / "cache"), "tune", "--rm", "orm_bt", "--task", "gsm8k", "--pool", str(val),
              "--train-pool", str(train), "--val-pool", str(val), "--base", str(tiny_lm_dir("nano", 0)),
              "--set", "progress=false", "--results", str(results)]
    assert main(common) == 0
    doc = json.loads((results / "tuning" / "gsm8k-default-orm_bt.json").read_text())
    grid = tune_flow.BUDGET_GRID
    assert [(r["lr"], r["epochs"]) for r in doc["rows"]] == [(a, b) for a in grid["lr"] for b in grid["epochs"]]
    assert doc["budget"] is True and "--fraction 0.25" in doc["command"]
    assert "The shared tuning budget (6 grid points" in (results / "tuning" / "gsm8k-default-orm_bt.md").read_text()
    # the chosen options, which run and tables start from, hold what the sweep chose, not its display options
    chosen = json.loads((results / "tuning" / "gsm8k-default-orm_bt.options.json").read_text())
    assert set(chosen) == {"lr", "epochs"} and chosen == doc["chosen"]
    # a narrower sweep is recorded as off-budget
    assert main(common + ["--grid", "lr=1e-3"]) == 0
    doc = json.loads((results / "tuning" / "gsm8k-default-orm_bt.json").read_text())
    assert doc["budget"] is False and len(doc["rows"]) == 1


def test_tuned_options_come_from_the_project_not_the_working_directory(tmp_path, monkeypatch):
    committed = tune.PROJECT_RESULTS / "tuning" / "arith-default-implicit_ce.options.json"
    monkeypatch.chdir(tmp_path)  # no results/ here: the lookup must not depend on where `run` starts
    opts, path = tune.tuned_options("arith", "default", "implicit_ce")
    assert path == committed and opts == json.loads(committed.read_text())
    # a --results folder without a tuning of its own falls back to the project's
    assert tune.tuned_options("arith", "default", "implicit_ce", str(tmp_path / "elsewhere"))[1] == committed


def test_a_results_folder_with_its_own_tuning_wins(tmp_path):
    ours = tmp_path / "results" / "tuning"
    ours.mkdir(parents=True)
    world = TASKS.get("arith").world_key("default")
    (ours / "arith-default-implicit_ce.json").write_text(json.dumps({"world": world}))
    (ours / "arith-default-implicit_ce.options.json").write_text('{"lr": "5e-4"}')
    opts, path = tune.tuned_options("arith", "default", "implicit_ce", str(tmp_path / "results"))
    assert path == ours / "arith-default-implicit_ce.options.json" and opts == {"lr": "5e-4"}
    # ... unless it was tuned on another world
    (ours / "arith-default-implicit_ce.json").write_text(json.dumps({"world": "another-world"}))
    assert tune.tuned_options("arith", "default", "implicit_ce", str(tmp_path / "results")) is None
