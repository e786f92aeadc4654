"""The harness inside lm-evaluation-harness: the task pack (harness.flow.lm_eval_pack) validates and loads, and
`reward_rerank` (harness.flow.lm_eval_filter) selects inside lm-eval as the harness leaderboard does on the same pool.
The other way, lm-eval sampling a pool for the harness, is tests/generation/test_lm_eval_backend.py."""

from __future__ import annotations

import subprocess
import sys

import pytest
from _paths import DATA as DATA_ROOT

from harness.core import cache
from harness.flow.lm_eval_pack import PACK_DIR, TASKS, load_tasks, task_manager
from tasks.arith import frozen

MID = frozen.generator_path("mid")
DATA = DATA_ROOT


def test_the_pack_validates_with_lm_evals_own_command():
    names = ",".join([*TASKS.values(), "harness_arith_rerank"])
    out = subprocess.run([sys.executable, "-m", "lm_eval", "validate", "--tasks", names, "--include_path",
                          str(PACK_DIR)], capture_output=True, text=True, timeout=300)
    # lm-eval's own verdict line, whole: a substring test for "valid" would also pass on "invalid"
    assert out.returncode == 0, out.stderr[-2000:]
    assert "All tasks found and valid" in out.stdout.splitlines(), out.stdout[-2000:]


def test_pack_tasks_build_from_this_harness_problems():
    tasks = ["harness_arith"] + [t for t, d in (("harness_math500", "math500"), ("harness_gsm8k", "gsm8k"))
                                 if (DATA / d).is_dir()]
    built = load_tasks(task_manager(), tasks)
    arith = list(built["harness_arith"].test_docs())
    assert len(arith) == 500 and arith[0]["id"] == "test/0" and arith[0]["prompt"].startswith("<|user|>")
    assert built["harness_arith"].config.repeats == 8
    if "harness_math500" in built:
        doc = next(iter(built["harness_math500"].test_docs()))
        assert built["harness_math500"].doc_to_text(doc) == "Problem:\n" + doc["problem"] + "\n\nSolution:"
        assert built["harness_math500"].config.generation_kwargs["temperature"] == 0.5


def test_reward_rerank_in_lm_eval_equals_the_harness_leaderboard_on_the_same_pool(tmp_path):
    import lm_eval

    from harness.core.pool import Pool, Problem, Response
    from harness.evaluation import leaderboard as lb
    from harness.flow.lm_eval_pack.utils import extract, is_correct
    from harness.generation.lm_eval_backend import pool_from_samples
    from reward_models import get_rm
    cache.set_root(tmp_path / "cache")
    try:
        results = lm_eval.simple_evaluate(model="hf", model_args=f"pretrained={MID},dtype=float32",
                                          tasks=["harness_arith_rerank"], task_manager=task_manager(), limit=4,
                                          batch_size=8, device="cpu", log_samples=True)
        got = results["results"]["harness_arith_rerank"]
        raw = pool_from_samples(results["samples"]["harness_arith_rerank"], {"generator": "mid"})
        docs = {s["doc"]["id"]: s["doc"] for s in results["samples"]["harness_arith_rerank"]}
        def graded(doc, text):  # as the arith world grades: its extractor, the answer as the vote key
            ans = extract(doc, text)
            return Response(text, ans, is_correct(doc, text), {} if ans is None else {"answer_key": ans})
        pool = Pool([Problem(p.id, p.problem, p.reference, [graded(docs[p.id], r.text) for r in p.responses], p.meta)
                     for p in raw.problems])
        scores_before = list((tmp_path / "cache" / "scores").rglob("loglik-*.json"))
        assert scores_before, "the filter's scores went through the harness cache"
        ss = get_rm("loglik", model=str(MID), progress=False).score(pool)  # read back, not recomputed
        assert list((tmp_path / "cache" / "scores").rglob("loglik-*.json")) == scores_before
        opts = lb.Options(methods=("best_of_n", "weighted_vote"), ns=[8], subsets="prefix", bootstrap=10)
        rows = {r["method"]: r["accuracy"] for r in lb.rows_of([lb.evaluate_pool(pool, [ss], opts, [8])])
                if r["rm"] == "loglik"}
        assert got["exact_match,best_of_8-loglik"] == pytest.approx(rows["best_of_n"])
        assert got["exact_match,weighted_vote-loglik"] == pytest.approx(rows["weighted_vote"])
    finally:
        cache.set_root(None)


def test_weighted_vote_takes_any_score_and_minus_infinity_casts_no_vote():
    from harness.flow.lm_eval_filter import choose
    texts = ["a", "b", "c"]
    assert choose("weighted_vote", texts, [-800.0, -10.0, -11.0], ["1", "2", "1"]) == 1  # 4.5e-5 vs ~1.7e-5
    assert choose("weighted_vote", texts, [float("-inf"), float("-inf"), -50.0], ["1", "1", "2"]) == 2
    assert choose("majority_vote", texts, [0.0, 0.0, 0.0], ["1", "2", "2"]) == 1  # the first with the winner
    assert choose("best_of_n", texts, [0.5, 0.9, 0.9], [None] * 3) == 1  # ties to the first


def test_reward_rerank_bad_mode_is_one_clear_error():
    from harness.core.errors import InputError
    from harness.flow.lm_eval_filter import RewardRerank
    with pytest.raises(InputError, match="best_of_n"):
        RewardRerank(rm="loglik", mode="best")
