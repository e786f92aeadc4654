"""Training seeds read together (harness.paper.seeds): Table 1 cells over seeds, seed-averaged pairing, recipes."""

from __future__ import annotations

import numpy as np
import pytest
from _hand_runs import hand_run

from harness.paper import seeds
from harness.paper.paired import RESAMPLES, compare
from harness.paper.regenerate import render
from harness.paper.tables import table1
from harness.selection.bootstrap import paired_difference

P = 60
BASE = np.random.default_rng(1).uniform(0.1, 0.7, P)


def seeded(label: str, rm: str, vecs: list) -> dict:
    return {seeds.seed_label(label, s): hand_run(rm, v, label=None if s == 0 else seeds.seed_label(label, s), seed=s)
            for s, v in enumerate(vecs)}


def test_labels_and_groups():
    assert seeds.seed_label("orm", 0) == "orm" and seeds.seed_label("orm", 2) == "orm-seed2"
    assert seeds.base_label("implicit_ce-seed12") == "implicit_ce" and seeds.base_label("implicit_ce-r1") is None
    runs = {**seeded("orm", "orm", [BASE] * 3), "orm-r1": hand_run("orm", BASE, label="orm-r1"),
            "orm_bt-seed1": hand_run("orm_bt", BASE, label="orm_bt-seed1", seed=1),
            "x-seed1": hand_run("y", BASE, label="x-seed1", seed=1), "x": hand_run("x", BASE)}
    assert [seeds.seed_of(r) for r in seeds.seed_runs(runs, "orm")] == [0, 1, 2]
    assert seeds.seed_runs(runs, "x") == [runs["x"]]  # another reward model under a seed-like label is not a seed
    assert seeds.is_seed_variant(runs, "orm-seed2") and not seeds.is_seed_variant(runs, "x-seed1")
    assert not seeds.is_seed_variant(runs, "orm_bt-seed1")  # its seed-0 run is missing: it stands alone
    assert seeds.fmt_seeds([40.0, 43.0, 46.0]) == "43.0 (40.0-46.0)" and seeds.fmt_seeds([41.25]) == "41.2"
    assert seeds.fmt_seeds(None) == "-" and seeds.values([runs["x"], runs["orm"]], lambda r: None) is None


def test_table1_cells_show_the_seeds_mean_and_range_and_one_seed_its_number():
    vecs = [BASE, BASE + 0.03, BASE + 0.09]                    # Avg 100 * (m, m + 3, m + 9)
    runs = {**seeded("implicit_ce", "implicit_ce", vecs), "orm": hand_run("orm", BASE)}
    m = 100 * BASE.mean()
    rows = {ln.split("|")[1].strip(): [c.strip() for c in ln.split("|")[2:-1]] for ln in
            table1(runs, ["implicit_ce", "orm"]).splitlines()[2:]}
    ce, orm = rows["implicit_ce"], rows["orm"]
    assert ce[9] == f"{m + 4:.1f} ({m:.1f}-{m + 9:.1f})"      # Avg: mean (min-max) over seeds
    assert ce[0] == f"{m + 4:.1f} ({m:.1f}-{m + 9:.1f})"      # every cell too (here all cells are alike)
    assert ce[-1] == "0, 1, 2" and orm[-1] == "0"
    assert orm[9] == f"{m:.1f}" and "(" not in "".join(orm)   # one seed: just the number


def test_pairing_uses_the_seed_averaged_accuracy_of_each_problem():
    rng = np.random.default_rng(5)
    vecs = [np.clip(BASE + rng.normal(0.05, 0.1, P), 0, 1) for _ in range(3)]
    runs = {**seeded("implicit_ce", "implicit_ce", vecs), "orm": hand_run("orm", BASE)}
    v = compare(runs, "implicit_ce", "orm")
    avg = np.mean(vecs, axis=0)
    d, lo, hi = paired_difference(100 * avg, 100 * BASE, resamples=RESAMPLES, seed=0)
    assert (v.diff, v.low, v.high) == pytest.approx((d, lo, hi))
    assert "seeds 3 and 1" in v.text
    # a seed measured on other problems cannot be averaged problem by problem
    runs["implicit_ce-seed2"] = hand_run("implicit_ce", vecs[2], label="implicit_ce-seed2", seed=2,
                                         ids=[f"q{i}" for i in range(P)])
    assert compare(runs, "implicit_ce", "orm").reason == "the seeds of implicit_ce measured different problems"


def test_recipes_add_the_other_seeds_of_every_trained_main_row():
    from harness.paper.recipes import experiments, main_experiments, seed_rows
    from reward_models import REWARD_MODELS
    trained = [e.label for e in main_experiments() if REWARD_MODELS.get(e.rm).trainable]
    seeded_runs = {e.label: e for e in experiments() if e.group == "seeds"}
    assert set(seeded_runs) == {f"{label}-seed{s}" for label in trained for s in (1, 2)}
    assert seeded_runs["orm-seed2"].rm == "orm" and seeded_runs["orm-seed2"].options == {"seed": "2"}
    assert ("implicit_ce, seed 0", "implicit_ce") in seed_rows()
    # the CE seed runs keep their labels, so the committed results/runs files still answer them
    assert {"implicit_ce-seed1", "implicit_ce-seed2"} <= set(seeded_runs)


def test_the_leaderboard_puts_seeds_in_their_row_not_rows_of_their_own():
    runs = {**seeded("mine", "implicit_ce", [BASE, BASE + 0.02]), "orm": hand_run("orm", BASE)}
    for label, run in runs.items():
        run["file"] = f"arith-default-{label}.json"
    md = render(runs, "arith", "default")
    table = md.split("## Table 1")[1].split("##")[0]
    assert "| mine |" in table and "| mine-seed1 |" not in table
    assert "| 0, 1 |" in table
