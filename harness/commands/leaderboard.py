"""`python -m harness leaderboard`: selection accuracy for every method and n, from cached scores only."""

from __future__ import annotations

import sys

from harness.cli import arguments, command
from harness.core import cache
from harness.core.cache import write_text_atomic
from harness.core.errors import InputError
from harness.core.pool import load_pool
from harness.core.scores import AGGREGATIONS
from harness.evaluation import leaderboard as lb
from harness.evaluation.leaderboard import FORMATS
from harness.evaluation.plots import plot_all
from harness.evaluation.run_index import cached_results
from harness.selection import ESTIMATORS, METHODS, WEIGHTINGS


def _int_list(text: str, flag: str) -> list[int]:
    try:
        vals = [int(x) for x in text.replace(" ", "").split(",") if x]
    except ValueError:
        vals = []
    if not vals or min(vals) < 1:
        raise InputError(f"cannot read '{text}'", field=flag, expected="comma-separated integers >= 1, e.g. 1,2,4,8")
    return vals


def _names(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    return [v for item in values for v in item.split(",") if v]


def _add(p):
    p.add_argument("--pool", action="append", default=None, metavar="POOL",
                   help="graded pool file (JSON Lines); repeat for several pools. Without --pool: the rows of every "
                        "run recorded in the cache (<cache>/runs/), filtered by --task, --rm, --generator")
    p.add_argument("--task", action="append", default=None, metavar="TASK",
                   help="without --pool: only runs of this task (repeat or comma-separate)")
    p.add_argument("--rm", action="append", default=None, metavar="RM",
                   help="without --pool: only runs of this reward model or run label")
    p.add_argument("--generator", action="append", default=None, metavar="GEN",
                   help="without --pool: only rows of this generator's pool")
    p.add_argument("--format", default="table", choices=FORMATS)
    p.add_argument("--methods", nargs="+", default=None, metavar="METHOD",
                   help=f"any of {', '.join(METHODS)} (default: all)")
    p.add_argument("--aggregation", nargs="+", default=None, metavar="AGG",
                   help=f"step-score aggregation(s): {', '.join(AGGREGATIONS)} (default: min; without --pool, the "
                        "runs' own)")
    p.add_argument("--n", default=None, help="subset sizes, e.g. 1,2,4,8 (default: powers of two up to the pool size)")
    p.add_argument("--subsets", default="random", choices=ESTIMATORS,
                   help="random: expectation over random n-subsets (default); prefix: first n (the paper's code)")
    p.add_argument("--weights", default="sigmoid", choices=WEIGHTINGS, help="weighted-vote weights (default: sigmoid)")
    p.add_argument("--protocol", default=None,
                   help="harness (default) | paper: the ImplicitPRM authors' eval/bon_eval.py selection (first n "
                        "responses, ties to the first response / answer, answerless responses voting as one class; "
                        "their weights: sigmoid for implicit PRMs, --weights raw for others). Without --pool: only "
                        "the runs recorded under that protocol")
    p.add_argument("--mc-samples", type=int, default=256, help="random subsets per problem for the votes")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the 95%% CIs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--distinct", action="store_true",
                   help="count each distinct text of a problem once (its first copy): a diagnostic for pools with "
                        "repeated responses, which a deterministic reward model scores alike")
    p.add_argument("--plot", metavar="DIR", default=None, help="also write accuracy-vs-n PNGs into DIR")
    p.add_argument("-o", "--output", metavar="FILE", default=None, help="write to FILE instead of stdout")


@command("leaderboard", "selection accuracy (best-of-n, weighted/majority vote, pass@n) from cached scores")
@arguments(_add)
def run(args) -> int:
    if args.pool is None:
        return _cached(args)
    opts = lb.Options(methods=_names(args.methods) or METHODS, aggregations=_names(args.aggregation) or ["min"],
                      ns=_int_list(args.n, "n") if args.n is not None else None, subsets=args.subsets,
                      weights=args.weights, mc_samples=args.mc_samples, bootstrap=args.bootstrap, seed=args.seed,
                      distinct=args.distinct, protocol=args.protocol or "harness")
    opts.validate()
    pools = [load_pool(p) for p in args.pool]
    results = lb.build(pools, opts)
    for res in results:
        for note in res.notes:
            print(f"note: {note}", file=sys.stderr)
    _emit(lb.render(results, args.format), args.output)
    if args.plot:
        for path in plot_all(results, args.plot):
            print(f"wrote {path}", file=sys.stderr)
    return 0


def _emit(text: str, output: str | None) -> None:
    if output:
        write_text_atomic(output, text)
        print(f"wrote {output}", file=sys.stderr)
    else:
        sys.stdout.write(text)


def _cached(args) -> int:
    """Every run recorded in the cache, as it was recorded (its own n, aggregation, estimator and CIs)."""
    if args.protocol is not None:
        lb.Options(protocol=args.protocol).validate()
    if args.distinct or args.plot:
        raise InputError("needs the pools themselves", field="--distinct" if args.distinct else "--plot",
                         expected="--pool POOL")
    results, notes = cached_results(_names(args.task), _names(args.rm), _names(args.generator))
    methods, aggs = _names(args.methods), _names(args.aggregation)
    ns = set(_int_list(args.n, "n")) if args.n is not None else None
    for res in results:
        res.rows = [r for r in res.rows if (not methods or r["method"] in methods) and (ns is None or r["n"] in ns)
                    and (not aggs or r["aggregation"] in (*aggs, lb.NO_RM))
                    and (args.protocol is None or r.get("protocol", "harness") == args.protocol)]
    results = [r for r in results if r.rows]
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if not results:
        where = cache.root() / "runs"
        print(f"note: no recorded run matches under {where}; `python -m harness run --rm NAME` records one",
              file=sys.stderr)
    _emit(lb.render(results, args.format), args.output)
    return 0
