"""`harness tables`: paper tables, claim verdicts and figures from run files, rewritten identically."""

from __future__ import annotations

import dataclasses
import json
import random

import pytest
from _smoke_pool import generator_pools

from harness.cli import main
from harness.core.errors import InputError
from harness.core.pool import Pool
from harness.core.scores import ScoreSet
from harness.evaluation import process_rewards
from harness.flow import report as flow_report
from harness.flow.report import report_run
from harness.flow.run import RunConfig
from harness.paper import recipes

GENS = ["weak", "mid", "strong"]


def pools() -> list[Pool]:
    return generator_pools(12, gens=GENS)


def scores(pool: Pool, rm: str, how: str, seed: int = 0) -> ScoreSet:
    rng = random.Random(seed)
    steps = []
    for p in pool.problems:
        row = []
        for r in p.responses:
            if how == "perfect":
                v = 1.0 if r.correct else -1.0
            elif how == "inverse":
                v = -1.0 if r.correct else 1.0
            elif how == "weak":  # informative, not perfect: within-problem AUC 0.875 in expectation
                v = rng.random() + (0.5 if r.correct else 0.0)
            else:
                v = rng.random()
            row.append([v, v + 0.5])
        steps.append(row)
    return ScoreSet(rm, pool.content_hash(), steps, {})


def write_run(results, label: str, rm: str, how: str, compute: dict | None = None):
    exp = recipes.by_label().get(label)  # a recipe's run carries the options its experiment sets, as `run` writes
    cfg = RunConfig(rm=rm, n=[1, 4, 16, 64], bootstrap=20, mc_samples=8, results=str(results),
                    label=None if label == rm else label, rm_options=dict(exp.options) if exp else {})
    ps = pools()
    sets = [scores(p, rm, how) for p in ps]
    report = dataclasses.replace(report_run(cfg, ps, sets), compute=compute, process=process_rewards.evaluate(
        None, {g: (p, ss.step_scores) for g, p, ss in zip(GENS, ps, sets)}))
    flow_report.write_run(report)
    return report


def compute(total: float, instructions: int) -> dict:
    return {"instructions": instructions, "generated_tokens": 1000, "data_collection_flops": total / 2,
            "training_flops": total / 2, "reference_flops": 0.0, "total_flops": total}


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    r = tmp_path_factory.mktemp("tables") / "results"
    for loss in ("dpo", "kto", "nca", "ce"):
        write_run(r, f"implicit_{loss}", f"implicit_{loss}", "perfect", compute(1e12, 100))
    write_run(r, "orm", "orm", "weak", compute(1e12, 100))
    write_run(r, "math_shepherd", "math_shepherd", "random", compute(4e12, 10))
    write_run(r, "implicit_ce-r1", "implicit_ce", "random", compute(2e11, 100))
    return r


@pytest.fixture
def results(template, tmp_path):
    import shutil
    return shutil.copytree(template, tmp_path / "results")


def test_tables_writes_claims_tables_and_figures_identically(results, capsys):
    assert main(["tables", "--results", str(results), "--no-run"]) == 0
    md = (results / "leaderboard.md").read_text()
    first = {p.name: p.read_bytes() for p in [results / "leaderboard.md", *(results / "plots").glob("*.png")]}
    assert {"accuracy_vs_n-mid.png", "flops.png", "accuracy_vs_flops.png"} <= set(first)

    # A perfect scorer's best-of-N is pass@N, cell for cell: the Table 1 row equals the pass@N row.
    row = next(ln for ln in md.splitlines() if ln.startswith("| implicit_ce |"))
    pass_row = next(ln for ln in md.splitlines() if ln.startswith("| pass_at_n |"))
    assert row.split("|")[2:11] == pass_row.split("|")[2:11]

    verdicts = [ln for ln in md.splitlines() if ln.startswith("- ") and "**" in ln]
    by_claim = {ln.split(":")[0][2:]: ln for ln in verdicts}
    assert "**holds here**" in by_claim["Implicit PRMs trained with every loss beat the ORM trained on the same data "
                                        "(Table 1)"]
    # the random r1 run is no better than random choice; a missing run is "not measured", never a verdict
    assert "**tie here**" in next(v for k, v in by_claim.items() if k.startswith("CE works with one"))
    assert "**not measured**" in next(v for k, v in by_claim.items() if "Table 5" in k)
    # Math-Shepherd: 4e12 / 10 instructions vs 1e12 / 100 -> 40x per instruction
    assert "40.00x here vs 38.8x in the paper" in md
    assert "| implicit_ce-r1 |" not in md.split("## Table 1")[1].split("##")[0]  # ablations stay out of Table 1
    assert "not run" in md  # missing ablations are shown as such

    assert main(["tables", "--results", str(results), "--no-run"]) == 0
    again = {p.name: p.read_bytes() for p in [results / "leaderboard.md", *(results / "plots").glob("*.png")]}
    assert again == first  # byte-identical rewrite
    assert not list(results.rglob(".*tmp*"))


def test_tables_refuses_a_broken_run_file(results, capsys):
    (results / "runs" / "arith-default-orm.json").write_text('{"config": {}}')
    assert main(["tables", "--results", str(results), "--no-run"]) == 2
    err = capsys.readouterr().err
    assert "arith-default-orm.json" in err and "not a run file" in err


