"""ProcessBench: the loader on the real files, and `run --task processbench` end to end with the random baseline and a
tiny model (the step-level evaluator's own cases are tests/evaluation/test_step_eval.py)."""

from __future__ import annotations

import json

import pytest

from harness.cli import main
from harness.core.steps import split_steps


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
    # the typed report is its run file: the same object, and the .md's timings line is JSON
    from harness.flow.timings import Timings
    saved = json.loads(open(next(p for p in rep.written if p.endswith(".json"))).read())
    assert rep.flow == "steps" and list(saved) == list(rep.to_dict()) and saved == rep.to_dict()
    assert list(rep.timings.to_dict()) == ["prepare_s", "score_gsm8k_s", "total_s"]
    last = open(next(p for p in rep.written if p.endswith(".md"))).read().splitlines()[-1]
    assert last == rep.timings.line() and Timings.parse(last) == rep.timings
