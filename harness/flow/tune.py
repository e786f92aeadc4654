"""Tuning: each candidate of a grid of reward-model options is trained (cached like any checkpoint) on the
RM-training rollouts, optionally a fraction of the instructions to keep the sweep cheap, then scores the validation
rollouts (never the test pools) and is judged by what selection uses: the within-problem ROC AUC of the score the run
selects with (the aggregation of its step rewards, min by default). The table and the chosen value go to stdout and,
with `results`, to <results>/tuning/, which `run` then starts from (`tuned_options`)."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

from tabulate import tabulate

from harness.core import cache
from harness.core.pool import Pool
from harness.evaluation.auc import roc_auc_ci
from harness.flow.prepare import load_options_file
from reward_models import get_rm
from tasks import TASKS

# The tuning budget every trained reward model gets, defined once: the same grid points over learning rate and
# epochs (options every trained adapter has: `lr` and `epochs` of what it trains last, the step-tag PRM for
# math_shepherd and autopsv), the same share of the RM-training instructions, the same criterion (validation
# within-problem AUC of the min-aggregated step rewards). `tune --rm NAME` with no --grid spends exactly this; a
# tuning file records whether it did ("budget" in results/tuning/*.json), so an unequal comparison shows.
BUDGET_GRID: dict[str, list[str]] = {"lr": ["1e-4", "3e-4", "1e-3"], "epochs": ["1", "2"]}
BUDGET_FRACTION = 0.25
# The committed tunings (results/tuning/ at the project's root), which `run` starts from wherever it is started.
PROJECT_RESULTS = Path(__file__).resolve().parents[2] / "results"
BUDGET_AGGREGATION = "min"
# Options that change how a sweep shows itself, not what it trains: kept out of the chosen options file, which
# `run` and `tables` start from (a `--set progress=false` of the sweep is no option of the experiment).
DISPLAY_ONLY = ("progress",)


def is_budget(grid: dict[str, list[str]], fraction: float, aggregation: str) -> bool:
    """Whether a sweep is the shared budget: its grid points, fraction and criterion."""
    return ({k: [float(v) for v in vs] for k, vs in grid.items()}
            == {k: [float(v) for v in vs] for k, vs in BUDGET_GRID.items()}
            and fraction == BUDGET_FRACTION and aggregation == BUDGET_AGGREGATION)


def selection_auc(score_set, pool, aggregation: str) -> float | None:
    """Within-problem ROC AUC of the aggregated scores on `pool` (None when no problem has both classes)."""
    return roc_auc_ci(score_set.aggregate(aggregation), [[r.correct for r in p.responses] for p in pool.problems],
                      n_boot=0)["within_auc"]


def tune(cfg, inputs, grid: dict[str, list[str]], *, fraction: float, aggregation: str, results: str | None,
         command: str) -> dict:
    """The grid's rows and the chosen options (see the module's docstring)."""
    k = max(1, round(fraction * len(inputs.train_pool)))
    train = Pool(inputs.train_pool.problems[:k], inputs.train_pool.path)
    rows = []
    for values in itertools.product(*grid.values()):
        opts = {**cfg.rm_options, **dict(zip(grid, values))}
        rm = get_rm(cfg.rm, **opts)
        t = time.time()
        ckpt = rm.fit(train, inputs.base_model, inputs.val_pool)
        metrics = cache.read_json(ckpt / "metrics.json")
        within = selection_auc(rm.score(inputs.val_pool), inputs.val_pool, aggregation)
        rows.append({**dict(zip(grid, values)), "val_within_auc": within, "val_auc": metrics.get("val_auc"),
                     "final_loss": metrics["loss"][-1] if metrics.get("loss") else None,
                     "steps": metrics.get("steps"), "seconds": round(time.time() - t, 1), "checkpoint": ckpt.name})
        print(json.dumps(rows[-1]))
    best = max(rows, key=lambda r: -1 if r["val_within_auc"] is None else r["val_within_auc"])
    table = tabulate([[r[k] for k in grid] + [r["val_within_auc"], r["val_auc"], r["final_loss"], r["steps"],
                                              r["seconds"]] for r in rows],
                     list(grid) + [f"val within-problem AUC ({aggregation})", "val pooled AUC (outcome)",
                                   "final loss", "steps", "s (0 = cached)"], tablefmt="github", floatfmt=".4f")
    chosen = {k: best[k] for k in grid}
    print(table)
    print("chosen: " + " ".join(f"--set {k}={v}" for k, v in chosen.items()))
    if results:
        stem = Path(results) / "tuning" / f"{cfg.task}-{cfg.scale}-{cfg.rm}"
        cmd = command
        world = f" (world `{inputs.world}`)" if inputs.world else ""
        budget = is_budget(grid, fraction, aggregation)
        spent = (f"The shared tuning budget ({len(rows)} grid points over {' x '.join(BUDGET_GRID)}, "
                 f"harness/flow/tune.py BUDGET_GRID). " if budget else
                 "Not the shared tuning budget (harness/flow/tune.py BUDGET_GRID): not comparable with tunings that "
                 "spent it. ")
        md = (f"# Tuning {cfg.rm} ({cfg.task}, {cfg.scale} scale)\n\nCommand: `{cmd}`\n\n" + spent
              + f"Trained on {k} of {len(inputs.train_pool)} RM-training instructions ({train.n_responses} rollouts); "
              f"chosen by the within-problem ROC AUC of the `{aggregation}`-aggregated step rewards (what "
              f"best-of-N ranks by) on {inputs.val_pool.n_responses} validation rollouts{world}; the pooled AUC of "
              "the outcome reward is shown beside it.\n\n"
              + table + f"\n\nChosen: {chosen}\n")
        cache.write_text_atomic(stem.with_suffix(".md"), md)
        cache.write_json_atomic(stem.with_suffix(".json"), {"rows": rows, "chosen": chosen, "command": cmd,
                                                            "world": inputs.world, "budget": budget}, indent=2)
        # The chosen options as a --config file: `run --rm NAME --config <stem>.options.json` reproduces the run.
        kept = {k: v for k, v in cfg.rm_options.items() if k not in DISPLAY_ONLY}
        cache.write_json_atomic(stem.with_name(stem.name + ".options.json"), {**kept, **chosen}, indent=2)
    return {"rows": rows, "chosen": chosen}


def tuned_options(task: str, scale: str, rm: str, results: str | None = None) -> tuple[dict, Path] | None:
    """The options `tune` chose for `rm` on the world `run` would use, and their file; None when there are none
    (no tuning file, or one tuned on another world). Looked up in `results`/tuning/ when that folder has the file,
    else in the project's own results/tuning/ beside the package (PROJECT_RESULTS): never relative to the working
    directory, so a run started from another folder starts from the same options."""
    name = f"{task}-{scale}-{rm}"
    folders = [Path(results)] if results else []
    stem = next((f / "tuning" / name for f in [*folders, PROJECT_RESULTS]
                 if (f / "tuning" / f"{name}.options.json").is_file()), None)
    if stem is None:
        return None
    opts_file = stem.with_name(stem.name + ".options.json")
    if not stem.with_suffix(".json").is_file():
        return None
    try:
        world = json.loads(stem.with_suffix(".json").read_text(encoding="utf-8")).get("world")
    except ValueError:
        return None
    if world is None or world != TASKS.get(task).world_key(scale):
        return None
    return load_options_file(str(opts_file), rm), opts_file
