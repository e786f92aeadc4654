"""What the search pools hold, beside the sampled pools: diversity and step correctness of the N solutions.

    python benchmarks/search_diversity.py [--cache .cache/harness] [--rm implicit_ce] [--problems 500]

Reads every search pool in the cache (<cache>/search/*.jsonl; no model is run) and the shipped world's sampled test
pools. For each generator, source (sampling, beam, dvts) and N: distinct final answers and distinct texts among a
problem's N solutions, the fraction of solutions whose every step is a correct next step (the arith step checker,
tasks/arith/grammar.first_error_step), the fraction with a right answer after a wrong step, and pass@N. Sampled
pools are read as their first N responses. The last line is `RESULT {json}`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def solution_stats(problems, trees, n: int | None = None) -> dict:
    import numpy as np

    from tasks.arith.grammar import first_error_step
    answers, texts, clean, lucky, solved = [], [], [], [], []
    for p in problems:
        rs = p.responses[:n] if n else p.responses
        answers.append(len({r.answer for r in rs if r.answer is not None}))
        texts.append(len({r.text for r in rs}) / len(rs))
        flaws = [first_error_step(r.text, trees[p.id]) is not None for r in rs]
        clean.append(np.mean([not f for f in flaws]))
        lucky.append(np.mean([f and bool(r.correct) for f, r in zip(flaws, rs)]))
        solved.append(any(r.correct for r in rs))
    return {"problems": len(problems), "distinct_answers": float(np.mean(answers)),
            "distinct_texts": float(np.mean(texts)), "all_steps_right": float(np.mean(clean)),
            "right_after_wrong_step": float(np.mean(lucky)), "pass@N": float(np.mean(solved))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default=".cache/harness")
    ap.add_argument("--rm", default="implicit_ce")
    ap.add_argument("--problems", type=int, default=None, help="only search pools of this many problems")
    args = ap.parse_args(argv)
    from harness.core import cache
    from harness.core.pool import load_pool
    from tasks.arith import frozen
    from tasks.arith.problems import generate_problems
    cache.set_root(args.cache)
    trees = {p.id: p.tree for p in generate_problems(0, 500, 2, 5, prefix="test/")}
    found: dict = {}
    for path in sorted((Path(args.cache) / "search").glob("*.jsonl")):
        pool = load_pool(path)
        meta = pool.problems[0].meta
        s = meta["search"]
        if s.get("rm") not in (args.rm, None):
            continue
        if args.problems is None or len(pool.problems) == args.problems:
            found.setdefault((meta["generator"], s["method"], s["n"], len(pool.problems)), pool)
    out = []
    for (gen, method, n, k), pool in sorted(found.items()):
        sampled = load_pool(frozen.pool_path(f"test-{gen}")).problems[:k]
        base = {"generator": gen, "source": "sampling", "n": n, **solution_stats(sampled, trees, n)}
        row = {"generator": gen, "source": method, "n": n, **solution_stats(pool.problems, trees)}
        for r in (base, row):
            if r not in out:
                out.append(r)
    keys = ["problems", "distinct_answers", "distinct_texts", "all_steps_right", "right_after_wrong_step", "pass@N"]
    print("| generator | source | N | " + " | ".join(keys) + " |")
    print("|---" * (3 + len(keys)) + "|")
    for r in sorted(out, key=lambda r: (r["generator"], r["source"] != "sampling", r["source"], r["n"])):
        print(f"| {r['generator']} | {r['source']} | {r['n']} | " + " | ".join(
            f"{r[k]:.3f}" if isinstance(r[k], float) else str(r[k]) for k in keys) + " |")
    print("RESULT " + json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
