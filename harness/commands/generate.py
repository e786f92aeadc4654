"""`harness generate`: build candidate pools.

For the embedded `arith` task this builds the whole world (generators trained in-repo, pools, RM rollouts). For a
task read from data (math500, gsm8k) it samples N responses per problem from a Hugging Face causal LM (`--model`).
Under `torchrun --nproc_per_node K` (or `accelerate launch`) every rank samples its share of the chunks of problems and
rank 0 writes the pool, the same bytes as one process (the arith world: rank 0 trains the generators first).
"""

from __future__ import annotations

import argparse

from tabulate import tabulate

from harness.cli import arguments, command
from harness.core import distributed
from harness.core.errors import InputError
from harness.flow import lm_eval_pack
from harness.generation.lm_eval_backend import generate_pool as lm_eval_pool
from harness.generation.pools import generate_pool
from tasks import TASKS


def add_world_arguments(p) -> None:
    p.add_argument("--task", default="arith", help="task name (default: arith, the embedded world)")
    p.add_argument("--scale", default="default", help="arith world scale: default | smoke (seconds, for tests)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads (default: torch's, all cores; the arith world: 2, and it samples in that many "
                        "single-thread processes); keep processes x threads <= cores")


def _add(p):
    add_world_arguments(p)
    p.add_argument("--data", default=None, help="local data file or folder for data-backed tasks")
    p.add_argument("--split", default="test")
    p.add_argument("--model", default=None, help="generator checkpoint (folder) for data-backed tasks")
    # --samples: under torchrun, whose own parser takes "--n" for an abbreviation of its --nnodes/--nproc_per_node
    p.add_argument("--n", "--samples", dest="n", type=int, default=64, help="responses per problem")
    p.add_argument("--temperature", type=float, default=0.5)
    p.add_argument("--max-new-tokens", type=int, default=None,
                   help="default 1024 (the lm-eval backend: the task's max_gen_toks)")
    p.add_argument("--limit", type=int, default=None, help="first K problems only")
    p.add_argument("-o", "--output", default=None, help="pool file to write (data-backed tasks)")
    p.add_argument("--device", default=None, help="data-backed tasks: cpu (default) | cuda | cuda:1 ...")
    p.add_argument("--dtype", default=None, choices=["float32", "bfloat16", "float16"],
                   help="data-backed tasks: the generator's weights (default float32)")
    p.add_argument("--rebuild", action="store_true",
                   help="arith: build the world from scratch in the cache (train generators, sample pools) instead "
                        "of using the shipped one; it is named by the content hash of what was built")
    p.add_argument("--freeze", action="store_true",
                   help="arith, for maintainers: build (as --rebuild) and write that world as the shipped one under "
                        "tasks/arith/data/ (generators, compressed pools, checksum manifest)")
    p.add_argument("--backend", default="harness", choices=["harness", "lm-eval"],
                   help="lm-eval: sample through lm-evaluation-harness (--model is then its model type, e.g. hf or "
                        "vllm, with --model-args), from this harness's lm-eval task of --task")
    p.add_argument("--model-args", default=None, help="lm-eval backend: e.g. pretrained=PATH,dtype=bfloat16")
    p.add_argument("--lm-eval-task", default=None, help="lm-eval backend: another task than the pack's for --task")
    p.add_argument("--include-path", action="append", default=None, help="lm-eval backend: extra task folders")
    p.add_argument("--generator", default=None, help="lm-eval backend: generator name in the pool's meta")
    p.add_argument("--batch-size", default=None, help="lm-eval backend: its batch size (an integer or auto)")
    p.add_argument("--lm-eval-output", default=None, metavar="DIR",
                   help="lm-eval backend: also write lm-eval's own results and samples files under DIR")
    p.add_argument("--chunk-problems", type=int, default=None, metavar="K",
                   help="problems per sampling chunk of a data-backed task, each with its own seed (default 32; "
                        "part of what the samples are, however many processes share the work)")


