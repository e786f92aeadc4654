"""`harness run --rm NAME`: everything of the flow that is missing for one reward model, then the leaderboard."""

from __future__ import annotations

from harness.cli import arguments, command
from harness.errors import InputError


def parse_sets(items: list[str] | None) -> dict:
    out = {}
    for item in items or []:
        if "=" not in item:
            raise InputError(f"cannot read '{item}'", field="--set", expected="KEY=VALUE, e.g. --set lr=3e-4")
        k, v = item.split("=", 1)
        out[k.strip().replace("-", "_")] = v.strip()
    return out


def int_list(text: str, flag: str) -> list[int]:
    try:
        vals = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        vals = []
    if not vals or min(vals) < 1:
        raise InputError(f"cannot read '{text}'", field=flag, expected="comma-separated integers >= 1")
    return vals


def add_rm_arguments(p) -> None:
    p.add_argument("--rm", required=True, help="reward model name (see `harness list`)")
    p.add_argument("--task", default="arith")
    p.add_argument("--scale", default="default", help="arith world scale: default | smoke")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--generators", default="weak,mid,strong", help="arith generators to evaluate")
    p.add_argument("--pool", action="append", default=[], help="score these pools instead of the arith world's")
    p.add_argument("--train-pool", default=None, help="graded RM-training rollouts (with --pool)")
    p.add_argument("--val-pool", default=None, help="graded validation rollouts (with --pool)")
    p.add_argument("--base", default=None, help="base model the reward model is trained from (with --pool)")
    p.add_argument("--model", default=None, help="score with this checkpoint instead of training (model=PATH)")
    p.add_argument("--ref", default=None, help="reference model for implicit PRMs (ref=PATH)")
    p.add_argument("--batch-size", type=int, default=None, help="scoring batch size (sequences)")
    p.add_argument("--dtype", default=None, help="float32 | bfloat16")
    p.add_argument("--device", default=None, help="cpu | cuda | ...")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="any reward-model option, e.g. --set lr=3e-4 --set epochs=2 --set use_ref=false")
    p.add_argument("--threads", type=int, default=None, help="torch threads (processes x threads <= cores)")


def rm_options(args) -> dict:
    opts = parse_sets(args.set)
    for flag, key in (("model", "model"), ("ref", "ref"), ("batch_size", "score_batch_size"), ("dtype", "dtype"),
                      ("device", "device")):
        v = getattr(args, flag)
        if v is not None:
            opts[key] = v
    return opts


def _add(p):
    add_rm_arguments(p)
    p.add_argument("--n", default="1,2,4,8,16,32,64", help="subset sizes")
    p.add_argument("--aggregation", default="min", help="step aggregation: min | sum | mean | last | prod")
    p.add_argument("--weights", default="sigmoid", help="weighted-vote weights: sigmoid | raw | softmax")
    p.add_argument("--subsets", default="random", help="random (expectation over n-subsets) | prefix (paper's code)")
    p.add_argument("--format", default="table", choices=["table", "markdown", "json"])
    p.add_argument("--results", default=None,
                   help="also write the leaderboard under DIR/runs/ (default: results/ at the default scale)")
    p.add_argument("--no-results", action="store_true", help="do not write results/")


def config_from_args(args):
    from harness.pipeline import RunConfig
    results = None if args.no_results else (args.results or ("results" if args.scale == "default"
                                                              and not args.pool else None))
    return RunConfig(rm=args.rm, task=args.task, scale=args.scale, seed=args.seed,
                     generators=[g for g in args.generators.split(",") if g], pools=args.pool,
                     train_pool=args.train_pool, val_pool=args.val_pool, base=args.base,
                     n=int_list(args.n, "--n"), aggregation=args.aggregation, weights=args.weights,
                     subsets=args.subsets, rm_options=rm_options(args), threads=args.threads, results=results)


@command("run", "train (if needed), score and rank one reward model; prints its leaderboard")
@arguments(_add)
def run(args) -> int:
    from harness.pipeline import render_report, run as run_pipeline
    report = run_pipeline(config_from_args(args))
    print(render_report(report, args.format), end="")
    return 0
