"""Grading throughput on a real pool, cold and warm, and the verifier calls the per-answer caching saves.

    python benchmarks/grading_speed.py [--data ../shared/data] [--problems 100] [--workers 1] [--timeout 5]

The pool is Qwen2.5-Math's rm_maj example (../shared/data/qwen25math_rm_maj/math_cot_100.jsonl: 100 MATH problems x
8 responses), imported with the qwen-rm-maj importer; its published extracted answers are dropped so the grader
extracts every answer from the response text itself, as `harness grade` does on a freshly generated pool. It is graded
(harness.grading.grade_pool_with_stats, the code behind `harness grade`) twice with a verdict cache in a temporary
folder: cold (empty cache) and warm (the same cache again, as a re-run does).

Calls: a grader without caching verifies every response against its reference and computes every response's vote
key: 2 calls a response. The runner makes one call per distinct (reference, answer) pair and per distinct answer
(the per-answer cache within a run); the sqlite verdict cache (harness/grading/verdict_cache.py) makes a re-run's
calls lookups.

The last line is `RESULT {json}` for benchmarks/run_all.py.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def load(data: Path, problems: int):
    from harness.core.pool import Pool, Response
    from harness.importers import IMPORTERS, ImportOptions
    src = data / "qwen25math_rm_maj" / "math_cot_100.jsonl"
    if not src.exists():
        sys.exit(f"grading_speed: {src} not found (pass --data, the folder holding qwen25math_rm_maj/)")
    imported = IMPORTERS.get("qwen-rm-maj")([src], ImportOptions())
    probs = [replace(p, responses=[Response(r.text) for r in p.responses]) for p in imported.problems[:problems]]
    return Pool(probs), src


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--problems", type=int, default=100)
    ap.add_argument("--workers", type=int, default=1, help="as `harness grade --workers` (0: in this process)")
    ap.add_argument("--timeout", type=float, default=5.0)
    args = ap.parse_args(argv)

    from tabulate import tabulate

    from harness.grading import grade_pool_with_stats
    pool, src = load(args.data, args.problems)
    n = pool.n_responses
    rows, figures = [], {}
    with tempfile.TemporaryDirectory(prefix="grading-speed-") as tmp:
        db = Path(tmp) / "verdicts.sqlite"
        graded = None
        for run in ("cold", "warm"):
            t = time.perf_counter()
            out, st = grade_pool_with_stats(pool, workers=args.workers, timeout=args.timeout, cache_path=db,
                                            progress=False)
            secs = time.perf_counter() - t
            if graded is None:
                graded = out
            same = [(r.answer, r.correct) for p in out.problems for r in p.responses] == \
                   [(r.answer, r.correct) for p in graded.problems for r in p.responses]
            figures[run] = {"seconds": secs, "answers_per_s": n / secs, "computed": st.computed,
                            "cache_hits": st.cache_hits, "distinct_pairs": st.distinct_pairs,
                            "distinct_answers": st.distinct_answers, "timeouts": st.timeouts,
                            "accuracy": st.accuracy, "same_verdicts": same}
            rows.append([run, secs, n / secs, 2 * n, st.computed, 2 * n - st.computed, st.cache_hits, st.timeouts,
                         f"{st.accuracy:.3f}"])
    print(f"pool: {src.name}, {len(pool.problems)} problems, {n} responses (answers extracted from the text); "
          f"workers {args.workers}, timeout {args.timeout}s\n")
    print(tabulate(rows, headers=["run", "seconds", "answers/s", "calls without caching", "calls made",
                                  "calls saved", "cache hits", "timeouts", "accuracy"],
                   floatfmt=("", ".2f", ".0f")))
    ok = figures["warm"]["computed"] == 0 and figures["warm"]["same_verdicts"]
    speed = figures["cold"]["seconds"] / figures["warm"]["seconds"]
    print(f"\nwarm re-run: {figures['warm']['computed']} calls made, same verdicts: "
          f"{'yes' if figures['warm']['same_verdicts'] else 'NO'}, {speed:.0f}x faster than cold")
    print("RESULT " + json.dumps({"benchmark": "grading_speed", "args": {**vars(args), "data": str(args.data)},
                                  "responses": n, "figures": figures, "warm_speedup": speed, "ok": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
