"""AutoPSV's step labels under its threshold and others, read from a trained `autopsv` checkpoint's cached verifier
confidences (no model is run): how often the outcome verifier's confidence falls by a given fraction in one step.

    python benchmarks/autopsv_labels.py [--cache .cache/harness] [--checkpoint DIR] [--pool RM_TRAIN_POOL]
                                        [--thresholds=-0.5,-0.3,-0.2,-0.1]

For each threshold: the fraction of steps labelled '+', of incorrect and of correct responses with at least one '-',
and the agreement with the first wrong step where the pool records it (arith: extra.error_step), the statistic
math_shepherd's metrics report for its MC labels. Also the largest one-step relative drop of each response (median
and 10th percentile, correct vs incorrect). A diagnostic of the labels the paper's theta = -0.5 gives, not a tuner.
The last line is `RESULT {json}`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def label_stats(pool, values, threshold: float) -> dict:
    from reward_models.autopsv import sigmoid, step_labels
    steps = plus = agree = total = 0
    flagged = {True: 0, False: 0}
    count = {True: 0, False: 0}
    for p, vals in zip(pool.problems, values):
        for r, v in zip(p.responses, vals):
            lab = step_labels([sigmoid(x) for x in v], threshold)
            steps, plus = steps + len(lab), plus + sum(lab)
            ok = bool(r.correct)
            count[ok] += 1
            flagged[ok] += not all(lab)
            err = r.extra.get("error_step") if not ok else None
            if err is not None:
                total += len(lab)
                agree += sum(h == (t + 1 < err) for t, h in enumerate(lab))
    return {"threshold": threshold, "positive_fraction": plus / max(1, steps),
            "incorrect_with_a_minus": flagged[False] / max(1, count[False]),
            "correct_with_a_minus": flagged[True] / max(1, count[True]),
            "agreement_with_first_error": agree / total if total else None}


def largest_drops(pool, values) -> dict:
    import numpy as np

    from reward_models.autopsv import sigmoid
    drops = {True: [], False: []}
    for p, vals in zip(pool.problems, values):
        for r, v in zip(p.responses, vals):
            c = [sigmoid(x) for x in v]
            drops[bool(r.correct)].append(min((b - a) / a for a, b in zip(c[:-1], c[1:])))
    return {("correct" if k else "incorrect"): {"median": float(np.median(d)), "p10": float(np.percentile(d, 10))}
            for k, d in drops.items() if d}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache", default=".cache/harness")
    ap.add_argument("--checkpoint", default=None, help="an autopsv checkpoint (default: the newest in the cache)")
    ap.add_argument("--pool", default=None, help="its RM-training pool (default: the cache's arith rm_train-mid)")
    ap.add_argument("--thresholds", default="-0.5,-0.3,-0.2,-0.1")
    a = ap.parse_args(argv)
    from harness.core import cache
    from harness.core.errors import InputError
    from harness.core.pool import load_pool
    root = Path(a.cache)
    cache.set_root(root)
    ckpts = [Path(a.checkpoint)] if a.checkpoint else sorted((root / "checkpoints").glob("autopsv-*"),
                                                              key=lambda p: p.stat().st_mtime)
    if not ckpts:
        raise SystemExit(f"no autopsv checkpoint under {root / 'checkpoints'}: run `python -m harness run --rm autopsv`")
    record = cache.read_json(ckpts[-1] / "train_config.json")
    conf = cache.read_json_checked(root / "autopsv_confidences" / f"{record['confidences']}.json")
    if conf is None:
        raise SystemExit(f"the confidences {record['confidences']} of {ckpts[-1]} are not in the cache")
    pools = [Path(a.pool)] if a.pool else sorted(root.glob("arith/*/pools/rm_train-mid.jsonl"))
    pool = next((p for p in map(load_pool, pools) if p.content_hash() == record["train_pool_hash"]), None)
    if pool is None:
        raise InputError("no pool with the checkpoint's training pool hash", file=", ".join(map(str, pools)) or root,
                         expected=f"the RM-training pool {record['train_pool_hash']} (--pool PATH)")
    out = {"checkpoint": ckpts[-1].name, "largest_drop": largest_drops(pool, conf["values"]),
           "thresholds": [label_stats(pool, conf["values"], float(t)) for t in a.thresholds.split(",")]}
    for k, v in out["largest_drop"].items():
        print(f"largest one-step relative drop, {k} responses: median {v['median']:.3f}, 10th percentile "
              f"{v['p10']:.3f}")
    print("| theta | '+' steps | incorrect with a '-' | correct with a '-' | agreement with first error |")
    print("|---:|---:|---:|---:|---:|")
    for s in out["thresholds"]:
        agree = "-" if s["agreement_with_first_error"] is None else f"{s['agreement_with_first_error']:.3f}"
        print(f"| {s['threshold']:g} | {s['positive_fraction']:.3f} | {s['incorrect_with_a_minus']:.3f} | "
              f"{s['correct_with_a_minus']:.3f} | {agree} |")
    print("RESULT " + json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