def ensure_world(args, log=print, sharded: bool = False):
    """The world of task --task (arith) for these arguments (the shipped one, or built in the cache with --rebuild or
    for another scale or seed); returns its files. sharded: every rank of a torchrun world calls this and shares
    the sampling."""
    rebuild = getattr(args, "rebuild", False) or getattr(args, "freeze", False)
    return TASKS.get(args.task).open_world(scale=args.scale, seed=args.seed, threads=args.threads, rebuild=rebuild,
                                           log=log, sharded=sharded)


@command("generate", "build candidate pools (the arith world, or N samples per problem from --model)")
@arguments(_add)
def run(args) -> int:
    task_cls = TASKS.get(args.task)
    if args.chunk_problems is not None and args.chunk_problems < 1:
        raise InputError(f"cannot use {args.chunk_problems}", field="--chunk-problems", expected="an integer >= 1")
    if args.backend == "lm-eval":
        if not args.model or not args.output:
            raise InputError("the lm-eval backend samples from the model you give", field="--model/-o",
                             expected="--model hf --model-args pretrained=PATH and -o POOL")
        pool = lm_eval_pool(args, lm_eval_pack.TASKS, [lm_eval_pack.PACK_DIR])
        print(f"wrote {args.output}: {len(pool)} problems x {args.n} responses (lm-eval)")
        return 0
    if task_cls.flow == "world":
        distributed.init()  # under torchrun: rank 0 trains, every rank samples its share; non-zero ranks are quiet
        world = ensure_world(args, sharded=True)
        if not distributed.current().is_main:
            return 0
        if args.freeze:
            key, folder = task_cls.freeze_world(world)
            print(f"froze world {key} into {folder}")
            world = ensure_world(argparse.Namespace(**{**vars(args), "rebuild": False, "freeze": False}))
        print(describe_world(world.summary, world.frozen))
        return 0
    if not args.model or not args.output:
        raise InputError(f"task '{args.task}' samples from a model you give", field="--model/-o",
                         expected="--model PATH and -o POOL")
    args.max_new_tokens = args.max_new_tokens or 1024
    task = task_cls(data=args.data)
    distributed.init()
    pool = generate_pool(task, args)
    if pool is not None:
        print(f"wrote {args.output}: {len(pool)} problems x {args.n} responses")
    return 0


def describe_world(summary: dict, shipped: bool | None = None) -> str:
    """The world's generators and pools as a table; `shipped` says where it lives (None: not said)."""
    def ratio(x):
        return "-" if x is None else f"{x:.2f}"

    rows = []
    gens = summary["generators"]
    order = [g for g in ("weak", "mid", "strong") if g in gens] + sorted(set(gens) - {"weak", "mid", "strong"})
    for name, s in {**{g: gens[g] for g in order}, **summary.get("rm_pools", {})}.items():
        rows.append([name, s.get("step", "-"), s.get("parameters", "-"),
                     f"{s['val_pass@1']:.3f}" if "val_pass@1" in s else "-",
                     f"{s['target_pass@1']:.3f}" if "target_pass@1" in s else "-",
                     f"{s['pass@1']:.3f}", f"{s['pass@N']:.3f}", s["problems"], s["responses"],
                     f"{s['mean_steps']:.2f}", ratio(s.get("distinct_correct")), ratio(s.get("distinct_wrong"))])
    head = ["pool / generator", "ckpt step", "params", "val pass@1", "paper pass@1", "pass@1", "pass@N",
            "problems", "responses", "mean steps", "distinct correct", "distinct wrong"]
    t = summary.get("timings", {})
    where = {None: "", True: " shipped in tasks/arith/data", False: " built in the cache"}[shipped]
    name = summary.get("content_key", summary["key"])
    return (f"arith world {name}{where} (config {summary['key']}, built in {t.get('total_s', '?')} s)\n"
            + tabulate(rows, head, tablefmt="simple"))
