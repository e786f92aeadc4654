"""`harness validate POOL`: check a pool file against the pool format and say what it holds."""

from __future__ import annotations

from harness.cli import arguments, command
from harness.core.pool import load_pool
from harness.core.scores import list_scores


def summarize(pool) -> str:
    """Problems, responses, and how much of the pool carries answers and correctness labels."""
    n = pool.n_responses
    answered = sum(r.answer is not None for p in pool for r in p.responses)
    graded = sum(r.correct is not None for p in pool for r in p.responses)
    correct = sum(r.correct is True for p in pool for r in p.responses)
    text = (f"{len(pool)} problems, {n} responses, graded {graded / n:.1%} (correct labels), "
            f"answers {answered / n:.1%}, generator {pool.generator()}, content hash {pool.content_hash()}")
    if graded:
        text += f"; {correct / graded:.1%} of graded responses correct"
    return text


def _add(p):
    p.add_argument("pool", metavar="POOL", help="pool file (JSON Lines, one problem a line)")


@command("validate", "check a pool file and print problems, responses and graded fraction")
@arguments(_add)
def run(args) -> int:
    pool = load_pool(args.pool)
    print(f"{args.pool}: {summarize(pool)}")
    sets = list_scores(pool.content_hash())
    if sets:
        print("score sets in the cache: " + ", ".join(sorted({s.rm for s in sets})))
    return 0
