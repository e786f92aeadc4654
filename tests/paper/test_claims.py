"""The step-level claim (implicit PRM vs Math-Shepherd at finding the first wrong step) and the process-rewards table,
from run records: holds / does not hold / tie from the paired interval over problems."""

from __future__ import annotations

import random

import numpy as np
import pytest

from harness.core.pool import Pool, Problem, Response
from harness.evaluation import process_rewards as pr
from harness.paper.claims import claim_locates_first_error, localisation_pairs, step_claim_lines
from harness.paper.tables import process_table

GENS = ["weak", "mid", "strong"]


def labelled_pool(gen: str, problems: int = 40, seed: int = 0) -> Pool:
    rng = random.Random(seed)
    out = []
    for i in range(problems):
        resps = []
        for _ in range(8):
            k = rng.randint(2, 4)
            correct = rng.random() < 0.3
            text = "".join(f"Step {s}: x\n\n" for s in range(1, k + 1)) + "The answer is 1"
            resps.append(Response(text, "1", correct, {"error_step": None if correct else rng.randint(1, k)}))
        out.append(Problem(f"t/{i}", "q", "1", resps, {"generator": gen}))
    return Pool(out)


def step_scores(pool: Pool, skill: float, seed: int) -> list:
    """The first wrong step scores lowest with probability `skill`, else every step is noise."""
    rng = random.Random(seed)
    out = []
    for p in pool.problems:
        row = []
        for r in p.responses:
            k = r.text.count("Step ")
            s = [rng.random() for _ in range(k)]
            if not r.correct and rng.random() < skill:
                s[r.extra["error_step"] - 1] = -1.0
            row.append(s)
        out.append(row)
    return out


def run_record(skill: float, seed: int, implicit: bool = False) -> dict:
    tests = {}
    for k, g in enumerate(GENS):
        pool = labelled_pool(g, seed=k)
        tests[g] = (pool, step_scores(pool, skill, seed * 10 + k))
    val = labelled_pool("mid", seed=99)
    proc = pr.evaluate(("rm_val-mid", val, step_scores(val, skill, seed)), tests, implicit=implicit, resamples=50)
    return {"process": proc}


@pytest.fixture(scope="module")
def runs():
    return {"implicit_ce": run_record(0.8, 1, implicit=True), "math_shepherd": run_record(0.2, 2),
            "implicit_dpo": run_record(0.2, 3, implicit=True), "orm": {"process": {"status": pr.NO_PROCESS}},
            "old": {}}


def test_pairs_are_per_problem_localisation_averaged_over_generators(runs):
    a, b = localisation_pairs(runs["implicit_ce"], runs["math_shepherd"])
    assert len(a) == len(b) == 40  # the three pools share their problems: 40 units, not 120
    want = np.zeros(40)
    for g in GENS:
        loc, n = pr.located_per_problem(runs["implicit_ce"]["process"]["views"]["step reward"]["pools"][g])
        want += loc / n  # every hand-made problem has wrong responses in every pool
    assert a == pytest.approx(want / 3)
    assert localisation_pairs(runs["orm"], runs["math_shepherd"]) is None
    ms = runs["math_shepherd"]["process"]
    other = {"process": {**ms, "views": {"step reward": {"pools": {
        g: {**r, "problems_hash": "x"} for g, r in ms["views"]["step reward"]["pools"].items()}}}}}
    assert localisation_pairs(runs["implicit_ce"], other) is None  # other problems: nothing to pair


def test_verdicts_from_the_paired_interval(runs):
    verdict, text = claim_locates_first_error("ce")(runs)
    assert verdict == "holds" and "difference +" in text
    assert claim_locates_first_error("dpo")(runs)[0] == "tie"  # the same skill (0.2) as Math-Shepherd's
    swapped = {"implicit_ce": runs["math_shepherd"], "math_shepherd": runs["implicit_ce"]}
    assert claim_locates_first_error("ce")(swapped)[0] == "does not hold"
    assert claim_locates_first_error("ce")({"implicit_ce": runs["implicit_ce"]})[0] is None
    assert "**not measured**" in step_claim_lines({})[0] and "**holds**" in step_claim_lines(runs)[0]


def test_process_table_rows(runs):
    md = process_table(runs, ["implicit_ce", "math_shepherd", "orm", "old"])
    lines = md.splitlines()
    assert len(lines) == 2 + 2 + 1 + 1 + 1  # implicit: step reward and q_t rows
    ce = next(ln for ln in lines if ln.startswith("| implicit_ce | step reward |"))
    mid = runs["implicit_ce"]["process"]["views"]["step reward"]["pools"]["mid"]
    assert f"{100 * mid['localisation']:.1f}" in ce and f"{mid['step_auc']:.3f}" in ce
    assert f"{100 * mid['f1']:.1f} ({100 * mid['acc_error']:.1f} / {100 * mid['acc_correct']:.1f})" in ce
    assert "| implicit_ce | q_t |" in md and "| orm | no process reward" in md and "| old | not recorded" in md
