"""How the cost of scoring and selection grows with the work: 1x, 4x and 16x along one dimension at a time.

    python benchmarks/scaling.py [--threads 2] [--plot results/plots/scaling.png] [--quick]

Dimensions (the others stay at 1x): problems; responses per problem; tokens per response (the same steps, each
written out several times); steps per response (the same text, cut into more steps); implicit reward models
sharing one reference; and, for selection (best-of-N, weighted and majority vote, pass@N at N = 1, 2, 4, ..., 64,
256 Monte Carlo subsets, 1000 bootstrap resamples), responses per problem and problems. Scoring is a cold implicit
PRM score set (`implicit_ce` with a random-init "small" arith policy and reference: speed does not depend on
training) through the harness's chunked, cached path. Each point runs in a fresh process, so its peak memory is its own (maximum
resident set minus the resident set after imports). A fit of log(cost) on log(work) gives the growth exponent:
1 is linear; below 1 a fixed cost (loading the models, process start-up of the workers) is still a large share.
Each scoring point also times bare forwards of the same sequences (one per model pass) in the same process: the
ratio is the harness's share, which must not grow with the work; attention makes the model itself superlinear in
the tokens of one sequence.

The last line is `RESULT {json}` for benchmarks/run_all.py.
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
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

FACTORS = (1, 4, 16)
# The 1x work; a dimension multiplies one entry ("tokens" multiplies repeat, the times each line is written)
BASE = dict(problems=32, responses=8, repeat=1, steps=4, rms=1)
DIMS = {
    "problems": "problems",
    "responses": "responses per problem",
    "tokens": "tokens per response",
    "steps": "steps per response (same tokens)",
    "rms": "implicit PRMs sharing one reference",
    "selection": "responses per problem, selection only (500 problems, 64 at 1x)",
    "selection_problems": "problems, selection only (500 at 1x, 64 responses)",
}


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def scoring_pool(problems: int, responses: int, repeat: int, steps: int):
    """Arith problems with `responses` solutions each; every solution's lines written `repeat` times and cut into
    `steps` steps (lines joined by a newline within a step, a blank line between steps)."""
    from scoring_speed import synthetic_pool

    from harness.core.pool import Pool, Problem, Response
    base = synthetic_pool(problems, responses)
    out = []
    for p in base.problems:
        rs = []
        for r in p.responses:
            lines = [ln for ln in r.text.replace("\n\n", "\n").split("\n") if ln] * repeat
            per = max(1, -(-len(lines) // steps))
            chunks = ["\n".join(lines[i:i + per]) for i in range(0, len(lines), per)]
            rs.append(Response("\n\n".join(chunks), r.answer, r.correct))
        out.append(Problem(p.id, p.problem, p.reference, rs, p.meta))
    return Pool(out)


def point_scoring(dim: str, factor: int) -> dict:
    import torch

    from harness.core import cache
    from reward_models import get_rm
    from reward_models.lm.loading import save_model
    from reward_models.lm.logprobs import STATS
    from tasks.arith.model import make_model
    from tasks.arith.tokenizer import build_tokenizer
    size = dict(BASE)
    key = {"tokens": "repeat"}.get(dim, dim)
    size[key] = size[key] * factor
    work = Path(tempfile.mkdtemp(prefix="scaling-"))
    tok = build_tokenizer()
    ref = work / "ref"
    save_model(make_model(tok, "small", 0, max_positions=4096), tok, ref)
    policies = []
    for k in range(size["rms"]):
        policies.append(work / f"policy{k}")
        save_model(make_model(tok, "small", 1 + k, max_positions=4096), tok, policies[-1])
    pool = scoring_pool(size["problems"], size["responses"], size["repeat"], size["steps"])
    cache.set_root(work / "cache")
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    base_rss = rss_mb()
    t = time.perf_counter()
    for policy in policies:
        get_rm("implicit_ce", model=str(policy), ref=str(ref), progress=False).score(pool)
    seconds = time.perf_counter() - t
    peak = rss_mb() - base_rss
    tokens = STATS["tokens"]
    # The model's own cost on the same work: bare forwards of every sequence, one per model pass the scoring made
    # (policies + the shared reference), in the scorer's batches. Their ratio is the harness's share.
    from reward_models.lm.loading import load_causal_lm
    from reward_models.lm.logprobs import collate, encode_pool, make_batches
    model, _ = load_causal_lm(ref)
    encs = encode_pool(tok, pool)
    batches = [collate([encs[i] for i in idx], tok.pad_token_id, "left")
               for idx in make_batches([len(e.ids) for e in encs], 32)]
    t = time.perf_counter()
    with torch.inference_mode():
        for _ in range(size["rms"] + 1):
            for b in batches:
                model(input_ids=b["input_ids"], attention_mask=b["attention_mask"],
                      position_ids=b["position_ids"], use_cache=False)
    bare = time.perf_counter() - t
    return {"seconds": seconds, "bare_seconds": bare, "peak_mb": peak, "tokens": tokens, "size": size,
            "responses": pool.n_responses}


def point_selection(dim: str, factor: int) -> dict:
    """Best-of-N, weighted and majority vote, pass@N at N = 1, 2, 4, ..., 64 (the same columns at every size)."""
    import numpy as np

    from harness.core.pool import Pool, Problem, Response
    from harness.core.scores import ScoreSet
    from harness.evaluation.leaderboard import Options, evaluate_pool
    n = 64 * factor if dim == "selection" else 64
    rng = np.random.default_rng(0)
    problems, steps = [], []
    for i in range(500 * factor if dim == "selection_problems" else 500):
        groups = rng.choice(10, n, p=rng.dirichlet(np.ones(10)))
        correct = groups == int(rng.integers(10))
        problems.append(Problem(f"p{i}", f"problem {i}", "x", [Response(f"r{j}", str(g), bool(c))
                                                              for j, (g, c) in enumerate(zip(groups, correct))],
                                {"generator": "synthetic", "task": "bench"}))
        steps.append([[float(s)] for s in rng.normal(size=n) + 0.8 * correct])
    pool = Pool(problems)
    ss = ScoreSet("synthetic_rm", pool.content_hash(), steps)
    ns = [1, 2, 4, 8, 16, 32, 64]
    base_rss = rss_mb()
    times = []
    for _ in range(2):  # the faster of two: a single timing of a few seconds is noisy on a shared machine
        t = time.perf_counter()
        evaluate_pool(pool, [ss], Options(ns=ns, mc_samples=256, bootstrap=1000), ns)
        times.append(time.perf_counter() - t)
    return {"seconds": min(times), "peak_mb": rss_mb() - base_rss, "responses": pool.n_responses}


def fit(factors, values) -> float | None:
    import numpy as np
    x, y = np.log(np.asarray(factors, float)), np.asarray(values, float)
    if (y <= 0).any():
        return None
    return float(np.polyfit(x, np.log(y), 1)[0])


def run_point(dim: str, factor: int, threads: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, __file__, "--point", dim, str(factor)], capture_output=True, text=True,
                          env=env, cwd=REPO)
    if proc.returncode != 0:
        raise SystemExit(f"{dim} x{factor} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def plot(results: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for dim, pts in results.items():
        f = [p["factor"] for p in pts]
        axes[0].plot(f, [p["seconds"] for p in pts], marker="o", label=DIMS[dim])
        axes[1].plot(f, [max(p["peak_mb"], 0.1) for p in pts], marker="o", label=DIMS[dim])
    for ax, what, key in zip(axes, ("seconds", "peak memory over the baseline (MiB)"), ("seconds", "peak_mb")):
        y0 = min(max(pts[0][key], 0.1) for pts in results.values())
        ax.plot(FACTORS, [y0 * f for f in FACTORS], "k:", label="linear (slope 1)")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("work (x the base size)")
        ax.set_ylabel(what)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle("cost against work size (benchmarks/scaling.py)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--plot", type=Path, default=None, help="write the log-log plot here (PNG)")
    ap.add_argument("--only", default=",".join(DIMS), help="comma-separated dimensions")
    ap.add_argument("--quick", action="store_true", help="1x and 4x only")
    ap.add_argument("--point", nargs=2, metavar=("DIM", "FACTOR"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.point:
        dim, factor = args.point[0], int(args.point[1])
        print(json.dumps(point_selection(dim, factor) if dim.startswith("selection") else
                         point_scoring(dim, factor)))
        return 0
    from tabulate import tabulate
    factors = FACTORS[:2] if args.quick else FACTORS
    results, rows, fits = {}, [], {}
    for dim in [d.strip() for d in args.only.split(",") if d.strip()]:
        results[dim] = []
        for f in factors:
            r = run_point(dim, f, args.threads)
            results[dim].append({"factor": f, **r})
            bare = r.get("bare_seconds")
            rows.append([DIMS[dim], f"{f}x", r.get("responses"), r.get("tokens", ""), f"{r['seconds']:.2f}",
                         "" if bare is None else f"{bare:.2f}", "" if bare is None else f"{r['seconds'] / bare:.2f}",
                         f"{r['peak_mb']:.0f}"])
            print(f"[scaling] {dim} x{f}: {r['seconds']:.2f} s", file=sys.stderr, flush=True)
        secs = [p["seconds"] for p in results[dim]]
        fits[dim] = {"time_exponent": fit(factors, secs),
                     "time_exponent_last": fit(factors[-2:], secs[-2:]),  # where fixed costs weigh least
                     "memory_exponent": fit(factors, [max(p["peak_mb"], 1e-3) for p in results[dim]])}
        if not dim.startswith("selection"):  # the harness's share: k = 0 when scoring is a fixed multiple of the model
            fits[dim]["overhead_exponent"] = fit(factors, [p["seconds"] / p["bare_seconds"] for p in results[dim]])
    print(tabulate(rows, headers=["dimension", "work", "responses", "tokens forwarded", "seconds",
                                  "bare forwards (s)", "x bare", "peak MiB over baseline"], tablefmt="github"))
    print()
    print(tabulate([[DIMS[d], _e(v["time_exponent"]), _e(v["time_exponent_last"]), _e(v.get("overhead_exponent")),
                     _e(v["memory_exponent"])] for d, v in fits.items()],
                   headers=["dimension", "time ~ work^k: k over all points", f"k from {factors[-2]}x to {factors[-1]}x",
                            "(time / bare forwards) ~ work^k: k", "peak memory ~ work^k: k"], tablefmt="github"))
    if args.plot:
        plot(results, args.plot)
        print(f"\nplot: {args.plot}")
    # Selection and scoring in problems and responses must be linear in time. Along tokens per response the model
    # itself is not (attention is quadratic in the sequence), so there the harness's share must not grow.
    linear = {d: v["time_exponent_last"] is not None and v["time_exponent_last"] <= 1.15
              for d, v in fits.items() if d in ("selection", "selection_problems", "responses", "problems")}
    if "tokens" in fits:
        k = fits["tokens"]["overhead_exponent"]
        linear["tokens"] = k is not None and k <= 0.15
    print("RESULT " + json.dumps({"points": results, "fits": fits, "linear": linear, "ok": all(linear.values())}))
    return 0


def _e(x) -> str:
    return "n/a" if x is None else f"{x:.2f}"


if __name__ == "__main__":
    sys.exit(main())
