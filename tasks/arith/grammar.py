"""The distribution over correct solution texts of an arith problem, and the step checker that reads any of them.

Real pools hold many distinct correct texts per problem (80-90% of the correct responses in the OVM GSM8K and
Qwen2.5-Math MATH pools are distinct), so a generator must learn more than one way to be right. A solution is drawn
from a small grammar, each choice uniform (so sampling at any temperature keeps every variant equally likely once
learned):

- the order of the steps: any order that computes each operation after its operands (a random topological order);
- the operand order of + and *: "a + b" or "b + a";
- the surface form of each step (STEP_FORMS) and of the final line (FINAL_FORMS).

    Step 1: 4 * 5 is 20

    Step 2: 3 + 20 gives 23

    So the answer is 23

Grading stays by value (problems.is_correct); `first_error_step` checks each step against the expression tree,
not against one reference text, so any correct variant has no error.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Iterator

from harness.core.steps import split_steps

STEP_FORMS = ("{a} {op} {b} = {c}", "{a} {op} {b} is {c}", "{a} {op} {b} gives {c}", "Now {a} {op} {b} = {c}")
FINAL_FORMS = ("The answer is {v}", "So the answer is {v}", "The final answer is {v}", "Answer: {v}",
               "Therefore, the answer is {v}", "Final answer: {v}")
COMMUTATIVE = "+*"

_STEP = re.compile(r"^Step (\d+): (?:Now )?(\d+) ([-+*/]) (\d+) (?:=|is|gives) (-?\d+)$")
ANSWER = re.compile(r"(?:answer is|[Aa]nswer:) (-?\d+)\s*$")  # every FINAL_FORM, nothing after the number


def op_nodes(tree) -> list:
    """The operation nodes in post-order (the canonical step order: bottom-up, left to right)."""
    out: list = []

    def walk(n) -> None:
        if n.op is not None:
            walk(n.left)
            walk(n.right)
            out.append(n)

    walk(tree)
    return out


def _parents(nodes: list) -> tuple[list[list[int]], list[int | None]]:
    """For each node (by index in `nodes`), the indices of its operation children, and its parent's index."""
    index = {id(n): i for i, n in enumerate(nodes)}
    kids = [[index[id(c)] for c in (n.left, n.right) if c.op is not None] for n in nodes]
    parent: list[int | None] = [None] * len(nodes)
    for i, ks in enumerate(kids):
        for k in ks:
            parent[k] = i
    return kids, parent


def orders(tree) -> Iterator[list]:
    """Every order of the operation nodes that computes each one after its operands (each exactly once)."""
    nodes = op_nodes(tree)
    kids, _ = _parents(nodes)

    def extend(done: list[int]) -> Iterator[list[int]]:
        if len(done) == len(nodes):
            yield done
            return
        for i in range(len(nodes)):
            if i not in done and all(k in done for k in kids[i]):
                yield from extend(done + [i])

    for order in extend([]):
        yield [nodes[i] for i in order]


def render_step(node, form: int, swap: bool) -> str:
    a, b = node.left.value, node.right.value
    if swap and node.op in COMMUTATIVE:
        a, b = b, a
    return STEP_FORMS[form].format(a=a, op=node.op, b=b, c=node.value)


def render(steps: list[str], answer: int | str, final: int = 0) -> str:
    return "".join(f"Step {i}: {s}\n\n" for i, s in enumerate(steps, 1)) + FINAL_FORMS[final].format(v=answer)


def sample_solution(tree, rng: random.Random) -> str:
    """One draw from the grammar: a random topological order, operand orders, step forms and final form."""
    nodes = op_nodes(tree)
    kids, _ = _parents(nodes)
    done: list[int] = []
    while len(done) < len(nodes):
        ready = [i for i in range(len(nodes)) if i not in done and all(k in done for k in kids[i])]
        done.append(rng.choice(ready))
    steps = [render_step(nodes[i], rng.randrange(len(STEP_FORMS)), rng.random() < 0.5) for i in done]
    return render(steps, tree.value, rng.randrange(len(FINAL_FORMS)))


def all_solutions(tree) -> Iterator[str]:
    """Every text the grammar can produce for `tree` (for tests and counting; grows fast with the operations)."""
    for order in orders(tree):
        per_step = [[render_step(n, f, s) for f in range(len(STEP_FORMS))
                     for s in ((False, True) if n.op in COMMUTATIVE else (False,))] for n in order]
        for steps in itertools.product(*per_step):
            for final in range(len(FINAL_FORMS)):
                yield render(list(steps), tree.value, final)


def count_solutions(tree) -> int:
    per_order = 1
    for n in op_nodes(tree):
        per_order *= len(STEP_FORMS) * (2 if n.op in COMMUTATIVE else 1)
    return sum(1 for _ in orders(tree)) * per_order * len(FINAL_FORMS)


def parse_step(line: str) -> tuple[int, str, int, int] | None:
    """(a, op, b, c) of a step line "Step k: ... a op b = c" in any STEP_FORM; None if it is not one."""
    m = _STEP.match(line.strip())
    return (int(m.group(2)), m.group(3), int(m.group(4)), int(m.group(5))) if m else None


def first_error_step(text: str, tree) -> int | None:
    """1-based index of the first step that is not a correct next step of `tree`; None if every step is.

    A step is correct when it computes, with the right result, an operation whose operands are already known (the
    operands in the expression's order, or swapped for + and *). A response that stops before the last operation
    errs at the step after its last one; one whose steps are all correct but whose final line is wrong has None.
    """
    nodes = op_nodes(tree)
    kids, _ = _parents(nodes)
    done: set[int] = set()
    got = [s.split("\n")[0].strip() for s in split_steps(text)]
    # The final line shares the last step's span (or is the only span): it is no step of its own.
    got = [g for g in got if not ANSWER.search(g) or parse_step(g)]
    for k, line in enumerate(got, 1):
        step = parse_step(line)
        if step is None:
            return k
        a, op, b, c = step
        match = next((i for i, n in enumerate(nodes) if i not in done and all(j in done for j in kids[i])
                      and n.op == op and n.value == c
                      and ((a, b) == (n.left.value, n.right.value)
                           or (op in COMMUTATIVE and (b, a) == (n.left.value, n.right.value)))), None)
        if match is None:
            return k
        done.add(match)
    return None if len(done) == len(nodes) else len(got) + 1
