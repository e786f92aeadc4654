"""Seeded multi-step integer arithmetic problems with step-by-step reference solutions and an exact grader.

A problem is an expression tree of 2-5 operations over + - * /, every intermediate result an integer in [0, 99],
every product with a single-digit factor and every divisor a single digit (sized so that a sub-million-parameter
model can learn it in minutes on a CPU, while still making real arithmetic and ordering mistakes).
Its canonical solution evaluates the tree bottom-up, left to right, one operation per step, in the paper's format:

    Step 1: 25 * 3 = 75

    Step 2: 17 + 75 = 92

    The answer is 92

Generators learn from draws of tasks.arith.grammar (other step orders, operand orders and surface forms of the same
computation), so their correct responses are as varied as real ones; grading is by the value of the final line.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field, replace

from harness.core.pool import Pool, Response
from harness.core.steps import split_steps
from tasks.arith.grammar import first_error_step as check
from tasks.arith.grammar import ANSWER, op_nodes, parse_step, render, render_step, sample_solution

CAP = 99
OPS = "+-*/"
_PREC = {"+": 1, "-": 1, "*": 2, "/": 2}


@dataclass(frozen=True)
class Node:
    op: str | None          # None for a leaf
    value: int
    left: "Node | None" = None
    right: "Node | None" = None

    def render(self) -> str:
        if self.op is None:
            return str(self.value)
        left, right = self.left.render(), self.right.render()
        if self.left.op and _PREC[self.left.op] < _PREC[self.op]:
            left = f"({left})"
        # A right operand of equal precedence is always bracketed: a - (b - c), a * (b / c).
        if self.right.op and _PREC[self.right.op] <= _PREC[self.op]:
            right = f"({right})"
        return f"{left} {self.op} {right}"


MAX_FACTOR = 9  # one factor of every product, and every divisor, is a single digit


def _apply(op: str, a: int, b: int) -> int | None:
    if op == "+":
        v = a + b
    elif op == "-":
        v = a - b
    elif op == "*":
        if min(a, b) > MAX_FACTOR:
            return None
        v = a * b
    else:
        if not 2 <= b <= MAX_FACTOR or a % b:
            return None
        v = a // b
    return v if 0 <= v <= CAP else None


def _leaf(rng: random.Random) -> Node:
    return Node(None, rng.randint(1, 20))


def _tree(rng: random.Random, n_ops: int, sub_prob: float = 0.25) -> Node:
    """A left-deep chain; each right operand is a number or, with probability `sub_prob`, a one-operation group.

    Chains keep the evaluation order learnable for a tiny model (left to right, groups first), so its errors are
    mostly arithmetic ones that then propagate, as in the paper's pools.
    """
    if n_ops == 0:
        return _leaf(rng)
    for _ in range(100):
        sub = n_ops >= 2 and rng.random() < sub_prob
        left = _tree(rng, n_ops - (2 if sub else 1), sub_prob)
        right = _tree(rng, 1, 0.0) if sub else _leaf(rng)
        if right.op is None and rng.random() < 0.3:
            divisors = [d for d in range(2, min(left.value, MAX_FACTOR) + 1) if left.value % d == 0]
            if divisors:  # draw a divisor so that division is as common as the other operations
                d = rng.choice(divisors)
                return Node("/", left.value // d, left, Node(None, d))
        ops = [op for op in OPS if _apply(op, left.value, right.value) is not None]
        if ops:
            op = rng.choice(ops)
            return Node(op, _apply(op, left.value, right.value), left, right)
    raise RuntimeError("could not build a valid expression")  # practically unreachable


def solution_steps(node: Node) -> list[str]:
    """The canonical steps: bottom-up, left to right, the first step form (see grammar for the other variants)."""
    return [render_step(n, 0, False) for n in op_nodes(node)]


def format_solution(steps: list[str], answer: int | str) -> str:
    return render(steps, answer)


@dataclass(frozen=True)
class ArithProblem:
    id: str
    expression: str
    answer: int
    steps: tuple[str, ...]          # the canonical solution's steps
    tree: Node | None = field(default=None, compare=False, repr=False)

    @property
    def problem(self) -> str:
        return f"Compute {self.expression}"

    @property
    def solution(self) -> str:
        return format_solution(list(self.steps), self.answer)

    def draw_solution(self, rng: random.Random) -> str:
        """A correct solution drawn from the grammar's distribution (tasks.arith.grammar)."""
        return sample_solution(self.tree, rng)


