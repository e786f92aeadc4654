"""The Task protocol's grader and world entry points (tasks/base.py, tasks/__init__.py): which task grades a pool,
arith's pool grader against the world's own grades, and the clear error of a task without a world."""

from __future__ import annotations

from dataclasses import replace

import pytest

from harness.core.pool import Pool, Problem, Response
from tasks import get_task, pool_task, world_tasks


def _pool(*tasks) -> Pool:
    return Pool([Problem(f"p{i}", "Compute 7 + 8", "15", [Response("The answer is 15")],
                         {} if t is None else {"task": t}) for i, t in enumerate(tasks)])


@pytest.mark.parametrize("tasks,cls,grader", [
    (("arith", "arith"), "ArithTask", "arith"),
    (("gsm8k",), "GSM8K", "gsm8k"),
    (("gsm8k-gpt3",), "GSM8KGPT3", "math"),
    (("math500",), "Math500", "math"),
    ((None, None), "Task", "math"),                   # no task named: MATH's grader
    (("arith", None), "Task", "math"),                # several: MATH's, as the MC labels chose before
    (("processbench-gsm8k",), "Task", "math"),        # a name no task registers (a ProcessBench split)
    (("minerva_math",), "Task", "math"),              # an lm-eval task's name, from the lm-eval importer
])
def test_a_pool_is_graded_by_the_task_its_problems_name(tasks, cls, grader):
    task = pool_task(_pool(*tasks))
    assert (type(task).__name__, task.grader_name) == (cls, grader)


def test_the_graders_differ_where_the_tasks_do():
    """A final line the arith grammar cannot read is no answer to arith, while MATH's extractor finds the sentence
    before it (a response of the shipped test-weak pool); GSM8K's grader falls back to the last number."""
    garbled = "Step 1: 15 * 1 is 15\n\nSo the answer is 15\n\nTerer: 1"
    assert get_task("arith").grade(garbled, "15") == (None, False, {})
    math = get_task("math500")
    assert math.grade(garbled, "15") == ("15", True, {"answer_key": math.answer_key("15")})
    assert get_task("arith").grade("Step 1: 7 + 8 = 15\n\nThe answer is 015", "15") == ("15", True,
                                                                                          {"answer_key": "15"})
    eggs = "She sells 9 eggs at $2 each, so she makes $1,018 per week"
    assert (get_task("math500").extract_answer(eggs), get_task("gsm8k").extract_answer(eggs)) == ("1,018", "1018")


def test_arith_pool_grader_reproduces_the_worlds_own_grades(cache_root):
    """Answers removed, the shipped test-strong pool regraded by the arith task's pool grader is the pool as the
    world graded it, record for record (the same answers, verdicts and vote keys)."""
    from harness.core.pool import load_pool
    arith = get_task("arith")
    shipped = load_pool(arith.open_world(scale="default", log=lambda m: None).pool("test", "strong"))
    bare = Pool([replace(p, responses=[Response(r.text, None, None, {k: v for k, v in r.extra.items()
                                                                     if k != "answer_key"}) for r in p.responses])
                 for p in shipped.problems])
    graded, stats = arith.grade_pool(bare)
    assert [p.to_dict() for p in graded.problems] == [p.to_dict() for p in shipped.problems]
    assert stats.responses == 32000 and stats.correct == sum(r.correct for p in shipped.problems for r in p.responses)
    assert stats.extracted == stats.responses - stats.no_answer and stats.unparsable == []


def test_arith_pool_grader_keeps_given_answers_and_names_a_reference_that_is_not_an_integer():
    pool = Pool([Problem("a", "q", "15", [Response("no final line", answer="15"), Response("The answer is 14")]),
                 Problem("b", "q", "fifteen", [Response("The answer is 15")])])
    graded, stats = get_task("arith").grade_pool(pool)
    assert [[(r.answer, r.correct) for r in p.responses] for p in graded.problems] == [
        [("15", True), ("14", False)], [("15", False)]]
    assert stats.unparsable == ["b"] and stats.extracted == 2 and stats.correct == 1


def test_only_world_tasks_have_a_world_and_the_others_say_so():
    assert [t.name for t in world_tasks()] == ["arith"]
    math500 = get_task("math500")
    assert math500.world_test_pools("default") == [] and math500.worlds() == []
    for call in (lambda: math500.load_generator("x"), lambda: math500.generator_path("mid"),
                 lambda: math500.open_world(scale="smoke")):
        with pytest.raises(NotImplementedError, match="task 'math500' .*has no"):
            call()
