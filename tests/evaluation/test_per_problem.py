"""The per-problem accuracies a run file records (harness.evaluation.per_problem): each vector's mean is its row."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from _smoke_pool import generator_pools

from harness.core.scores import ScoreSet
from harness.evaluation.per_problem import problems_key
from harness.flow.report import render_report, report_run, write_run
from harness.flow.run import RunConfig

GENS = ("weak", "mid", "strong")


def pools():
    return generator_pools(10, gens=GENS)


def score_set(pool, seed=0):
    rng = random.Random(seed)
    return ScoreSet("implicit_ce", pool.content_hash(),
                    [[[rng.random() + (0.3 if r.correct else 0.0)] for r in p.responses] for p in pool.problems], {})


@pytest.fixture(scope="module")
def report():
    ps = pools()
    cfg = RunConfig(rm="implicit_ce", n=[1, 2, 4, 16, 64], bootstrap=20, mc_samples=16)
    return report_run(cfg, ps, [score_set(p, k) for k, p in enumerate(ps)]), ps


def test_each_vector_averages_to_its_row(report):
    rep, ps = report
    block = rep["per_problem"]
    assert block["ns"] == [4, 16, 64] and block["aggregation"] == "min"
    rows = {(r["generator"], r["rm"], r["method"], r["n"]): r["accuracy"] for r in rep["rows"]}
    for g, pool in zip(GENS, ps):
        entry = block["generators"][g]
        assert entry["count"] == len(pool) and entry["problems"] == problems_key([p.id for p in pool.problems])
        for n in (4, 16, 64):
            assert np.mean(entry[f"best_of_n@{n}"]) == pytest.approx(rows[(g, "implicit_ce", "best_of_n", n)],
                                                                     abs=1e-4)
        assert np.mean(entry["pass_at_n@1"]) == pytest.approx(rows[(g, "-", "pass_at_n", 1)], abs=1e-4)
        for method, rm in (("weighted_vote", "implicit_ce"), ("majority_vote", "-")):
            want = np.mean([rows[(g, rm, method, n)] for n in (4, 16, 64)])
            assert np.mean(entry[f"{method}@avg"]) == pytest.approx(want, abs=1e-4)
        # a perfect pick is 1 for a problem with a correct response: per-problem values lie in [0, 1]
        assert all(0 <= x <= 1 for x in entry["best_of_n@64"])


def test_the_run_file_keeps_its_fields_and_adds_one_compact_field(report, cache_root):
    rep, _ = report
    text = render_report(rep, "json")
    saved = json.loads(text)
    assert list(saved) == ["command", "rows", "auc", "config", "timings", "compute", "per_problem"]
    assert saved["per_problem"] == json.loads(json.dumps(rep["per_problem"]))  # round trip
    assert saved["rows"] == rep["rows"] and saved["auc"] == json.loads(json.dumps(rep["auc"]))
    vec_lines = [ln for ln in text.splitlines() if '"best_of_n@64": [' in ln]
    assert len(vec_lines) == 3 and all(ln.rstrip().endswith(("],", "]")) for ln in vec_lines)  # one line a vector
    written = write_run(rep)  # to the cache's runs/
    assert json.loads(next(p for p in written if p.suffix == ".json").read_text()) == saved


def test_a_run_without_the_table_n_records_what_it_has():
    ps = pools()
    cfg = RunConfig(rm="implicit_ce", n=[1, 4], bootstrap=5, mc_samples=4)
    entry = report_run(cfg, ps, [score_set(p) for p in ps])["per_problem"]["generators"]["mid"]
    assert "best_of_n@4" in entry and "best_of_n@64" not in entry and "weighted_vote@avg" not in entry
