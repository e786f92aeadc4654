"""`run` on the smoke world prints and records the step-level report after the selection tables: the figures of a
reward model with step rewards (threshold from the validation rollouts), or "no process reward" for one score a
response."""

from __future__ import annotations

import json

import pytest

from harness.cli import main
from harness.flow import run as flow_run
from harness.flow.config import RunConfig, SearchOptions
from harness.flow.reports import RunReport
from harness.flow.timings import LINE, Timings

CONFIGS = {"pools": RunConfig(rm="random", scale="smoke"),  # the arith world's pools
           "folds": RunConfig(rm="loglik", task="gsm8k-gpt3"),
           "steps": RunConfig(rm="random", task="processbench"),
           "search": RunConfig(rm="implicit_ce", search=SearchOptions())}


def test_the_flow_table_lists_the_four_flows_and_each_config_names_its_own():
    assert list(flow_run.FLOWS) == ["pools", "folds", "steps", "search"]
    assert {name: f.name for name, f in flow_run.FLOWS.items()} == {n: n for n in flow_run.FLOWS}
    assert {name: flow_run.flow_of(cfg) for name, cfg in CONFIGS.items()} == {n: n for n in CONFIGS}
    # given pools, a task with its own flow runs the pools flow on them
    assert flow_run.flow_of(RunConfig(rm="random", task="processbench", pools=["x.jsonl"])) == "pools"


def test_run_dispatches_through_the_table_to_each_flow(monkeypatch):
    reached = []
    for name, entry in list(flow_run.FLOWS.items()):
        def fake(cfg, log, name=name):
            reached.append((name, cfg))
            return name
        monkeypatch.setitem(flow_run.FLOWS, name, flow_run.Flow(name, fake, entry.help))
    for name, cfg in CONFIGS.items():
        assert flow_run.run(cfg, log=lambda m: None) == name
    assert reached == list(CONFIGS.items())


def test_the_pools_flow_s_report_is_its_run_file(smoke_cache, tmp_path):
    rep = flow_run.run(RunConfig(rm="random", scale="smoke", threads=1, n=[1, 2], bootstrap=20,
                                 results=str(tmp_path / "res")), log=lambda m: None)
    assert isinstance(rep, RunReport) and rep.flow == "pools"
    files = [p for p in rep.written if p.startswith(str(tmp_path))]
    saved = json.loads(open(next(p for p in files if p.endswith(".json"))).read())
    assert list(saved) == list(rep.to_dict()) and saved == json.loads(json.dumps(rep.to_dict()))
    last = open(next(p for p in files if p.endswith(".md"))).read().splitlines()[-1]
    assert last == rep.timings.line() and Timings.parse(last) == rep.timings  # JSON, as every flow writes it
    assert list(json.loads(last[len(LINE):])) == ["world_s", "train_s", "score_s", "score_val_s", "select_s",
                                                  "process_s", "total_s"]


def test_run_prints_and_records_the_step_level_report(smoke_cache, capsys):
    from harness.core.pool import load_pool
    from harness.core.scores import list_scores
    from harness.evaluation import process_rewards as pr
    from tasks.arith.world import open_world
    from tasks.arith.world_config import world_config
    assert main(["run", "--rm", "loglik", "--scale", "smoke", "--threads", "1", "--n", "1,2,4"]) == 0
    out = capsys.readouterr()
    text = out.out
    assert text.index("within-problem AUC") < text.index("Process rewards: the first wrong step")
    assert "rm_val-mid (tuning)" in text and "the step-level threshold" in out.err
    run = json.loads((smoke_cache / "runs" / "arith-smoke-loglik.json").read_text())
    proc = run["process"]
    assert proc["status"] == "measured" and proc["tuned_on"] == "rm_val-mid" and list(proc["views"]) == [pr.STEP]
    assert "process_s" in run["timings"] and "score_val_s" in run["timings"]
    assert "Process rewards" in (smoke_cache / "runs" / "arith-smoke-loglik.md").read_text()
    # the recorded figures are those of the cached score sets, the threshold the validation pool's best
    world = open_world(world_config("smoke", 0), log=lambda m: None)
    val = load_pool(world.pool("rm_val", "mid"))
    val_ss = [s for s in list_scores(val.content_hash()) if s.rm == "loglik"]
    assert len(val_ss) == 1
    v = proc["views"][pr.STEP]
    tf = pr.flatten(val, val_ss[0].step_scores)
    keep = tf.labels != pr.UNLOCATABLE
    from harness.evaluation.step_eval import tune
    assert v["threshold"] == tune(tf.labels[keep], tf.scores[keep])["threshold"]
    mid = load_pool(world.pool("test", "mid"))
    ss = next(s for s in list_scores(mid.content_hash()) if s.rm == "loglik")
    again = pr.measure(pr.flatten(mid, ss.step_scores), v["threshold"], resamples=10)
    for k in ("f1", "acc_error", "acc_correct", "localisation", "step_auc", "n_error", "n_correct"):
        assert v["pools"]["mid"][k] == pytest.approx(again[k]), k


def test_an_outcome_reward_model_has_no_process_reward_and_scores_no_validation_pool(smoke_cache, capsys):
    assert main(["run", "--rm", "random", "--scale", "smoke", "--threads", "1", "--n", "1,2"]) == 0
    out = capsys.readouterr()
    assert "no process reward" in out.out and "step-level threshold" not in out.err
    run = json.loads((smoke_cache / "runs" / "arith-smoke-random.json").read_text())
    assert run["process"] == {"status": "no process reward (one score per response: an outcome reward model)"}
