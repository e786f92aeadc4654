"""Leaderboard rows, renderings and the `leaderboard` command, on a hand-made graded pool with cached scores."""

from __future__ import annotations

import csv
import io
import itertools
import json
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
from _paths import DATA as DATA_ROOT

from harness.cli import main
from harness.core import cache
from harness.core.pool import Pool, Problem, Response, load_pool, save_pool
from harness.core.scores import ScoreSet, save_scores
from harness.evaluation.leaderboard import ROW_KEYS, Options, default_ns, evaluate_pool

DATA = DATA_ROOT


def _problem(pid, answers, correct, keys=None):
    resps = []
    for j, (a, c) in enumerate(zip(answers, correct)):
        extra = {} if keys is None else {"answer_key": keys[j]}
        resps.append(Response(f"Step 1: think {pid}.{j}\n\nStep 2: answer {a}", a, c, extra))
    return Problem(pid, f"question {pid}", "ref", resps, {"generator": "tiny-gen", "task": "arith"})


def _pool():
    return Pool([
        # "0.5" and "1/2" share an answer key, so they vote together: majority at n=4 is right (else a 4-way tie).
        _problem("p1", ["1/2", "0.5", "2", "3"], [True, True, False, False], ["1/2", "1/2", "2", "3"]),
        _problem("p2", ["x", "y", "y", None], [False, True, True, False]),
        _problem("p3", ["1", "2", "3", "4"], [True, False, False, False]),
    ])


def _oracle_steps(pool):
    # Two steps per response; min-aggregation gives 1 for correct and 0 for wrong responses.
    return [[[2.0, 1.0] if r.correct else [0.0, 3.0] for r in p.responses] for p in pool.problems]


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "_ROOT", None)  # main() sets the cache root globally; restore it afterwards
    pool = _pool()
    path = save_pool(pool, tmp_path / "tiny.jsonl")
    cdir = tmp_path / "cache"
    cache.set_root(cdir)
    save_scores(ScoreSet("oracle", pool.content_hash(), _oracle_steps(pool), {"kind": "oracle"}))
    return path, cdir, tmp_path


def _run(env, *extra):
    path, cdir, _ = env
    return main(["--cache-dir", str(cdir), "leaderboard", "--pool", str(path), *extra])


def test_json_rows_exactly_as_design(env, capsys):
    assert _run(env, "--format", "json", "--n", "2,4") == 0
    doc = json.loads(capsys.readouterr().out)
    assert list(doc) == ["rows"]
    rows = doc["rows"]
    assert all(list(r) == list(ROW_KEYS) for r in rows)
    assert all(isinstance(r["n"], int) and isinstance(r["accuracy"], float) and r["problems"] == 3 for r in rows)
    assert all(0 <= r["ci_low"] <= r["accuracy"] <= r["ci_high"] <= 1 for r in rows)
    assert {(r["task"], r["generator"]) for r in rows} == {("arith", "tiny-gen")}
    got = {(r["rm"], r["method"], r["aggregation"], r["n"]): r["accuracy"] for r in rows}
    assert set(got) == {("-", "pass_at_n", "-", n) for n in (1, 2, 4)} \
        | {("-", "majority_vote", "-", n) for n in (2, 4)} \
        | {("oracle", m, "min", n) for m in ("best_of_n", "weighted_vote") for n in (2, 4)}
    # pass@1 = mean correctness (2/4, 2/4, 1/4); n = N = 4: majority right, right, 4-way tie (1/4) -> 0.75.
    assert got[("-", "pass_at_n", "-", 1)] == pytest.approx(5 / 12, abs=1e-6)
    assert got[("-", "majority_vote", "-", 4)] == pytest.approx(0.75, abs=1e-6)
    # An oracle scorer's best-of-n is pass@n (exact estimator).
    for n in (2, 4):
        assert got[("oracle", "best_of_n", "min", n)] == pytest.approx(got[("-", "pass_at_n", "-", n)], abs=1e-6)


def test_csv_and_markdown_render(env, capsys):
    assert _run(env, "--format", "csv", "--n", "1,2,4") == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows and list(rows[0]) == list(ROW_KEYS) and len(rows) == 3 + 2 * 3 + 3
    assert _run(env, "--format", "markdown", "--n", "1,2,4") == 0
    md = capsys.readouterr().out
    assert md.startswith("### arith / tiny-gen") and "| rm " in md and "n=4" in md
    line = next(l for l in md.splitlines() if "majority_vote" in l)
    assert "75.0" in line  # accuracy in %
    assert _run(env, "--n", "1,2,4") == 0
    table = capsys.readouterr().out
    assert "tiny.jsonl" in table and "best_of_n" in table and "oracle" in table


