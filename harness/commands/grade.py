"""`harness grade POOL [-o OUT] [--workers N] [--timeout S] [--strict]`: fill answer, correct and answer_key of every
response.

The grader is the pool's task's (tasks.pool_task: the task every problem names in its meta, e.g. arith's exact
integer grader for the arith world's pools, else MATH's math-verify grader); --task names another. Without -o the
pool file is replaced atomically. A reference that does not parse (a cut-off "\\frac{1}{") makes
every response to its problem wrong: `grade` counts such references and names each (file, line, id) in a warning on
stderr; with --strict it writes nothing and exits 2. MATH's verdicts are cached per (grader version, reference,
answer), so re-grading a pool, or grading another pool with the same answers, computes nothing twice.
"""

from __future__ import annotations

import sys

from harness.cli import arguments, command
from harness.core.errors import InputError
from harness.core.pool import iter_json_lines, load_pool, save_pool
from tasks import get_task, pool_task


def _add(p):
    p.add_argument("pool", metavar="POOL", help="pool file (JSON Lines, one problem a line)")
    p.add_argument("-o", "--output", default=None, metavar="OUT", help="graded pool to write (default: replace POOL)")
    p.add_argument("--task", default=None, metavar="TASK",
                   help="the task whose grader grades the pool (default: the task its problems name, else MATH's)")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="grading worker processes (default 1; 0 grades in this process, without a hard deadline)")
    p.add_argument("--timeout", type=float, default=5.0, metavar="S",
                   help="seconds one comparison may take before it counts as wrong (default 5)")
    p.add_argument("--fallback-number", action="store_true",
                   help="when a response states no answer, take its last number (GSM8K-style; the gsm8k task's "
                        "grader always does)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--strict", action="store_true",
                   help="refuse a pool with a reference that does not parse (exit 2, nothing written)")


def summary_lines(pool, stats) -> list[str]:
    sizes = {len(p.responses) for p in pool.problems}
    n_label = f"pass@{sizes.pop()}" if len(sizes) == 1 else "pass@all"
    passed = sum(any(r.correct for r in p.responses) for p in pool.problems)
    return [
        f"{stats.problems} problems, {stats.responses} responses; accuracy {stats.accuracy:.1%}, "
        f"{n_label} {passed / max(stats.problems, 1):.1%}",
        f"answers: {stats.responses - stats.no_answer} ({stats.extracted} extracted now), none: {stats.no_answer}",
        f"calls: {stats.distinct_pairs} distinct (reference, answer) pairs, {stats.distinct_answers} distinct answers; "
        f"cache hits {stats.cache_hits}, computed {stats.computed}, timeouts {stats.timeouts}"
        + (f", errors {stats.errors}" if stats.errors else "") + f"; {stats.seconds:.1f} s",
    ]


def unparsable_lines(path, ids: list[str]) -> list[tuple[int, str]]:
    """(line, id) in the pool file of each problem id in `ids`, in that order."""
    lines = {str(rec.get("id")): i for i, rec in iter_json_lines(path) if isinstance(rec, dict)}
    return [(lines.get(pid), pid) for pid in ids]


@command("grade", "extract answers, decide correctness and vote keys of every response in a pool")
@arguments(_add)
def run(args) -> int:
    if args.workers < 0:
        raise InputError("must be 0 or more", field="--workers", expected="a worker count")
    if not args.timeout > 0:
        raise InputError("must be positive", field="--timeout", expected="seconds > 0")
    task = get_task(args.task) if args.task else None
    pool = load_pool(args.pool)
    graded, stats = (task or pool_task(pool)).grade_pool(pool, workers=args.workers, timeout=args.timeout,
                                                         fallback_number=args.fallback_number,
                                                         progress=False if args.no_progress else None)
    if stats.unparsable:
        where = unparsable_lines(args.pool, stats.unparsable)
        if args.strict:
            first = stats.unparsable[0]
            more = f" (and {len(stats.unparsable) - 1} more: {where[1:]})" if len(stats.unparsable) > 1 else ""
            raise InputError(f"reference of problem id {first!r} does not parse{more}", file=args.pool,
                             line=where[0][0], field="reference", expected="an answer the grader can read")
        print(f"warning: {len(stats.unparsable)} reference(s) do not parse, so every response to them is graded "
              "wrong: " + "; ".join(f"{args.pool}:{line} id {pid!r}" for line, pid in where), file=sys.stderr)
    out = args.output or args.pool
    save_pool(graded, out)
    for line in summary_lines(graded, stats):
        print(line)
    print(f"wrote {out}")
    return 0