def generate_problems(seed: int, count: int, min_ops: int = 2, max_ops: int = 5, prefix: str = "p",
                      exclude: set[str] | None = None) -> list[ArithProblem]:
    """`count` distinct problems, none of whose expressions is in `exclude`; same seed, same list."""
    rng = random.Random(seed)
    seen = set(exclude or ())
    out: list[ArithProblem] = []
    while len(out) < count:
        tree = _tree(rng, rng.randint(min_ops, max_ops))
        expr = tree.render()
        if expr in seen:
            continue
        seen.add(expr)
        out.append(ArithProblem(f"{prefix}{len(out)}", expr, tree.value, tuple(solution_steps(tree)), tree))
    return out


def extract_answer(text: str) -> str | None:
    """The integer of the final line in any of the grammar's final forms, normalised ("07" -> "7"); None if none."""
    m = ANSWER.search(text.strip())
    return str(int(m.group(1))) if m else None


def is_correct(text: str, reference: int | str) -> bool:
    return grade(text, reference)[1]


def grade(text: str, reference: int | str) -> tuple[str | None, bool, dict]:
    """(answer, correct, extra) of a response as the world's pools record them; extra holds the vote key."""
    ans = extract_answer(text)
    return ans, ans is not None and int(ans) == int(reference), ({"answer_key": ans} if ans is not None else {})


def grade_pool(pool):
    """(graded copy of `pool`, harness.grading.runner.GradingStats) by this grader: a missing answer is extracted
    from the text, an answer kept as the pool has it; correct when it is the reference's integer; the vote key is the
    answer. A reference that is not an integer makes every response to it wrong (its id is in stats.unparsable)."""
    from harness.grading.runner import GradingStats  # lazy: harness.grading.runner imports math_verify at load
    t0 = time.monotonic()
    stats = GradingStats(problems=len(pool.problems), responses=pool.n_responses)
    problems, pairs, answers = [], set(), set()
    for p in pool.problems:
        ref = _integer(p.reference)
        if ref is None:
            stats.unparsable.append(p.id)
        responses = []
        for r in p.responses:
            ans = r.answer
            if ans is None:
                ans = extract_answer(r.text)
                stats.extracted += ans is not None
            stats.no_answer += ans is None
            correct = ans is not None and ref is not None and _integer(ans) == ref
            if ans is not None:
                pairs.add((p.reference, ans))
                answers.add(ans)
            stats.correct += correct
            extra = {k: v for k, v in r.extra.items() if k != "answer_key"}  # as grade() records: no key, no answer
            responses.append(Response(r.text, ans, correct, extra if ans is None else {**extra, "answer_key": ans}))
        problems.append(replace(p, responses=responses))
    stats.distinct_pairs, stats.distinct_answers = len(pairs), len(answers)
    stats.computed = len(pairs) + len(answers)
    stats.seconds = time.monotonic() - t0
    return Pool(problems, pool.path), stats


def _integer(text) -> int | None:
    try:
        return int(str(text).strip())
    except ValueError:
        return None


def first_error_step(text: str, tree: Node) -> int | None:
    """1-based index of the first step that is not a correct next step of the expression `tree` (any correct order,
    operand order or surface form counts as correct; see grammar.first_error_step); None if none is."""
    return check(text, tree)


def arithmetic_errors(text: str) -> list[int]:
    """1-based indices of steps whose own arithmetic is wrong (a op b != c): real model errors, not injected."""
    bad = []
    for i, s in enumerate(split_steps(text), 1):
        step = parse_step(s.split("\n")[0])
        if step:
            a, op, b, c = step
            true = {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else None}[op]
            if true is None or true != c:
                bad.append(i)
    return bad
