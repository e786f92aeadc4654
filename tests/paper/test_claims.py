"""The paper's claims read from paired intervals (harness.paper.claims), on hand-made runs and the committed ones;
the step-level claim (implicit PRM vs Math-Shepherd at finding the first wrong step) and the process-rewards table."""

from __future__ import annotations

import json
import random
import shutil

import numpy as np
import pytest
from _hand_runs import hand_run
from _paths import REPO

from harness.core.pool import Pool, Problem, Response
from harness.evaluation import process_rewards as pr
from harness.paper.claims import (CLAIMS, STEP_CLAIMS, VERDICT_WORDS, claim_locates_first_error, localisation_pairs,
                                  step_claim_lines, verdict_lines)
from harness.paper.tables import process_table

P = 150
rng = np.random.default_rng(11)
BASE = rng.uniform(0.1, 0.7, P)
NOISE = rng.normal(0, 0.05, P)


def lines_of(runs) -> dict[str, str]:
    return {text: line for (text, _), line in zip(CLAIMS, verdict_lines(runs))}


def claim(lines, start) -> str:
    return next(v for k, v in lines.items() if k.startswith(start))


def test_win_loss_tie_and_not_testable_as_the_claims_read_them():
    runs = {f"implicit_{loss}": hand_run(f"implicit_{loss}", BASE + 0.08 + NOISE) for loss in ("kto", "nca", "ce")}
    runs["implicit_dpo"] = hand_run("implicit_dpo", BASE - 0.06 + NOISE)            # behind AutoPSV
    runs["orm"] = hand_run("orm", BASE)                                                # ranks within problems
    runs["math_shepherd"] = hand_run("math_shepherd", BASE - 0.2, within_low=0.51)    # at chance
    runs["autopsv"] = hand_run("autopsv", BASE + 0.08 + NOISE[::-1])                  # level with CE
    lines = lines_of(runs)
    orm = claim(lines, "Implicit PRMs trained with every loss beat the ORM")
    assert "**does not hold here**" in orm and "KTO" in orm and "vs ORM" in orm   # DPO loses to the ORM
    assert "**does not hold here**" in claim(lines, "Implicit PRM (DPO) beats AutoPSV")
    ce_autopsv = claim(lines, "Implicit PRM (CE) beats AutoPSV")
    assert "**tie here**" in ce_autopsv
    lo, hi = (float(x) for x in ce_autopsv.split("[")[1].split("]")[0].split(", "))
    assert lo < 0 < hi
    ms = claim(lines, "Implicit PRM (CE) beats the Math-Shepherd PRM")
    # CE is 28 points ahead, yet against a baseline at chance within problems that is no test
    assert "**not testable here** (baseline at chance within problems: Math-Shepherd mid within-problem AUC" in ms
    assert "**not testable here**" in claim(lines, "Implicit PRMs trained with every loss beat both")

    runs["implicit_dpo"] = hand_run("implicit_dpo", BASE + 0.15 + NOISE)
    assert "**holds here**" in claim(lines_of(runs), "Implicit PRMs trained with every loss beat the ORM")
    assert "**holds here**" in claim(lines_of(runs), "Implicit PRM (DPO) beats AutoPSV")


def test_within_run_claims_pair_the_same_problems():
    rising = {g: {4: BASE, 16: BASE + 0.05, 64: BASE + 0.1 + NOISE} for g in ("weak", "mid", "strong")}
    falling = {g: {4: BASE + 0.1 + NOISE, 16: BASE + 0.05, 64: BASE} for g in ("weak", "mid", "strong")}
    runs = {"implicit_ce": hand_run("implicit_ce", rising, vote=BASE + 0.1, majority=BASE),
            "implicit_dpo": hand_run("implicit_dpo", rising, vote=BASE + 0.1, majority=BASE)}
    assert "**holds here**" in claim(lines_of(runs), "Best-of-N accuracy of implicit PRMs rises")
    runs["implicit_dpo"] = hand_run("implicit_dpo", falling, vote=BASE + 0.1, majority=BASE)
    line = claim(lines_of(runs), "Best-of-N accuracy of implicit PRMs rises")
    assert "**does not hold here**" in line and "DPO N=64" in line
    # weighted vs majority: KTO and NCA runs missing -> not measured, never a verdict
    assert "**not measured** (run missing: implicit_kto, implicit_nca)" in claim(lines_of(runs), "Weighted vote")


