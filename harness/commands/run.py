"""`harness run --rm NAME`: everything of the flow that is missing for one reward model, then the leaderboard."""

from __future__ import annotations

import dataclasses
import sys

from harness.cli import arguments, command
from harness.core import distributed, options
from harness.core.errors import InputError
from harness.flow import protocol as paper
from harness.flow.prepare import load_options_file
from harness.flow.run import run as run_flow
from harness.flow.run import RunConfig, check_config
from harness.flow.tune import tuned_options
from tasks import TASKS


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
    p.add_argument("--rebuild", action="store_true",
                   help="arith: use (and build if missing) the world built in the cache from its config instead of "
                        "the shipped one (see `generate --rebuild`)")
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
    p.add_argument("--config", default=None, metavar="FILE",
                   help="JSON object of reward-model options (the keys of --set; --set and the flags win)")
    p.add_argument("--untuned", action="store_true",
                   help="arith: do not start from the options `tune` chose for this reward model on the world in "
                        "use (<task>-<scale>-<rm>.options.json in the --results folder's tuning/, else in the "
                        "project's results/tuning/); use the adapter's defaults")


def rm_options(args, log=None) -> dict:
    opts = load_options_file(args.config, args.rm) if getattr(args, "config", None) else {}
    if not opts and not getattr(args, "untuned", True) and not args.pool and args.model is None:
        found = tuned_options(args.task, args.scale, args.rm, getattr(args, "results", None))
        if found is not None:
            opts = dict(found[0])
            if log:
                log(f"[run] starting from the options tuned for {args.rm} on this world ({found[1]}): "
                    + (" ".join(f"--set {k}={v}" for k, v in sorted(opts.items())) or "none")
                    + "; --untuned uses the defaults")
    opts.update(parse_sets(args.set))
    for flag, key in (("model", "model"), ("ref", "ref"), ("batch_size", "score_batch_size"), ("dtype", "dtype"),
                      ("device", "device")):
        v = getattr(args, flag)
        if v is not None:
            opts[key] = v
    return opts


def _add(p):
    add_rm_arguments(p)
    p.add_argument("--n", "--ns", dest="n", default="1,2,4,8,16,32,64",
                   help="subset sizes (spell it --ns after torchrun, whose own options make --n ambiguous)")
    p.add_argument("--aggregation", default=None,
                   help="step aggregation: min | sum | mean | last | prod (default: the one the reward model's "
                        "publisher ranks by, shown by `list --rm NAME`, else min)")
    p.add_argument("--weights", default=None, help="weighted-vote weights: sigmoid (default) | raw | softmax")
    p.add_argument("--subsets", default="random", help="random (expectation over n-subsets) | prefix (paper's code)")
    p.add_argument("--protocol", default="harness",
                   help="harness (default) | paper: the ImplicitPRM authors' eval/bon_eval.py and processbench.py "
                        "(first-n subsets, coefficient 0.001, their ties, their steps, bf16; harness.flow.protocol)")
    p.add_argument("--format", default="table", choices=["table", "markdown", "json"])
    p.add_argument("--results", default=None, metavar="DIR",
                   help="also write the run files under DIR/runs/ (e.g. --results results; by default they go to "
                        "the cache only, <cache>/runs/, which `harness leaderboard` lists)")
    options.add_flags(p, task_option_classes())  # --data, --max-problems, --splits, ...: the tasks' own options
    p.add_argument("--label", default=None,
                   help="name of this run's files and leaderboard row, for variants of one reward model "
                        "(default: the reward model's name)")


def stage_config(args):
    """The RunConfig of a single-stage command (train, score, tune): no selection, nothing written to results/."""
    args.n, args.aggregation, args.weights, args.subsets = "1", "min", "sigmoid", "random"
    args.protocol = "harness"
    args.untuned = True  # train and score take the options given: the same checkpoint as `run --set ...`
    args.results = None
    return config_from_args(args)


def config_from_args(args, search=None):
    """The RunConfig of the command line (`search`: the search flow's options, from `harness search`)."""
    proto = paper.check(getattr(args, "protocol", "harness"))
    for flag in ("batch_size", "threads"):
        if getattr(args, flag) is not None and getattr(args, flag) < 1:
            raise InputError(f"{getattr(args, flag)} is not positive", field="--" + flag.replace("_", "-"),
                             expected="an integer >= 1")
    cfg = RunConfig(rm=args.rm, task=args.task, scale=args.scale, seed=args.seed,
                    generators=[g for g in args.generators.split(",") if g], pools=args.pool,
                    train_pool=args.train_pool, val_pool=args.val_pool, base=args.base,
                    n=int_list(args.n, "--n"), aggregation=args.aggregation, weights=args.weights or "sigmoid",
                    subsets=args.subsets, rm_options=rm_options(args, _stderr), threads=args.threads,
                    results=args.results,
                    label=getattr(args, "label", None), task_options=task_options(args),
                    rebuild=getattr(args, "rebuild", False), protocol=proto, search=search)
    if proto == "paper":  # the authors' eval: its subsets, weights and reward-model options (user's options win)
        cfg = dataclasses.replace(cfg, subsets="prefix", weights=paper.weights(cfg.rm, args.weights),
                                  rm_options=paper.rm_options(cfg.rm, cfg.rm_options, step_level=_step_level(cfg)))
    check_config(cfg)  # every mistake in the arguments is reported before anything is built or trained
    return cfg


def _step_level(cfg) -> bool:
    return not cfg.pools and cfg.task in TASKS and TASKS.get(cfg.task).flow == "steps"


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def task_option_classes() -> dict[str, type]:
    """{task: its Options dataclass} of every registered task that has options."""
    return {name: TASKS.get(name).Options for name in TASKS.names() if dataclasses.fields(TASKS.get(name).Options)}


def task_options(args) -> dict:
    """The chosen task's options given on the command line (only those given are kept), typed by its dataclass; an
    option of another task is refused with the task(s) that have it. Commands without these flags give none."""
    if args.task not in TASKS:
        return {}  # check_config names the unknown task
    return options.given_for(args, task_option_classes(), args.task)


@command("run", "train (if needed), score and rank one reward model; prints its leaderboard")
@arguments(_add)
def run(args) -> int:
    cfg = config_from_args(args)
    world = distributed.init()  # under torchrun: each rank scores its share, rank 0 reports
    report = run_flow(cfg)  # through the table of flows (harness.flow.run.FLOWS): pools, folds or steps
    if world.is_main:
        print(report.render(args.format), end="")
    return 0
