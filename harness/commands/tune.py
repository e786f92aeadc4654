"""`harness tune --rm NAME [--grid lr=1e-4,3e-4,1e-3]`: choose training hyper-parameters on the validation split.

With no --grid and no --fraction it spends the tuning budget every trained reward model gets (harness.flow.tune:
BUDGET_GRID, lr x epochs, on BUDGET_FRACTION of the instructions), so tunings of different reward models compare.

Each candidate is trained (cached like any checkpoint) on the RM-training rollouts, optionally a fraction of the
instructions to keep the sweep cheap, then scores the validation rollouts (never the test pools) and is judged by
what selection uses: the within-problem ROC AUC of the score the run selects with (the `--aggregation` of its step
rewards, min by default), i.e. how well it ranks the responses to one problem. The pooled AUC of the outcome reward
(the trainer's own validation figure) is shown beside it; it also rewards knowing which problems are hard, which
best-of-N never asks. The table and the chosen value go to stdout and, with --results, to DIR/tuning/.
"""

from __future__ import annotations

from harness.cli import arguments, command
from harness.commands.run import add_rm_arguments, stage_config
from harness.core.errors import InputError
from harness.flow.run import resolve_inputs
from harness.flow.tune import BUDGET_FRACTION, BUDGET_GRID, tune


def _add(p):
    add_rm_arguments(p)
    p.add_argument("--grid", action="append", default=None, metavar="KEY=V1,V2,...",
                   help="option values to try; repeat for a product grid (default: the shared budget, "
                        + " x ".join(f"{k}={','.join(v)}" for k, v in BUDGET_GRID.items()) + ")")
    p.add_argument("--fraction", type=float, default=BUDGET_FRACTION,
                   help=f"fraction of RM-training instructions to train on (default: the budget's, {BUDGET_FRACTION})")
    p.add_argument("--results", default=None, help="write DIR/tuning/<task>-<rm>.{md,json}")
    p.add_argument("--aggregation", default="min",
                   help="step aggregation the candidates are judged by (the one the runs select with; default min)")


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
    if not 0 < args.fraction <= 1:
        raise InputError(f"{args.fraction} is not in (0, 1]", field="--fraction")
    results, aggregation = args.results, args.aggregation
    cfg = stage_config(args)  # sets --results to none and --aggregation to min for the stage: keep the ones given
    args.aggregation = aggregation
    inputs = resolve_inputs(cfg, print)
    if inputs.train_pool is None or inputs.val_pool is None or inputs.base_model is None:
        raise InputError("tuning needs RM-training and validation rollouts and a base model",
                         field="--train-pool/--val-pool/--base")
    grids = args.grid or [f"{k}={','.join(v)}" for k, v in BUDGET_GRID.items()]
    grid = parse_grid(grids)
    cmd = (f"python -m harness tune --rm {cfg.rm} " + " ".join(f"--grid {g}" for g in grids)
           + (f" --aggregation {args.aggregation}" if args.aggregation != "min" else "")
           + f" --fraction {args.fraction}" + "".join(f" --set {k}={v}" for k, v in cfg.rm_options.items()))
    tune(cfg, inputs, grid, fraction=args.fraction, aggregation=args.aggregation, results=results, command=cmd)
    return 0