def test_output_file_and_plot_written(env, capsys):
    _, _, tmp = env
    out, plots = tmp / "lb.json", tmp / "plots"
    assert _run(env, "--format", "json", "-o", str(out), "--plot", str(plots)) == 0
    assert json.loads(out.read_text())["rows"]
    pngs = list(plots.glob("*.png"))
    assert len(pngs) == 1 and pngs[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(plots.glob(".*.tmp*")) and not list(tmp.glob(".*.tmp*"))  # nothing half-written left


def test_ungraded_pool_exits_2(env, capsys, tmp_path):
    pool = _pool()
    pool.problems[1].responses[2].correct = None
    bad = save_pool(pool, tmp_path / "ungraded.jsonl")
    _, cdir, _ = env
    assert main(["--cache-dir", str(cdir), "leaderboard", "--pool", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "ungraded.jsonl" in err and "not graded" in err and "responses[2].correct" in err


def test_score_set_not_matching_pool_exits_2(env, capsys):
    pool = load_pool(env[0])
    steps = _oracle_steps(pool)
    steps[2] = steps[2][:3]  # one response short
    save_scores(ScoreSet("broken", pool.content_hash(), steps, {"kind": "broken"}))
    assert _run(env) == 2
    assert "broken" in capsys.readouterr().err


def test_bad_flags_exit_2(env, capsys):
    assert _run(env, "--n", "0,2") == 2
    assert _run(env, "--methods", "best_of_three") == 2
    assert _run(env, "--aggregation", "max") == 2


def test_default_ns_and_clipping_note(env, capsys):
    pool = _pool()
    assert default_ns([pool]) == [1, 2, 4]
    pool.problems[0].responses += [Response("extra", "1/2", True, {"answer_key": "1/2"})] * 2
    assert default_ns([pool]) == [1, 2, 4, 6]  # the full pool size is always a column
    res = evaluate_pool(pool, [], Options(), [1, 6])
    assert any("n=6 (2 of 3 problems)" in note for note in res.notes)


def test_no_model_libraries_imported():
    code = ("import sys, harness.evaluation.leaderboard, harness.commands.leaderboard, harness.selection, "
            "harness.evaluation.plots; "
            "bad = [m for m in ('torch', 'transformers', 'matplotlib') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.fixture
def qwen_rm_maj():
    path = DATA / "qwen25math_rm_maj" / "math_cot_100.jsonl"
    if not path.exists():
        pytest.skip(f"real data not found at {path} (expected ../shared/data beside the checkout)")
    return [json.loads(line) for line in path.open(encoding="utf-8")]


def test_real_reward_model_scores(qwen_rm_maj):
    """Qwen2.5-Math RM scores of 100 MATH problems x 8 responses: exact estimator vs direct enumeration."""
    problems, steps = [], []
    for rec in qwen_rm_maj:
        resps = [Response(f"response {j}", str(a), bool(c)) for j, (a, c) in enumerate(zip(rec["pred"], rec["score"]))]
        problems.append(Problem(str(rec["idx"]), rec["question"], rec["gt"], resps, {"generator": "qwen25-math"}))
        steps.append([[float(s[0])] for s in rec["pred_score"]])
    pool = Pool(problems)
    ss = ScoreSet("qwen_rm", pool.content_hash(), steps)
    ns = list(range(1, 9))
    res = evaluate_pool(pool, [ss], Options(mc_samples=64, bootstrap=200), ns)
    got = {(r["method"], r["n"]): r["accuracy"] for r in res.rows}

    def bon(p, sc, idx):
        top = max(sc[i] for i in idx)
        tied = [i for i in idx if sc[i] == top]
        return sum(p.responses[i].correct for i in tied) / len(tied)

    for n in ns:
        want = np.mean([np.mean([bon(p, [s[0] for s in st], idx) for idx in itertools.combinations(range(8), n)])
                        for p, st in zip(problems, steps)])
        assert got[("best_of_n", n)] == pytest.approx(want, abs=1e-6)

    def maj(p):  # all 8 responses: one subset, so the MC estimator is exact here
        counts = Counter(r.answer for r in p.responses)
        top = max(counts.values())
        tied = [a for a, c in counts.items() if c == top]
        return np.mean([next(r.correct for r in p.responses if r.answer == a) for a in tied])

    assert got[("majority_vote", 8)] == pytest.approx(np.mean([maj(p) for p in problems]), abs=1e-6)
    assert got[("majority_vote", 1)] == pytest.approx(got[("pass_at_n", 1)], abs=1e-6)  # every response answers
    assert got[("best_of_n", 8)] > got[("pass_at_n", 1)]  # the RM helps on this real pool


def test_distinct_counts_each_text_of_a_problem_once():
    # A correct text twice, two wrong texts; the scorer (deterministic) prefers wrong B.
    texts = [("A", True, 0.5), ("A", True, 0.5), ("B", False, 0.9), ("C", False, 0.1)]
    pool = Pool([Problem("p", "q", "1", [Response(t, t, c) for t, c, _ in texts], {"task": "arith"})])
    ss = ScoreSet("scorer", pool.content_hash(), [[[s] for *_, s in texts]], {"kind": "test"})

    def acc(distinct, n):
        res = evaluate_pool(pool, [ss], Options(methods=("best_of_n", "pass_at_n"), bootstrap=10, distinct=distinct),
                            [n])
        return {(r["method"], r["n"]): r["accuracy"] for r in res.rows}, res
    full, _ = acc(False, 2)
    # 2 of 4: (A,A) (A,C) (A,C) right; (A,B) (A,B) (B,C) wrong -> 1/2; pass@1 = 2/4
    assert full[("best_of_n", 2)] == pytest.approx(0.5) and full[("pass_at_n", 1)] == pytest.approx(0.5)
    once, res = acc(True, 2)
    # 2 of the 3 distinct texts: {A,B} wrong, {A,C} right, {B,C} wrong -> 1/3; pass@1 = 1/3
    assert once[("best_of_n", 2)] == pytest.approx(1 / 3) and once[("pass_at_n", 1)] == pytest.approx(1 / 3)
    assert "distinct" in res.name and any("3 of 4 responses" in n for n in res.notes)