def test_run_label_names_files_and_is_checked(tmp_path, capsys, cache_root):
    report = write_run(tmp_path, "implicit_ce-r1", "implicit_ce", "perfect")
    assert "--label implicit_ce-r1" in report["command"]
    saved = json.loads((tmp_path / "runs" / "arith-default-implicit_ce-r1.json").read_text())
    assert saved["config"]["label"] == "implicit_ce-r1" and saved["config"]["rm"] == "implicit_ce"
    assert main(["run", "--rm", "random", "--label", "../evil", "--scale", "smoke"]) == 2
    assert "--label" in capsys.readouterr().err


def test_tables_refuses_runs_of_different_worlds_and_reruns_stale_ones(results, capsys, monkeypatch):
    from harness.paper import regenerate as tables
    for name, world in (("implicit_ce", "default-s0-aaaa"), ("orm", "default-s0-bbbb")):
        f = results / "runs" / f"arith-default-{name}.json"
        f.write_text(json.dumps({**json.loads(f.read_text()), "world": world}))
    assert main(["tables", "--results", str(results), "--no-run"]) == 2
    err = capsys.readouterr().err
    assert "2 different worlds" in err and "arith-default-orm.json" in err and "default-s0-aaaa" in err

    # run_missing: a file from another world than the current one is run again; one from the current one is kept
    ran = []
    monkeypatch.setattr(tables, "current_world", lambda task, scale: "default-s0-aaaa")
    monkeypatch.setattr(tables, "run", lambda cfg, log: ran.append(cfg.label or cfg.rm))  # the name regenerate calls
    monkeypatch.setattr(tables, "check_config", lambda cfg: None)
    tables.run_missing(results, "arith", "default", None, lambda m: None)
    assert "orm" in ran and "implicit_dpo" in ran  # other world; not recorded
    assert "implicit_ce" not in ran                # current world, same options

    # ... and one written before run files recorded per-problem accuracies
    ran.clear()
    f = results / "runs" / "arith-default-implicit_ce.json"
    f.write_text(json.dumps({k: v for k, v in json.loads(f.read_text()).items() if k != "per_problem"}))
    tables.run_missing(results, "arith", "default", None, lambda m: None)
    assert "implicit_ce" in ran

    # ... and one written before run files recorded step-level figures (the smoke pools have no step labels: the
    # others record that, and stay)
    ran.clear()
    f = results / "runs" / "arith-default-implicit_ce-r1.json"
    assert json.loads(f.read_text())["process"] == {"status": process_rewards.NO_LABELS}
    f.write_text(json.dumps({k: v for k, v in json.loads(f.read_text()).items() if k != "process"}))
    monkeypatch.setattr(tables, "current_world", lambda task, scale: None)
    tables.run_missing(results, "arith", "default", None, lambda m: None)
    assert "implicit_ce-r1" in ran and "implicit_kto" not in ran

    # ... and one whose options are no longer the experiment's (a new tuning chose another learning rate)
    ran.clear()
    (results / "tuning").mkdir(exist_ok=True)
    (results / "tuning" / "arith-default-implicit_ce.options.json").write_text('{"lr": "3e-4"}')
    tables.run_missing(results, "arith", "default", None, lambda m: None)
    assert "implicit_ce" in ran


def test_tables_leaves_out_runs_whose_options_a_new_tuning_superseded(results, capsys):
    # a new tuning chose 2 epochs for CE: the one-epoch runs of CE (main row and its ablation) no longer measure
    # their experiments and must not sit beside the others in any table or claim
    (results / "tuning").mkdir(exist_ok=True)
    (results / "tuning" / "arith-default-implicit_ce.options.json").write_text('{"lr": "3e-4", "epochs": "2"}')
    assert main(["tables", "--results", str(results), "--no-run"]) == 0
    err = capsys.readouterr().err
    assert "left out 2 superseded run file(s)" in err and "implicit_ce, implicit_ce-r1" in err
    md = (results / "leaderboard.md").read_text()
    left = md.split("## Runs left out until they are re-run")[1].split("##")[0]
    assert "- implicit_ce: ran with {}, the experiment now sets {'lr': '3e-4', 'epochs': '2'}" in left
    assert "- implicit_ce-r1: ran with {'responses_per_instruction': '1'}" in left
    table1 = md.split("## Table 1")[1].split("##")[0]
    assert "| implicit_ce |" not in table1 and "| implicit_dpo |" in table1
    # a claim that needs CE reads as missing, not as a verdict on the old run
    claim = next(ln for ln in md.splitlines() if ln.startswith("- CE works with one"))
    assert "**not measured**" in claim

    # the runs measured with the current options are kept, and nothing is left out when the tuning is put back
    (results / "tuning" / "arith-default-implicit_ce.options.json").write_text("{}")
    assert main(["tables", "--results", str(results), "--no-run"]) == 0
    assert "left out" not in capsys.readouterr().err
    assert "Runs left out" not in (results / "leaderboard.md").read_text()


def test_tables_refuses_run_files_of_two_content_keys(smoke_world, tmp_path):
    from harness.paper.regenerate import load_runs
    _, _, summary = smoke_world
    runs = tmp_path / "results" / "runs"
    runs.mkdir(parents=True)
    for rm, world in (("implicit_ce", summary["content_key"]), ("orm", "v7-000000000000")):
        (runs / f"arith-smoke-{rm}.json").write_text(json.dumps({"config": {"rm": rm, "rm_options": {}}, "rows": [],
                                                                 "world": world}))
    with pytest.raises(InputError, match="2 different worlds") as e:
        load_runs(tmp_path / "results", "arith", "smoke")
    assert summary["content_key"] in str(e.value) and "v7-000000000000" in str(e.value)
