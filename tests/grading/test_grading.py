"""Grading: answer extraction, equivalence, vote keys, deadlines, the verdict cache, grade_pool and `harness grade`.

Cases are real answer spellings (MATH references, GSM8K, lm-eval/Minerva output, the arith world, the
disagreements found by benchmarks/grading_agreement.py).
"""

from __future__ import annotations

import json
import signal
import time

import pytest
from _paths import DATA as DATA_ROOT

from harness.cli import main as cli_main
from harness.core.pool import Pool, Problem, Response, load_pool
from harness.grading import (
    answer_key,
    extract_answer,
    find_answer,
    grade_pool_with_stats,
    is_equivalent,
)
from harness.grading import verify as verify_mod
from harness.grading.deadline import DeadlineExceeded, deadline
from harness.grading.extract import Extraction, last_boxed
from harness.grading.normalize import clean_answer
from harness.grading.workers import KILLED, OK, WorkerPool

DATA = DATA_ROOT


# --- extraction ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("so the area is $\\boxed{\\frac{14}{3}}$.", "\\frac{14}{3}"),
    ("\\boxed{1} is what the first count gives, but the second condition removes one: \\boxed{2}", "2"),  # last box
    ("The set is \\boxed{\\{1, 2\\}}", "\\{1, 2\\}"),                                  # escaped braces are not groups
    ("\\boxed{\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}}", "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}"),
    ("thus \\fbox{7}", "7"),
    ("so $\\boxed 5$", "5"),
    ("The final answer is: $\\boxed{2}$", "2"),                                        # Llama-3 style
    ("\\boxed{\\boxed{3}}", "3"),
    ("The final answer is: \\boxed{\\15}", "15"),                                      # ProcessBench gsm8k-329
    ("Step 1: 59 + 59 = 118\n\nThe answer is 118", "118"),                            # arith world / paper pools
    ("The answer is 18.\n", "18"),
    ("The answer is $18.", "18"),                                                      # a dollar sign, not math
    ("The answer is 18 dollars.", "18"),
    ("the answer is 20", "20"),                                                        # OVM: lower case
    ("The answer is $\\frac{3}{4}$. Done.", "\\frac{3}{4}"),
    ("The answer is 3.5.", "3.5"),
    ("The answer is 18, which is even.", "18"),
    ("Final Answer: The final answer is $\\frac{1}{2}$. I hope it is correct.", "\\frac{1}{2}"),   # Minerva
    ("Final Answer: The final answer is 18. I hope it is correct.", "18"),
    ("She makes 9 * 2 = $<<9*2=18>>18 every day.\n#### 18", "18"),                      # GSM8K
    ("It costs 1,000 + 234.\n#### 1,234", "1,234"),
    ("She has 13 * 2 = $<<13*2=26>>26\nA: 26", "26"),                                  # OpenAI example solutions
    ("**Answer:** 42", "42"),
])
def test_extraction_styles(text, expected):
    assert extract_answer(text) == expected


def test_extraction_finds_nothing_rather_than_guessing():
    assert extract_answer("I am not sure how to continue") is None
    assert extract_answer("the area is \\boxed{\\frac{1}{2") is None  # truncated inside the last box
    assert extract_answer("") is None and extract_answer(None) is None
    assert find_answer("no answer here").style is None


def test_last_number_only_when_allowed():
    text = "She sells 9 eggs at $2 each, so she makes $1,018 per week"
    assert find_answer(text) == Extraction("1,018", "last")  # MATH-style: the last expression, as written
    assert find_answer(text, fallback_number=True).style == "number"
    assert extract_answer(text, fallback_number=True) == "1018"
    # GSM8K-style grading reads the number out of an answer stated as a sentence (ProcessBench gsm8k-299)
    sentence = "**Answer:** Verna received $7.00 in change."
    assert find_answer(sentence) == Extraction("7.00", "answer")  # the expression in the sentence, either way
    assert find_answer(sentence, fallback_number=True).answer == "7.00"


def test_last_boxed_balanced():
    assert last_boxed("a \\boxed{x^{2}} b \\boxed{\\frac{a}{b}}") == "\\frac{a}{b}"
    assert last_boxed("none") is None


@pytest.mark.parametrize("raw, cleaned", [
    ("$\\frac{1}{2}$.", "\\frac{1}{2}"), ("\\(5\\)", "5"), ("**18**", "18"), ("\\$18.00", "18.00"),
    ("5\\text{ cm}", "5"), ("8\\sqrt{3} \\text { square inches}", "8\\sqrt{3}"), ("\\text{(A)}", "(A)"),
    ("5!", "5!"), ("  ", None), ("$5$ and $6$", "$5$ and $6$"),
])
def test_clean_answer(raw, cleaned):
    assert clean_answer(raw) == cleaned


