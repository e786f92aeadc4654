"""The arith world's distribution over correct solution texts, and the step checker that reads every variant."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from harness.core.steps import split_steps
from tasks.arith.grammar import (
    FINAL_FORMS,
    STEP_FORMS,
    all_solutions,
    count_solutions,
    first_error_step,
    orders,
    sample_solution,
)
from tasks.arith.problems import (
    Node,
    arithmetic_errors,
    extract_answer,
    generate_problems,
    is_correct,
)


def leaf(v):
    return Node(None, v)


# (3 + 4) * 2 - 5 = 9: a chain, one order of steps
CHAIN = Node("-", 9, Node("*", 14, Node("+", 7, leaf(3), leaf(4)), leaf(2)), leaf(5))
# 20 - 16 / 2 + 9: the division is a group on the right of the subtraction, so it comes first
GROUPED = Node("+", 21, Node("-", 12, leaf(20), Node("/", 8, leaf(16), leaf(2))), leaf(9))
# 2 + 3 * 4 - (5 - 1) = 10: two independent groups, each before the operation that uses it
TWO_GROUPS = Node("-", 10, Node("+", 14, leaf(2), Node("*", 12, leaf(3), leaf(4))), Node("-", 4, leaf(5), leaf(1)))


def test_step_orders_are_exactly_the_dependency_respecting_ones():
    def names(order):
        return [f"{n.left.value}{n.op}{n.right.value}" for n in order]
    assert [names(o) for o in orders(CHAIN)] == [["3+4", "7*2", "14-5"]]  # a chain has one order
    assert [names(o) for o in orders(GROUPED)] == [["16/2", "20-8", "12+9"]]
    got = sorted(map(tuple, map(names, orders(TWO_GROUPS))))
    # 3*4 before 2+12; 5-1 anywhere before the final subtraction
    assert got == sorted([("3*4", "2+12", "5-1", "14-4"), ("3*4", "5-1", "2+12", "14-4"),
                          ("5-1", "3*4", "2+12", "14-4")])


def test_counts_by_hand():
    # CHAIN: one order; + and * have two operand orders; 4 step forms each; 6 final forms
    assert count_solutions(CHAIN) == 1 * (4 * 2) * (4 * 2) * 4 * len(FINAL_FORMS)
    assert count_solutions(TWO_GROUPS) == 3 * (4 * 2) * (4 * 2) * 4 * 4 * len(FINAL_FORMS)
    assert len(set(all_solutions(CHAIN))) == count_solutions(CHAIN)  # every variant is a different text


def test_every_variant_of_real_problems_is_correct_and_has_no_error_step():
    problems = generate_problems(11, 400)
    checked = 0
    for p in problems:
        if count_solutions(p.tree) > 5000:
            continue
        for text in all_solutions(p.tree):
            assert is_correct(text, p.answer), text
            assert first_error_step(text, p.tree) is None, text
            assert arithmetic_errors(text) == []
            assert len(split_steps(text)) == len(p.steps)  # the final line is part of the last step
            checked += 1
    assert checked > 100_000


def test_sampled_solutions_cover_the_forms_uniformly():
    p = generate_problems(2, 1, 3, 3)[0]
    rng = random.Random(0)
    texts = [sample_solution(p.tree, rng) for _ in range(6000)]
    assert all(is_correct(t, p.answer) and first_error_step(t, p.tree) is None for t in texts)
    finals = Counter(next(i for i, f in enumerate(FINAL_FORMS) if t.endswith(f.format(v=p.answer))
                          and not any(t.endswith(g.format(v=p.answer)) for g in FINAL_FORMS if len(g) > len(f)))
                     for t in texts)
    assert set(finals) == set(range(len(FINAL_FORMS)))
    assert max(finals.values()) / min(finals.values()) < 1.2  # uniform within sampling noise (1,000 each)
    firsts = Counter(t.split("\n")[0] for t in texts)
    assert len(firsts) >= len(STEP_FORMS)
    assert len(set(texts)) > 0.5 * min(len(texts), count_solutions(p.tree))


def test_the_canonical_solution_is_the_first_variant_and_reads_as_before():
    p = generate_problems(5, 1)[0]
    assert p.solution == next(all_solutions(p.tree))
    assert p.solution.startswith("Step 1: ") and p.solution.endswith(f"\n\nThe answer is {p.answer}")


@pytest.mark.parametrize("text,err", [
    ("Step 1: 4 + 3 is 7\n\nStep 2: 2 * 7 = 14\n\nStep 3: Now 14 - 5 = 9\n\nAnswer: 9", None),  # swapped operands
    ("Step 1: 3 + 4 = 8\n\nStep 2: 8 * 2 = 16\n\nStep 3: 16 - 5 = 11\n\nThe answer is 11", 1),  # wrong result
    ("Step 1: 3 + 4 = 7\n\nStep 2: 7 * 2 = 14\n\nStep 3: 5 - 14 = -9\n\nThe answer is -9", 3),   # - is not commutative
    ("Step 1: 7 * 2 = 14\n\nStep 2: 14 - 5 = 9\n\nThe answer is 9", 1),                          # operand not known yet
    ("Step 1: 3 + 4 = 7\n\nStep 2: 7 * 2 = 14\n\nThe answer is 14", 3),                          # a missing step
    ("Step 1: 3 + 4 = 7\n\nStep 2: 7 * 2 = 14\n\nStep 3: 14 - 5 = 9\n\nThe answer is 8", None),  # only the answer
    ("Step 1: 3 + 4 makes 7\n\nThe answer is 7", 1),                                              # not a step form
    ("The answer is 9", 1),
])
def test_first_error_step_reads_the_tree_not_one_reference_text(text, err):
    assert first_error_step(text, CHAIN) == err


@pytest.mark.parametrize("text,answer", [
    ("Step 1: 2 + 3 = 5\n\nThe answer is 5", "5"),
    ("Step 1: 2 + 3 = 5\n\nSo the answer is 5", "5"),
    ("Step 1: 2 + 3 = 5\n\nThe final answer is 5", "5"),
    ("Step 1: 2 + 3 = 5\n\nAnswer: 5", "5"),
    ("Step 1: 2 + 3 = 5\n\nTherefore, the answer is 5", "5"),
    ("Step 1: 2 + 3 = 5\n\nFinal answer: 5", "5"),
    ("The answer is 07", "7"),            # one vote key per value: "07" and "7" vote together
    ("The answer is 5 or 6", None),
    ("Step 1: 2 + 3 = 5", None),
])
def test_every_final_form_is_read_and_answers_are_normalised(text, answer):
    assert extract_answer(text) == answer


def test_one_step_response_keeps_its_answer_line_in_its_step():
    one = "Step 1: 2 + 3 = 5\n\nThe answer is 5"
    two = "Step 1: 2 + 3 = 5\n\nStep 2: 5 * 2 = 10\n\nThe answer is 10"
    assert split_steps(one) == [one]
    assert split_steps(two) == ["Step 1: 2 + 3 = 5", "Step 2: 5 * 2 = 10\n\nThe answer is 10"]
    assert split_steps("Intro\n\nStep 1: 2 + 3 = 5\n\nThe answer is 5") == ["Intro", "Step 1: 2 + 3 = 5",
                                                                           "The answer is 5"]
