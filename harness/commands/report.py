"""`python -m harness report`: the static HTML site (leaderboards, plots, problem browser)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from harness.cli import arguments, command
from harness.core.errors import InputError
from harness.core.pool import load_pool
from harness.core.scores import AGGREGATIONS
from harness.evaluation.site import PoolView, build_site, pick_score_sets
from tasks import world_tasks


def _add(p):
    p.add_argument("--out", default="results/site", help="folder to write (replaced whole; default results/site)")
    p.add_argument("--runs", default=None, metavar="DIR",
                   help="run files to tabulate (default: the cache's, <cache>/runs/; e.g. results/runs)")
    p.add_argument("--plots", default="results/plots", metavar="DIR", help="PNG plots to embed (if the folder exists)")
    p.add_argument("--pool", action="append", default=[], metavar="POOL",
                   help="graded pool to browse (repeat); default: the arith world's test pools that have cached scores")
    p.add_argument("--rm", action="append", default=None, metavar="RM",
                   help="reward model(s) whose step rewards colour the steps (one or two; default: implicit_ce and "
                        "orm, else the first two of harness.evaluation.site.PREFERRED, else any two scored on the "
                        "pool)")
    p.add_argument("--aggregation", default="min", help="step aggregation that ranks the responses (default: min)")
    p.add_argument("--scale", default="default", help="arith world scale for the default pools")
    p.add_argument("--no-pools", action="store_true", help="leaderboard and plots only")


def default_pools(scale: str) -> list[str]:
    """The test pools of the world `run` would use (the arith world's), if it is there (shipped, or built in the
    cache)."""
    return [p for task in world_tasks() for p in task.world_test_pools(scale)]


@command("report", "write a static HTML site: leaderboards of the recorded runs, plots, steps coloured by reward")
@arguments(_add)
def run(args) -> int:
    if args.aggregation not in AGGREGATIONS:
        raise InputError(f"unknown aggregation '{args.aggregation}'", field="--aggregation",
                         expected="one of " + ", ".join(AGGREGATIONS))
    if args.rm is not None and not 1 <= len(args.rm) <= 2:
        raise InputError(f"{len(args.rm)} reward models given", field="--rm", expected="one or two")
    t0 = time.time()
    views = []
    for path in [] if args.no_pools else (args.pool or default_pools(args.scale)):
        pool = load_pool(path)
        sets = pick_score_sets(pool, args.rm)
        if not sets:
            print(f"note: {path}: no cached score set, not browsed (`python -m harness score` first)", file=sys.stderr)
            continue
        views.append(PoolView(pool, sets, f"{pool.generator()} ({Path(path).stem})"))
    out = build_site(Path(args.out), Path(args.runs) if args.runs else None, Path(args.plots), views,
                     args.aggregation)
    print(f"wrote {out / 'index.html'} ({len(views)} pool(s) browsable) in {time.time() - t0:.1f} s", file=sys.stderr)
    return 0