# --- equivalence -----------------------------------------------------------------------------------------------

EQUAL = [
    ("\\frac{1}{2}", "0.5"), ("0.5", "\\dfrac12"), ("\\frac{14}{3}", "14/3"), ("1000", "1,000"), ("1,000", "1000"),
    ("1000", "1 000"), ("1000", "1\\,000"), ("10{,}000", "10000"), ("5", "5 cm"), ("5", "5\\text{ cm}"),
    ("5\\text{ cm}", "5"), ("8\\sqrt{3} \\text { square inches}", "8\\sqrt{3}"), ("90", "90^\\circ"),
    ("90^\\circ", "90"), ("45", "45°"), ("18", "\\$18.00"), ("15", "\\15"), ("\\{1,2\\}", "\\{2,1\\}"),
    ("1,2", "2, 1"), ("(1,2]", "(1, 2]"), ("(-\\infty,3)", "(-\\infty, 3)"), ("x=5", "5"), ("5", "x = 5"),
    ("\\text{(C)}", "C"), ("\\text{Monday}", "monday"), ("3\\sqrt{2}", "\\sqrt{18}"),
    ("\\frac{\\sqrt3}{2}", "\\sqrt{3}/2"), ("x^2+2x", "x(x+2)"), ("\\cot x", "\\frac{1}{\\sin x \\cos x} - \\tan x"),
    ("-3", "−3"), ("1500", "1.5e3"), ("0.5", "½"), ("\\frac{137}{111}", "\\frac{411}{333}"),
    ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix}1\\\\2\\end{pmatrix}"), ("1:2", "\\frac12"),
    ("\\frac{1}{3}", "0.333333"), ("\\frac{21}{2}\\pi", "10.5\\pi"), ("10", "10\\%"), ("50\\%", "50"),
    ("0.105", "10.5\\%"), ("\\frac{1}{7}", "0.142857"), ("12", "12.0"), ("5", "5\\text{ meters}"),
    ("\\frac13", "0.3333333"),
]
NOT_EQUAL = [
    ("\\frac{1}{2}", "0.6"), ("\\frac13", "0.33"), ("-3", "3"), ("(1,2)", "[1,2)"), ("\\{1,2\\}", "\\{1,3\\}"),
    ("10", "10.0001"), ("\\pi", "3.14"), ("\\text{even}", "\\text{odd}"), ("5", "50"), ("x^2", "x^3"),
    ("118", "1,18"), ("2", "\\sqrt{2}"), ("\\frac{1}{2", "\\frac{1}{3}"), ("", "5"), ("5", ""), ("5", None),
    ("x", "|x|"), ("x", "\\sqrt{x^2}"), ("2\\log x", "\\log(x^2)"),
]


@pytest.mark.parametrize("reference, answer", EQUAL)
def test_equivalent(reference, answer):
    assert is_equivalent(reference, answer)


@pytest.mark.parametrize("reference, answer", NOT_EQUAL)
def test_not_equivalent(reference, answer):
    assert not is_equivalent(reference, answer)


@pytest.mark.parametrize("reference, answer", [
    ("10^{10^{10}}", "5"),             # computing it would run in C for ever: refused by the magnitude guard
    ("5", "2^{2^{2^{2^{2}}}}"),
    ("9999999999!", "5"),
    ("5", "1" * 5000),                 # a runaway 5,000-character "answer"
    ("5", "\\frac{" * 300),            # unbalanced braces
    ("\\sqrt{" * 200 + "2", "2"),
])
def test_pathological_input_is_fast_and_false(reference, answer):
    t0 = time.monotonic()
    with deadline(20):  # a hang would fail the test instead of stalling the suite
        assert not is_equivalent(reference, answer)
        answer_key(answer)
    assert time.monotonic() - t0 < 5


def test_identical_pathological_answers_still_match():
    assert is_equivalent("10^{10^{10}}", "10^{10^{10}}")


# --- vote keys -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("group", [
    ["0.5", "1/2", "\\frac12", "\\dfrac{1}{2}", "$\\frac{1}{2}$", "0.50"],
    ["1000", "1,000", "1 000", "1000.0"],
    ["3\\sqrt{2}", "\\sqrt{18}", "3 \\sqrt 2"],
    ["x^2+2x", "x(x+2)", "2x + x^2"],
    ["\\{1,2\\}", "\\{2,1\\}", "2, 1"],
    ["5", "x = 5", "5 cm"],
    ["\\text{(C)}", "C", "(C)"],
])
def test_answer_key_groups_equal_answers(group):
    keys = {answer_key(a) for a in group}
    assert len(keys) == 1, keys


