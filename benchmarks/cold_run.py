"""A cold `python -m harness run --rm implicit_ce`: empty cache, shipped arith world; where its time goes.

    python benchmarks/cold_run.py [--rm implicit_ce] [--compare results/runs/arith-default-implicit_ce.json]
    python benchmarks/cold_run.py --quick       # the smoke-scale world, built in the empty cache: for a test

Runs the command as a user would, as a subprocess, on a fresh temporary cache (HARNESS_CACHE) and results folder, so
nothing is reused: the world's checksums, training (with its reference pass), scoring of every test pool, selection.
Prints the run file's stage timings (`timings`), their sum against the run's own total, the process's wall and CPU
time (user + sys of the child: on a shared machine wall time includes waiting for a core) and the ratio to the
5-minute target of issue 30. With --compare, also the largest difference of the accuracy rows and AUCs from a
committed run file (0 when the run reproduced it exactly).

The last line is `RESULT {json}` like the other benchmarks. Not a timed test: the target is checked by hand here.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_S = 300.0


def command(rm: str, quick: bool, results: Path, threads: int | None) -> list[str]:
    argv = [sys.executable, "-m", "harness", "run", "--rm", rm, "--results", str(results)]
    if quick:
        argv += ["--scale", "smoke", "--n", "1,2,4"]
    if threads:
        argv += ["--threads", str(threads)]
    return argv


def max_difference(run: dict, ref: dict) -> dict:
    """Largest |difference| of accuracies (rows matched on generator, rm, method, aggregation, n) and of AUCs."""
    def rows(d):
        return {(r["generator"], r["rm"], r["method"], r["aggregation"], r["n"]): r["accuracy"] for r in d["rows"]}
    def aucs(d):
        return {(a["generator"], a["aggregation"]): (a["auc"], a.get("within_auc")) for a in d["auc"]}
    a, b = rows(run), rows(ref)
    ua, ub = aucs(run), aucs(ref)
    return {"rows": len(a), "rows_matched": a.keys() == b.keys(),
            "max_accuracy_diff": max((abs(a[k] - b[k]) for k in a.keys() & b.keys()), default=None),
            "aucs_matched": ua.keys() == ub.keys(),
            "max_auc_diff": max((abs(x - y) for k in ua.keys() & ub.keys() for x, y in zip(ua[k], ub[k])
                                 if x is not None and y is not None), default=None)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rm", default="implicit_ce")
    ap.add_argument("--quick", action="store_true", help="smoke-scale world (built in the empty cache), n up to 4")
    ap.add_argument("--threads", type=int, default=None, help="the run's --threads (default: torch's own)")
    ap.add_argument("--compare", default=None, help="a committed run file to compare accuracies and AUCs with")
    ap.add_argument("--keep", default=None, help="use this (empty or new) folder as the cache and keep it")
    ap.add_argument("--timeout", type=float, default=1800)
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="cold-run-") as tmp:
        cache_dir = Path(args.keep) if args.keep else Path(tmp) / "cache"
        if cache_dir.exists() and any(cache_dir.iterdir()):
            print(f"cache folder {cache_dir} is not empty: a cold run needs an empty one", file=sys.stderr)
            return 2
        results = Path(tmp) / "results"
        argv_run = command(args.rm, args.quick, results, args.threads)
        env = {**os.environ, "HARNESS_CACHE": str(cache_dir), "PYTHONPATH": str(REPO)}
        load = os.getloadavg()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        proc = subprocess.run(argv_run, cwd=REPO, env=env, capture_output=True, text=True, timeout=args.timeout)
        wall = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            print(f"the run failed (exit {proc.returncode})", file=sys.stderr)
            return 1
        run_files = sorted((results / "runs").glob("*.json"))
        if len(run_files) != 1:
            print(f"expected one run file under {results / 'runs'}, found {len(run_files)}", file=sys.stderr)
            return 1
        run = json.loads(run_files[0].read_text())
    timings = run["timings"]
    # every stage the run timed, in its order (the step-level report's validation scoring and figures included)
    stages = [s for s in timings if s.endswith("_s") and s != "total_s"]
    stage_sum = sum(timings[s] for s in stages)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    shown = "python -m harness run " + " ".join(argv_run[4:argv_run.index("--results")]
                                                 + argv_run[argv_run.index("--results") + 2:])
    print(f"command: HARNESS_CACHE=<empty> {shown}")
    print(f"load average at start (1/5/15 min): {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}")
    for s in stages:
        print(f"  {s[:-2]:<10}{timings[s]:8.1f} s")
    print(f"  {'sum':<10}{stage_sum:8.1f} s   (run's own total {timings['total_s']:.1f} s)")
    print(f"process: {wall:.1f} s wall, {cpu:.1f} s CPU (user+sys); target {TARGET_S:.0f} s wall: "
          f"ratio {wall / TARGET_S:.2f}")
    result = {"command": shown, "quick": args.quick, "timings": timings, "stage_sum_s": round(stage_sum, 1),
              "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "target_s": TARGET_S,
              "ratio": round(wall / TARGET_S, 3), "ok": wall <= TARGET_S, "load_avg": [round(x, 2) for x in load],
              "rows": len(run["rows"])}
    if args.compare:
        diff = max_difference(run, json.loads(Path(args.compare).read_text()))
        print(f"against {args.compare}: {json.dumps(diff)}")
        result["compare"] = {"file": args.compare, **diff}
    print("RESULT " + json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