def test_a_claim_written_for_the_older_form_still_reads():
    older = [("old claim", lambda runs: (True, "1 vs 0")), ("unmeasured", lambda runs: (None, "runs missing"))]
    assert verdict_lines({}, older) == ["- old claim: **holds here**. 1 vs 0.",
                                        "- unmeasured: **not measured**. runs missing."]


def test_tables_no_run_on_the_committed_results(tmp_path):
    """`tables --no-run` still reads the committed run files (written before per-problem accuracies existed or
    after), and every claim reads one of the five verdicts."""
    from harness.cli import main
    committed = REPO / "results"
    if not (committed / "runs").is_dir():
        pytest.skip("no committed results")
    res = tmp_path / "results"
    shutil.copytree(committed / "runs", res / "runs")
    if (committed / "tuning").is_dir():
        shutil.copytree(committed / "tuning", res / "tuning")
    assert main(["tables", "--results", str(res), "--no-run"]) == 0
    md = (res / "leaderboard.md").read_text()
    lines = [ln for ln in md.split("## Paper claims")[1].split("\n## ")[0].splitlines() if ln.startswith("- ")]
    assert len(lines) >= len(CLAIMS)
    assert all(any(f"**{w}**" in ln for w in VERDICT_WORDS.values()) for ln in lines)
    files = {f.stem[len("arith-default-"):]: json.loads(f.read_text()) for f in (res / "runs").glob("arith-default-*.json")}
    if not any("per_problem" in d for d in files.values()):  # written before runs recorded per-problem accuracies
        paired = [ln for ln in lines if "costs far more to develop" not in ln
                  and not any(ln.startswith(f"- {text}") for text, _ in STEP_CLAIMS)]
        assert all("**not testable here**" in ln or "(run file has no per-problem accuracies; re-run" in ln
                   for ln in paired)
    if not any("process" in d for d in files.values()):  # written before runs recorded step-level figures
        step = [ln for ln in lines if any(ln.startswith(f"- {text}") for text, _ in STEP_CLAIMS)]
        assert len(step) == len(STEP_CLAIMS) and all("**not measured**" in ln for ln in step)
    # a trained main row lists the seeds whose run files are present, and shows mean (min-max) with more than one
    table = md.split("## Table 1")[1].split("\n## ")[0]
    for label in ("implicit_ce", "orm"):
        if label in files:
            seeds = [0] + sorted(int(k.rsplit("-seed", 1)[1]) for k in files if k.startswith(f"{label}-seed"))
            row = next(ln for ln in table.splitlines() if ln.startswith(f"| {label} |"))
            assert row.rstrip(" |").endswith(", ".join(map(str, seeds)))
            assert (" (" in row) == (len(seeds) > 1)


# --- the step-level claim and the process-rewards table, on hand-made step scores of labelled pools

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
    v = claim_locates_first_error("ce")(runs)
    assert v.verdict == "holds" and "difference +" in v.text and v.low > 0
    assert claim_locates_first_error("dpo")(runs).verdict == "tie"  # the same skill (0.2) as Math-Shepherd's
    swapped = {"implicit_ce": runs["math_shepherd"], "math_shepherd": runs["implicit_ce"]}
    assert claim_locates_first_error("ce")(swapped).verdict == "does not hold"
    assert claim_locates_first_error("ce")({"implicit_ce": runs["implicit_ce"]}).verdict == "not measured"
    assert "**not measured**" in step_claim_lines({})[0] and "**holds here**" in step_claim_lines(runs)[0]


def test_process_table_rows(runs):
    md = process_table(runs, ["implicit_ce", "math_shepherd", "orm", "old"])
    lines = md.splitlines()
    assert len(lines) == 2 + 2 + 1 + 1 + 1  # implicit: step reward and q_t rows
    ce = next(ln for ln in lines if ln.startswith("| implicit_ce | step reward |"))
    mid = runs["implicit_ce"]["process"]["views"]["step reward"]["pools"]["mid"]
    assert f"{100 * mid['localisation']:.1f}" in ce and f"{mid['step_auc']:.3f}" in ce
    assert f"{100 * mid['f1']:.1f} ({100 * mid['acc_error']:.1f} / {100 * mid['acc_correct']:.1f})" in ce
    assert "| implicit_ce | q_t |" in md and "| orm | no process reward" in md and "| old | not recorded" in md
