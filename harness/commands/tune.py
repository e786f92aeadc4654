"""`harness tune --rm NAME --grid lr=1e-4,3e-4,1e-3`: choose training hyper-parameters on the validation split.

Each candidate is trained (cached like any checkpoint) on the RM-training rollouts, optionally a fraction of the
instructions to keep the sweep cheap, then scores the validation rollouts (never the test pools) and is judged by
what selection uses: the within-problem ROC AUC of the score the run selects with (the `--aggregation` of its step
rewards, min by default), i.e. how well it ranks the responses to one problem. The pooled AUC of the outcome reward
(the trainer's own validation figure) is shown beside it; it also rewards knowing which problems are hard, which
best-of-N never asks. The table and the chosen value go to stdout and, with --results, to DIR/tuning/.
"""

from __future__ import annotations

import itertools
import json
import time

from harness.cli import arguments, command
from harness.core.errors import InputError


def _add(p):
    from harness.commands.run import add_rm_arguments
    add_rm_arguments(p)
    p.add_argument("--grid", action="append", required=True, metavar="KEY=V1,V2,...",
                   help="option values to try; repeat for a product grid")
    p.add_argument("--fraction", type=float, default=1.0, help="fraction of RM-training instructions to train on")
    p.add_argument("--results", default=None, help="write DIR/tuning/<task>-<rm>.{md,json}")
    p.add_argument("--aggregation", default="min",
                   help="step aggregation the candidates are judged by (the one the runs select with; default min)")


def selection_auc(score_set, pool, aggregation: str) -> float | None:
    """Within-problem ROC AUC of the aggregated scores on `pool` (None when no problem has both classes)."""
    from harness.evaluation.auc import roc_auc_ci
    return roc_auc_ci(score_set.aggregate(aggregation), [[r.correct for r in p.responses] for p in pool.problems],
                      n_boot=0)["within_auc"]


def parse_grid(items: list[str]) -> dict[str, list[str]]:
    grid = {}
    for item in items:
        if "=" not in item:
            raise InputError(f"cannot read '{item}'", field="--grid", expected="KEY=V1,V2,...")
        k, vals = item.split("=", 1)
        grid[k.strip().replace("-", "_")] = [v for v in vals.split(",") if v]
    return grid


@command("tune", "choose reward-model training options by validation within-problem AUC (never on test)")
@arguments(_add)
def run(args) -> int:
    from harness.commands.run import stage_config
    from harness.core import cache
    from harness.core.pool import Pool
    from harness.flow.run import resolve_inputs
    from reward_models import get_rm

    if not 0 < args.fraction <= 1:
        raise InputError(f"{args.fraction} is not in (0, 1]", field="--fraction")
    results_dir = args.results
    aggregation = args.aggregation
    cfg = stage_config(args)  # sets args.aggregation to min for the stage: keep the one given
    args.aggregation = aggregation
    inputs = resolve_inputs(cfg, print)
    if inputs.train_pool is None or inputs.val_pool is None or inputs.base_model is None:
        raise InputError("tuning needs RM-training and validation rollouts and a base model",
                         field="--train-pool/--val-pool/--base")
    k = max(1, round(args.fraction * len(inputs.train_pool)))
    train = Pool(inputs.train_pool.problems[:k], inputs.train_pool.path)
    grid = parse_grid(args.grid)
    rows = []
    for values in itertools.product(*grid.values()):
        opts = {**cfg.rm_options, **dict(zip(grid, values))}
        rm = get_rm(cfg.rm, **opts)
        t = time.time()
        ckpt = rm.fit(train, inputs.base_model, inputs.val_pool)
        metrics = cache.read_json(ckpt / "metrics.json")
        within = selection_auc(rm.score(inputs.val_pool), inputs.val_pool, args.aggregation)
        rows.append({**dict(zip(grid, values)), "val_within_auc": within, "val_auc": metrics.get("val_auc"),
                     "final_loss": metrics["loss"][-1] if metrics.get("loss") else None,
                     "steps": metrics.get("steps"), "seconds": round(time.time() - t, 1), "checkpoint": ckpt.name})
        print(json.dumps(rows[-1]))
    best = max(rows, key=lambda r: -1 if r["val_within_auc"] is None else r["val_within_auc"])
    from tabulate import tabulate
    table = tabulate([[r[k] for k in grid] + [r["val_within_auc"], r["val_auc"], r["final_loss"], r["steps"],
                                              r["seconds"]] for r in rows],
                     list(grid) + [f"val within-problem AUC ({args.aggregation})", "val pooled AUC (outcome)",
                                   "final loss", "steps", "s (0 = cached)"], tablefmt="github", floatfmt=".4f")
    chosen = {k: best[k] for k in grid}
    print(table)
    print("chosen: " + " ".join(f"--set {k}={v}" for k, v in chosen.items()))
    if results_dir:
        from pathlib import Path
        stem = Path(results_dir) / "tuning" / f"{cfg.task}-{cfg.scale}-{cfg.rm}"
        cmd = (f"python -m harness tune --rm {cfg.rm} " + " ".join(f"--grid {g}" for g in args.grid)
               + (f" --aggregation {args.aggregation}" if args.aggregation != "min" else "")
               + f" --fraction {args.fraction}" + "".join(f" --set {k}={v}" for k, v in cfg.rm_options.items()))
        world = f" (world `{inputs.world}`)" if inputs.world else ""
        md = (f"# Tuning {cfg.rm} ({cfg.task}, {cfg.scale} scale)\n\nCommand: `{cmd}`\n\n"
              f"Trained on {k} of {len(inputs.train_pool)} RM-training instructions ({train.n_responses} rollouts); "
              f"chosen by the within-problem ROC AUC of the `{args.aggregation}`-aggregated step rewards (what "
              f"best-of-N ranks by) on {inputs.val_pool.n_responses} validation rollouts{world}; the pooled AUC of "
              "the outcome reward is shown beside it.\n\n"
              + table + f"\n\nChosen: {chosen}\n")
        cache.write_text_atomic(stem.with_suffix(".md"), md)
        cache.write_json_atomic(stem.with_suffix(".json"), {"rows": rows, "chosen": chosen, "command": cmd,
                                                            "world": inputs.world}, indent=2)
        # The chosen options as a --config file: `run --rm NAME --config <stem>.options.json` reproduces the run.
        cache.write_json_atomic(stem.with_name(stem.name + ".options.json"), {**cfg.rm_options, **chosen}, indent=2)
    return 0
