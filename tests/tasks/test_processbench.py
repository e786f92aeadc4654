"""ProcessBench: the step-level evaluator on hand-made cases with known answers, the loader on the real files, and
`run --task processbench` end to end with the random baseline and a tiny model."""

from __future__ import annotations

import json

import pytest

from harness.cli import main
from harness.core.steps import split_steps
from harness.evaluation import step_eval

# Three erroneous samples (earliest wrong step 1, 0, 2) and two correct ones.
LABELS = [1, 0, 2, -1, -1]
SCORES = [
    [0.9, 0.2, 0.8],   # first below 0.5: step 1 -> hit
    [0.3, 0.9],        # step 0 -> hit
    [0.9, 0.1, 0.1],   # step 1, label 2 -> miss (flags too early)
    [0.9, 0.8],        # -1 -> hit
    [0.6, 0.4],        # step 1 -> miss
]


def test_first_below_and_known_accuracies():
    assert step_eval.first_below([0.9, 0.2, 0.1], 0.5) == 1
    assert step_eval.first_below([0.9, 0.6], 0.5) == -1
    assert step_eval.first_below([0.5], 0.5) == -1  # strictly below
    r = step_eval.evaluate(LABELS, SCORES, 0.5)
    assert (r["n_error"], r["n_correct"]) == (3, 2)
    assert r["acc_error"] == pytest.approx(2 / 3)
    assert r["acc_correct"] == pytest.approx(1 / 2)
    assert r["f1"] == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))  # 4/7
    # A threshold below every score flags nothing: all correct samples right, all erroneous wrong -> F1 0.
    none = step_eval.evaluate(LABELS, SCORES, 0.0)
    assert (none["acc_error"], none["acc_correct"], none["f1"]) == (0.0, 1.0, 0.0)


def test_tuning_maximises_f1_and_the_threshold_transfers():
    tuned = step_eval.tune(LABELS, SCORES)
    # Between 0.4 and 0.6 sample 5 is missed; at 0.35 < t <= 0.4 every sample is right except sample 3
    # (scores 0.1 flag step 1): acc_error 2/3, acc_correct 1 -> F1 0.8, the best any threshold can do here.
    assert tuned["f1"] == pytest.approx(0.8)
    assert 0.3 < tuned["threshold"] <= 0.4
    other_labels, other_scores = [0, -1], [[0.1], [0.2]]
    out = step_eval.evaluate_splits({"a": (LABELS, SCORES), "b": (other_labels, other_scores)}, tune_on="a",
                                    resamples=200)
    assert out["tuned_on"] == "a" and out["threshold"] == tuned["threshold"]
    assert out["splits"]["a"]["in_sample"] and not out["splits"]["b"]["in_sample"]
    b = out["splits"]["b"]
    assert b["threshold"] == tuned["threshold"]  # applied unchanged, not re-tuned
    assert (b["acc_error"], b["acc_correct"]) == (1.0, 0.0)  # 0.1 and 0.2 are both below the threshold
    assert b["oracle_f1"] == pytest.approx(0.0) or b["oracle_f1"] >= b["f1"]
    lo, hi = out["splits"]["a"]["f1_ci"]
    assert 0.0 <= lo <= 0.8 <= hi <= 1.0


def test_loader_round_trips_steps_on_the_real_files(processbench_dir, cache_root):
    from tasks import processbench as pb
    samples = pb.load_split("gsm8k")
    assert len(samples) == 400 and sum(s.label == -1 for s in samples) == 193
    kept, dropped = pb.select(samples, None, 0)
    assert dropped == 2 and len(kept) == 398  # two solutions mix "Step k:" headers with plain paragraphs
    pool = pb.to_pool(kept, "gsm8k")
    for s, p in zip(kept, pool.problems):
        assert split_steps(p.responses[0].text) == [x.strip() for x in s.steps]
        assert p.responses[0].correct == (s.label == -1)
    sub, _ = pb.select(samples, 50, 0)
    assert len(sub) == 50 and [s.id for s in sub] == [s.id for s in pb.select(samples, 50, 0)[0]]


def test_bad_processbench_input_is_one_clear_error(tmp_path, cache_root, capsys):
    (tmp_path / "gsm8k.json").write_text(json.dumps([{"id": "x", "problem": "p", "steps": ["a"], "label": 3}]))
    from harness.core.errors import InputError
    from tasks import processbench as pb
    with pytest.raises(InputError, match="bad label"):
        pb.load_split("gsm8k", str(tmp_path))
    assert main(["--cache-dir", str(cache_root), "run", "--rm", "random", "--task", "processbench",
                 "--splits", "gsm8k,nope"]) == 2
    assert "nope" in capsys.readouterr().err


def test_random_baseline_runs_end_to_end(processbench_dir, cache_root, capsys, tmp_path):
    argv = ["--cache-dir", str(cache_root), "run", "--rm", "random", "--task", "processbench",
            "--splits", "gsm8k,math", "--max-per-split", "40", "--results", str(tmp_path / "res")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "gsm8k (tuning split)" in out and "math" in out and "tuned on gsm8k" in out
    rec = json.loads((tmp_path / "res" / "runs" / "processbench-random-maxpersplit40-splitsgsm8k+math.json")
                     .read_text())
    assert rec["tuned_on"] == "gsm8k" and set(rec["splits"]) == {"gsm8k", "math"}
    assert rec["splits"]["math"]["threshold"] == rec["threshold"]
    # every sample's predicted first wrong step beside its label; the accuracies are read back from them
    preds = rec["predictions"]["math"]
    assert len(preds) == rec["splits"]["math"]["n_error"] + rec["splits"]["math"]["n_correct"]
    err = [r for r in preds if r["label"] >= 0]
    assert sum(r["predicted"] == r["label"] for r in err) / len(err) == pytest.approx(
        rec["splits"]["math"]["acc_error"])
    site = tmp_path / "site"
    assert main(["--cache-dir", str(cache_root), "report", "--runs", str(tmp_path / "res" / "runs"), "--no-pools",
                 "--out", str(site)]) == 0
    page = (site / "processbench-random.html").read_text()
    assert page.count("<tr data-agree=") == len(rec["predictions"]["gsm8k"]) + len(preds)
    assert main(argv) == 0  # seeded: the same numbers again
    assert json.loads((tmp_path / "res" / "runs" / "processbench-random-maxpersplit40-splitsgsm8k+math.json")
                      .read_text())["splits"] == rec["splits"]


def test_loglik_scores_every_given_step_with_a_tiny_model(processbench_dir, cache_root, tiny_lm_dir):
    from harness.flow.run import RunConfig, run
    cfg = RunConfig(rm="loglik", task="processbench", rm_options={"model": str(tiny_lm_dir()), "progress": False},
                    task_options={"splits": ["gsm8k"], "max_per_split": 6}, bootstrap=100)
    rep = run(cfg, log=lambda m: None)
    g = rep["splits"]["gsm8k"]
    assert g["n_error"] + g["n_correct"] == 6 and g["in_sample"]
    assert rep["scorer"]["model"] == str(tiny_lm_dir())