# Graded equal against a reference, voting apart: math-verify calls an integer percentage equal to the integer
# (MATH references drop the sign) and to its value (10% = 0.1); a key can follow only one, and follows the value.
VOTE_APART = [("10", "10\\%"), ("50\\%", "50")]


@pytest.mark.parametrize("reference, answer", [pair for pair in EQUAL if pair not in VOTE_APART])
def test_answer_key_agrees_with_the_verdict_on_equal_pairs(reference, answer):
    """Votes split no answer the grader calls equal: every equivalent pair of the table shares one key."""
    assert answer_key(reference) == answer_key(answer)


@pytest.mark.parametrize("reference, answer", VOTE_APART)
def test_integer_percent_is_graded_equal_to_the_integer_but_votes_with_its_value(reference, answer):
    assert is_equivalent(reference, answer) and answer_key(reference) != answer_key(answer)


@pytest.mark.parametrize("reference, answer", [(a, b) for a, b in NOT_EQUAL if a and b])
def test_answer_key_keeps_unequal_pairs_apart(reference, answer):
    assert answer_key(reference) != answer_key(answer)


def test_answer_key_separates_different_answers():
    keys = [answer_key(a) for a in ["0.5", "0.333", "\\frac13", "-3", "3", "(1,2)", "[1,2)", "x^2", "\\pi"]]
    assert len(set(keys)) == len(keys)
    assert answer_key("\\frac{14}{3}") == "n:14/3"
    assert answer_key(None) is None and answer_key("  ") is None
    long = answer_key("x" * 5000)
    assert long.startswith("h:") and len(long) < 40  # long answers are keyed by a hash, not stored whole


# --- deadlines and workers -------------------------------------------------------------------------------------

SLOW = ("(x+y+1)^{60}", "(x+y+1)^{59}")  # real sympy work: about 12 s to decide on this machine


def test_soft_deadline_interrupts_slow_sympy_in_process():
    t0 = time.monotonic()
    with pytest.raises(DeadlineExceeded):
        with deadline(0.3):
            verify_mod.is_equivalent(*SLOW)
    assert time.monotonic() - t0 < 3


def test_timeout_in_worker_counts_as_wrong_and_run_goes_on(tmp_path):
    pool = Pool([Problem("slow", "expand", SLOW[0], [Response("The answer is $(x+y+1)^{59}$"),
                                                     Response("The answer is $(x+y+1)^{60}$")]),
                 Problem("easy", "half", "\\frac12", [Response("\\boxed{0.5}")])])
    t0 = time.monotonic()
    graded, stats = grade_pool_with_stats(pool, workers=1, timeout=0.5, cache_path=tmp_path / "v.sqlite")
    assert time.monotonic() - t0 < 20
    slow, easy = graded.problems
    assert [r.correct for r in slow.responses] == [False, True]  # the timed-out pair is not equivalent
    assert easy.responses[0].correct is True
    assert stats.timeouts >= 1


def _blocked_sleep(*args):
    # ignores the soft deadline like C code does: only killing the process ends it
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    time.sleep(60)


def test_hung_worker_is_killed_and_replaced(monkeypatch):
    monkeypatch.setattr(verify_mod, "answer_key", _blocked_sleep)  # inherited by fork-started workers
    t0 = time.monotonic()
    with WorkerPool(1, timeout=0.2, grace=0.5, start_method="fork") as wp:
        results = {i: (status, value) for i, status, value in
                   wp.run([(0, ("key", "1/2", "")), (1, ("eq", "1/2", "0.5"))])}
        replaced = wp.replaced
    assert results[0] == (KILLED, None)
    assert results[1] == (OK, True)  # answered by the replacement worker
    assert replaced == 1
    assert time.monotonic() - t0 < 10


# --- cache and grade_pool --------------------------------------------------------------------------------------

def _pool():
    return Pool([
        Problem("p1", "Compute 7/2 + 7/6", "\\frac{14}{3}", [
            Response("Step 1: 7/2 + 7/6 = 21/6 + 7/6 = 28/6\n\nThe answer is $\\frac{14}{3}$"),
            Response("so \\boxed{14/3}", extra={"logprob": -3.5}),
            Response("The answer is 4.67"),
            Response("whatever", answer="4.6"),  # an answer given by an importer is kept, not re-extracted
            Response("I give up"),
        ]),
        Problem("p2", "Compute 59 + 59", "118", [Response("The answer is 118"), Response("#### 118"),
                                                 Response("The answer is 1,18")]),
    ])


