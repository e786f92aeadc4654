"""`harness search --rm NAME --method beam --n 4,16,64`: reward-guided step-level search on the arith world, beside
best-of-N and weighted vote of the same reward model on the sampled pools (harness.flow.search.experiment)."""

from __future__ import annotations

from harness.cli import arguments, command
from harness.commands.run import add_rm_arguments, config_from_args, int_list
from harness.core.errors import InputError
from harness.flow.config import DEFAULT_PROBLEMS
from harness.flow.run import run as run_flow
from harness.flow.run import SearchOptions
from harness.generation.search.tree import METHODS


def _add(p):
    add_rm_arguments(p)
    p.add_argument("--method", default="beam",
                   help="comma-separated: beam | dvts | sample (plain sampling through the same decoder)")
    p.add_argument("--n", default="4,16,64", help="solutions a problem (comma-separated)")
    p.add_argument("--expand", type=int, default=4,
                   help="M: continuations of each kept partial solution (search-and-learn's beam_width); beam keeps "
                        "N/M, dvts grows N/M subtrees")
    p.add_argument("--problems", type=int, default=DEFAULT_PROBLEMS,
                   help=f"the first K test problems of each generator's pool (default {DEFAULT_PROBLEMS}, which keeps "
                        "the default command within 15 min on 2 CPU cores; 500 for the whole test split)")
    p.add_argument("--search-seed", type=int, default=0, help="seed of the search's draws")
    p.add_argument("--guide", default="auto",
                   help="auto (incremental q_t for implicit PRMs and loglik, else re-scoring) | incremental | "
                        "rescore")
    p.add_argument("--guide-aggregation", default=None,
                   help="how re-scored prefixes are ranked: last (default; sum for implicit PRMs) | min | mean | ...")
    p.add_argument("--temperature", type=float, default=None, help="default: the world's (0.5)")
    p.add_argument("--max-new-tokens", type=int, default=None, help="default: the world's (200)")
    p.add_argument("--aggregation", default="min", help="step aggregation of the final selection")
    p.add_argument("--weights", default="sigmoid", help="weighted-vote weights")
    p.add_argument("--results", default=None, metavar="DIR",
                   help="also write the run files under DIR/runs/ and the plot under DIR/plots/ (e.g. --results "
                        "results); by default they go to the cache's runs/ only")


@command("search", "reward-guided step-level search (beam, DVTS) beside best-of-N, at equal N and compute")
@arguments(_add)
def run(args) -> int:
    methods = [m for m in args.method.split(",") if m]
    for m in methods:
        if m not in METHODS:
            raise InputError(f"unknown search method '{m}'", field="--method", expected="one of " + ", ".join(METHODS))
    ns = int_list(args.n, "--n")
    if args.problems is not None and args.problems < 1:
        raise InputError(f"{args.problems} is not positive", field="--problems", expected="an integer >= 1")
    if args.expand < 1:
        raise InputError(f"{args.expand} is not positive", field="--expand", expected="an integer >= 1")
    if "dvts" in methods and any(n % min(args.expand, n) for n in ns):
        raise InputError(f"dvts needs every N divisible by M = {args.expand}", field="--expand",
                         expected="a divisor of " + ", ".join(map(str, ns)))
    opts = SearchOptions(methods=methods, ns=ns, expand=args.expand, seed=args.search_seed,
                         max_problems=args.problems, guide=args.guide, guide_aggregation=args.guide_aggregation,
                         temperature=args.temperature, max_new_tokens=args.max_new_tokens)
    args.n, args.subsets, args.label = "1", "random", None  # the config's selection settings are not the search's
    report = run_flow(config_from_args(args, search=opts))  # the search flow of harness.flow.run.FLOWS
    print(report.render(), end="")
    for p in report.written:
        if p.endswith(".md"):
            print(f"[search] wrote {p}")
    return 0
