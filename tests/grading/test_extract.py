"""Answer extraction on real responses: every case where our extraction once lost an answer math-verify keeps.

Each text is a snippet of a real solution (ProcessBench-math id given; the tail that carries the answer), and the
expected answer is what the response commits to. `test_processbench_math_cases` reads the same ids from the shared
data, so the literal snippets cannot drift from the data they were taken from.
"""

from __future__ import annotations

import json

import pytest

from harness.grading import find_answer, is_equivalent
from harness.grading.extract import Extraction, boxed_answer, last_expression

# (id, text tail, expected answer, style)
REAL = [
    # no box, no "answer is": the last expression, as math-verify takes it
    ("math-542", "For \\(k = 65\\): \\[x = 5050 - 77 \\times 65 = 5050 - 5005 = 45\\] Thus, the number on the card "
                 "that was removed is \\(45\\).", "45", "last"),
    ("math-923", "Total number of rectangles = \\(9 + 18 + 9 = 36\\).\n\nTherefore, the total number of rectangles "
                 "in the given array is **36**.", "36", "last"),
    ("math-730", "\\[ 2073600 \\times 6 = 12441600 \\]\n\nTherefore, there are **12,441,600** ways the candidates can "
                 "be listed on the ballot.", "12,441,600", "last"),
    ("math-687", "\\[ \\text{Distance} = 108 \\text{ meters} \\]\n\nTherefore, Alice ran 108 meters.", "108", "last"),
    ("math-571", "= 8 \\times \\frac{3}{2} = 12\\]\n\nTherefore, \\(x^3 = 12\\).", "x^3 = 12", "last"),
    ("math-902", "\\[ \\cos(\\angle RPS) = -\\cos(\\angle RPQ) = -\\frac{24}{25} \\] Therefore, $\\cos \\angle RPS = "
                 "-\\frac{24}{25}$.", "\\cos \\angle RPS = -\\frac{24}{25}", "last"),
    # spans joined by "and" are one answer, a set (math-verify reads them so): here the solution rejects the pair
    ("math-381", "which is still not equal to \\(-12\\). So, \\( x = 14 \\) and \\( y = 15 \\) is not a solution.",
     "x = 14,y = 15", "last"),
    # a "final answer is" statement after the last box is the answer (a multi-line display included)
    ("math-835", "takes $4-5i$ to $\\boxed{-12+15i}.$\n\nFinal Answer: The final answer is -12+15i. I hope it is "
                 "correct.", "-12+15i", "final"),
    ("math-644", "\\[\n\\boxed{\\begin{pmatrix}0&1\\\\1&0\\end{pmatrix}}.\n\\]\n\nFinal Answer: The final answer is\n"
                 "\\[\n\\begin{pmatrix}0&1\\\\1&0\\end{pmatrix}.\n\\]\nI hope it is correct.",
     "\\begin{pmatrix}0&1\\\\1&0\\end{pmatrix}", "final"),
    ("math-113", "Therefore, \\(CD = \\boxed{105/121}.\\) Final Answer: The final answer is \\(\\frac{105}{121}\\). "
                 "I hope it is correct.", "\\frac{105}{121}", "final"),
    # several boxes joined by "and" / a short gap: one set
    ("math-47", "is \\(\\boxed{4 \\log_{10} 1} = \\boxed{0}\\).", "4 \\log_{10} 1,0", "boxed"),
]


@pytest.mark.parametrize("pid, text, expected, style", REAL, ids=[r[0] for r in REAL])
def test_real_cases(pid, text, expected, style):
    assert find_answer(text) == Extraction(expected, style)


def test_processbench_math_cases(shared_data):
    """The literal snippets above are the tails of the real responses, and the whole response gives the same."""
    rows = {r["id"]: r for r in json.loads((shared_data / "processbench" / "math.json").read_text())}
    for pid, text, expected, style in REAL:
        full = "\n\n".join(rows[pid]["steps"])
        assert full.endswith(text), pid
        assert find_answer(full) == Extraction(expected, style), pid


@pytest.mark.parametrize("text, expected, style", [
    ("Final Answer: The largest $n$ is 34.", "34", "answer"),        # the expression inside the sentence
    ("**Answer:** Verna received $7.00 in change.", "7.00", "answer"),
    ("The answer is Monday.", "Monday", "answer"),                   # a sentence with no expression is kept
    ("\\boxed{5}. Checking again, the final answer is 6.", "6", "final"),   # a later final statement wins
    ("The final answer is 6. Indeed \\boxed{6}", "6", "boxed"),
    ("\\boxed{5}. The final answer is that f is increasing.", "5", "boxed"),   # prose does not override a box
    ("The roots are \\boxed{2} and \\boxed{-3}.", "2,-3", "boxed"),   # several boxes: one set
    ("so $\\boxed{256.70}$.\n\nSo, it would cost $\\boxed{\\$256.70}$.", "256.70", "boxed"),  # same twice: one
    ("\\boxed{1} is what the first count gives, but the second condition removes one: \\boxed{2}", "2", "boxed"),
    ("\\boxed{2{,}5}", "2.5", "boxed"),                               # a decimal comma, not the set {2, 5}
    ("\\boxed{0{,}125}", "0.125", "boxed"),
    ("\\boxed{10{,}000}", "10{,}000", "boxed"),                       # a thousands group stays (verify reads it)
    ("She sells 9 eggs at $2 each, so she makes $1,018 per week", "1,018", "last"),  # "$2 ... $" is currency
    ("the area is \\boxed{\\frac{1}{2", None, None),                  # cut off inside the box: no guess
])
def test_marked_answers(text, expected, style):
    assert find_answer(text) == Extraction(expected, style)


def test_decimal_comma_grades_as_a_decimal():
    assert is_equivalent("2.5", find_answer("\\boxed{2{,}5}").answer)
    assert not is_equivalent("2,5", find_answer("\\boxed{2{,}5}").answer)  # "2,5" is the set {2, 5}
    assert is_equivalent("10000", find_answer("\\boxed{10{,}000}").answer)


def test_boxed_answer_follows_math_verify_separator_rule():
    assert boxed_answer("\\boxed{1}, \\boxed{2}")[0] == "1,2"
    far = "\\boxed{1}" + " because the first count is wrong" * 3 + ", so \\boxed{2}"
    assert boxed_answer(far)[0] == "2"                                 # 70 characters or more apart
    assert boxed_answer("\\boxed{1} then \\boxed{2}")[0] == "1,2"      # under 10 characters apart
    assert boxed_answer("no box") == (None, -1)


def test_last_expression():
    assert last_expression("x = 1 + 2 = 3, so") == "3"
    assert last_expression("\\(a = 1\\), \\(b = 2\\)") == "a = 1,b = 2"
    assert last_expression("a chain \\[y = 2 + 2 = 4\\]") == "4"
    assert last_expression("it rose by 15% this year") == "15\\%"
    assert last_expression("no numbers here") is None