def test_grade_pool_fills_answers_correctness_and_keys(tmp_path):
    pool = _pool()
    graded, stats = grade_pool_with_stats(pool, workers=0, cache_path=tmp_path / "v.sqlite")
    p1, p2 = graded.problems
    assert [r.answer for r in p1.responses] == ["\\frac{14}{3}", "14/3", "4.67", "4.6", None]
    assert [r.correct for r in p1.responses] == [True, True, False, False, False]
    assert [r.correct for r in p2.responses] == [True, True, False]
    assert p1.responses[0].extra["answer_key"] == p1.responses[1].extra["answer_key"] == "n:14/3"
    assert p1.responses[4].extra["answer_key"] is None
    assert p1.responses[1].extra["logprob"] == -3.5
    assert pool.problems[0].responses[0].correct is None  # the input pool is not modified
    assert graded.content_hash() == pool.content_hash()    # grading never invalidates score sets
    assert (stats.problems, stats.responses, stats.no_answer, stats.correct) == (2, 8, 1, 4)
    assert stats.extracted == 6 and stats.accuracy == 0.5


def test_cache_grades_each_distinct_pair_once(tmp_path, monkeypatch):
    calls = []
    real = verify_mod.is_equivalent

    def counting(reference, answer):
        calls.append((reference, answer))
        return real(reference, answer)

    monkeypatch.setattr(verify_mod, "is_equivalent", counting)
    pool = Pool([Problem("a", "q", "2", [Response("The answer is 2")] * 5 + [Response("The answer is 3")] * 3),
                 Problem("b", "q", "2", [Response("The answer is 2")]),
                 Problem("c", "q", "3", [Response("The answer is 2")])])
    path = tmp_path / "v.sqlite"
    _, first = grade_pool_with_stats(pool, workers=0, cache_path=path)
    assert sorted(calls) == [("2", "2"), ("2", "3"), ("3", "2")]  # 10 responses, 3 distinct pairs
    assert (first.distinct_pairs, first.cache_hits) == (3, 0)
    calls.clear()
    graded, second = grade_pool_with_stats(pool, workers=0, cache_path=path)
    assert calls == [] and second.computed == 0 and second.cache_hits == first.computed
    assert [r.correct for r in graded.problems[0].responses] == [True] * 5 + [False] * 3


def test_cached_timeout_is_retried_only_with_more_time(tmp_path, monkeypatch):
    calls = []

    def slow(reference, answer):
        calls.append(answer)
        time.sleep(0.5)
        return True

    monkeypatch.setattr(verify_mod, "is_equivalent", slow)
    pool = Pool([Problem("a", "q", "1", [Response("x", answer="1")])])
    path = tmp_path / "v.sqlite"
    graded, stats = grade_pool_with_stats(pool, workers=0, timeout=0.1, cache_path=path)
    assert graded.problems[0].responses[0].correct is False and stats.timeouts == 1
    _, again = grade_pool_with_stats(pool, workers=0, timeout=0.1, cache_path=path)
    assert len(calls) == 1 and again.timeouts == 1  # the timeout is remembered, not recomputed
    graded, more = grade_pool_with_stats(pool, workers=0, timeout=2.0, cache_path=path)
    assert len(calls) == 2 and graded.problems[0].responses[0].correct is True


def test_new_grader_code_does_not_reuse_old_verdicts(tmp_path, monkeypatch):
    path = tmp_path / "v.sqlite"
    pool = Pool([Problem("a", "q", "1", [Response("x", answer="1")])])
    grade_pool_with_stats(pool, workers=0, cache_path=path)
    monkeypatch.setattr("harness.grading.runner.GRADER_VERSION", "edited")
    _, stats = grade_pool_with_stats(pool, workers=0, cache_path=path)
    assert stats.cache_hits == 0 and stats.computed == 3  # verdict, vote key, does the reference parse


# --- the command ------------------------------------------------------------------------------------------------

