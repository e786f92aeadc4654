"""`harness tables`: the paper's tables and figures under results/, from the runs under results/runs/.

First runs whichever experiment of harness.paper.recipes has no run file yet, or one from another arith world than
the current one, or one run with other options than the experiment's current ones (each an ordinary cached,
resumable `run`; `--no-run` skips this), then reads only the small run JSONs (no model is loaded), so a second call
with nothing missing takes seconds and rewrites identical files. A run whose options are no longer its experiment's
(after a new `tune`) is left out of every table and claim and listed as such, never set beside the current runs.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from harness.cli import arguments, command
from harness.core import cache
from harness.core.errors import InputError
from harness.paper.recipes import main_experiments
from harness.paper.regenerate import current_runs, load_runs, render, run_missing, write_plots


def _add(p):
    p.add_argument("--results", default="results", help="results folder holding runs/ (default: results)")
    p.add_argument("--task", default="arith")
    p.add_argument("--scale", default="default")
    p.add_argument("--no-run", action="store_true", help="only tabulate: do not run missing experiments")
    p.add_argument("--threads", type=int, default=None, help="torch threads for missing experiments")


@command("tables", "run missing paper experiments, then write results/leaderboard.md and the figures")
@arguments(_add)
def run(args) -> int:
    folder = Path(args.results)
    t0 = time.time()
    if not args.no_run:
        run_missing(folder, args.task, args.scale, args.threads, lambda m: print(m, file=sys.stderr))
    runs, left_out = current_runs(load_runs(folder, args.task, args.scale), folder, args.task, args.scale)
    if not runs:
        raise InputError("no runs to tabulate", file=folder / "runs",
                         expected="files written by `python -m harness run --rm NAME`")
    out = folder / "leaderboard.md"
    cache.write_text_atomic(out, render(runs, args.task, args.scale, left_out))
    main = [e.label for e in main_experiments() if e.label in runs] or sorted(runs)
    paths = write_plots(folder, runs, main, args.task, args.scale)
    if left_out:
        print(f"left out {len(left_out)} superseded run file(s) (listed in {out}): " + ", ".join(sorted(left_out)),
              file=sys.stderr)
    print(f"wrote {out} and {len(paths)} figures in {time.time() - t0:.1f} s")
    return 0