def test_grade_command_rewrites_pool_atomically(tmp_path, capsys, cache_root):
    src = tmp_path / "pool.jsonl"
    src.write_text(json.dumps({"id": "p", "problem": "q", "reference": "\\frac{1}{2}",
                               "responses": ["The answer is 0.5", "The answer is 2", {"text": "\\boxed{1/2}"}]}) + "\n")
    rc = cli_main(["--cache-dir", str(tmp_path / "cache"), "grade", str(src), "--workers", "0"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "1 problems, 3 responses; accuracy 66.7%, pass@3 100.0%" in out
    assert "cache hits 0" in out
    graded = load_pool(src)
    assert [r.correct for r in graded.problems[0].responses] == [True, False, True]
    assert (tmp_path / "cache" / "grading" / "verdicts.sqlite").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "pool.jsonl"]  # no temporary file left
    cli_main(["--cache-dir", str(tmp_path / "cache"), "grade", str(src), "-o", str(tmp_path / "o.jsonl"),
              "--workers", "0"])
    assert "computed 0" in capsys.readouterr().out


def test_grade_command_bad_input_is_one_line_exit_2(tmp_path, capsys, cache_root):
    assert cli_main(["grade", str(tmp_path / "missing.jsonl")]) == 2
    assert "pool file not found" in capsys.readouterr().err
    (tmp_path / "p.jsonl").write_text('{"id": "p", "problem": "q", "reference": "1", "responses": ["x"]}\n')
    assert cli_main(["grade", str(tmp_path / "p.jsonl"), "--timeout", "0"]) == 2
    assert "--timeout" in capsys.readouterr().err


def test_grade_names_unparsable_references_and_strict_refuses_them(tmp_path, capsys, cache_root):
    src = tmp_path / "pool.jsonl"
    rows = [{"id": "ok", "problem": "q", "reference": "\\frac{1}{2}", "responses": ["The answer is 0.5"]},
            {"id": "cut", "problem": "q", "reference": "\\frac{1}{", "responses": ["The answer is 0.5"]}]
    src.write_text(json.dumps(rows[0]) + "\n\n" + json.dumps(rows[1]) + "\n")  # a blank line: "cut" is line 3
    assert cli_main(["grade", str(src), "-o", str(tmp_path / "out.jsonl"), "--workers", "0"]) == 0
    assert "1 reference(s) do not parse" in (err := capsys.readouterr().err) and f"{src}:3 id 'cut'" in err
    assert cli_main(["grade", str(src), "-o", str(tmp_path / "strict.jsonl"), "--workers", "0", "--strict"]) == 2
    err = capsys.readouterr().err
    assert f"{src}:3" in err and "'cut'" in err and "reference" in err
    assert not (tmp_path / "strict.jsonl").exists()  # nothing written


def test_grade_command_uses_the_pools_task_grader(tmp_path, capsys, cache_root):
    """An arith pool (meta.task) is graded by arith's exact grader: a garbled final line is no answer, though MATH's
    extractor reads the sentence before it (as a response of the shipped test-weak pool does); --task names
    another task's grader."""
    garbled = "Step 1: 15 * 1 is 15\n\nSo the answer is 15\n\nTerer: 1"
    src = tmp_path / "pool.jsonl"
    src.write_text(json.dumps({"id": "p", "problem": "Compute 15 * 1", "reference": "15", "meta": {"task": "arith"},
                               "responses": [garbled, "Step 1: 15 * 1 = 15\n\nThe answer is 015"]}) + "\n")
    for extra, verdicts, keys in (([], [False, True], [None, "15"]), (["--task", "math500"], [True, True], None)):
        out = tmp_path / f"out{len(extra)}.jsonl"
        assert cli_main(["grade", str(src), "-o", str(out), "--workers", "0", *extra]) == 0
        graded = load_pool(out).problems[0].responses
        assert [r.correct for r in graded] == verdicts
        if keys:
            assert [r.extra.get("answer_key") for r in graded] == keys
    assert "accuracy 50.0%" in capsys.readouterr().out.split("wrote")[0]


# --- real data --------------------------------------------------------------------------------------------------

def test_agrees_with_qwen_labels_on_real_math_responses(shared_data, tmp_path):
    rows = [json.loads(line) for line in open(shared_data / "qwen25math_rm_maj" / "math_cot_100.jsonl")][:12]
    pool = Pool([Problem(str(r["idx"]), r["question"], str(r["gt"]), [Response(t) for t in r["code"]])
                 for r in rows])
    graded, _ = grade_pool_with_stats(pool, workers=0, cache_path=tmp_path / "v.sqlite")
    ours = [[r.correct for r in p.responses] for p in graded.problems]
    assert ours == [[bool(s) for s in r["score"]] for r in rows]
    assert [[r.answer for r in p.responses] for p in graded.problems][:3] == [r["pred"] for r in rows][:3]


def test_processbench_math_answers_are_extracted(shared_data):
    rows = json.loads((shared_data / "processbench" / "math.json").read_text())[:50]
    answers = [extract_answer("\n\n".join(r["steps"])) for r in rows]
    assert answers[0] == "9"  # "... the remainder of 194 (mod 11) is: \boxed{9}."
    assert sum(a is not None for a in answers) >= 40  # 44 today; the rest state their answer only in prose
