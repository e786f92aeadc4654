"""The one report writer of every flow: the selection report of scored pools (report_run), a report rendered as a
table, markdown or JSON, and a run's files in the cache (and under --results): <stem>.md (heading, command, intro,
the tables, the timings as JSON) and <stem>.json. The reports themselves are typed (harness.flow.reports)."""

from __future__ import annotations

from pathlib import Path

from harness.core import cache
from harness.core.pool import Pool
from harness.evaluation import leaderboard as lb
from harness.evaluation.auc import roc_auc_ci
from harness.evaluation.per_problem import record
from harness.flow.reports import RunReport, SelectionReport, results_stem, with_per_problem

__all__ = ["report_run", "render_report", "results_stem", "steps_record", "with_per_problem", "write_run"]


def steps_record(rm) -> dict:
    """{"steps": mode} for a reward model whose Config has a `steps` option (harness.core.publisher_steps), else {}:
    what a run file records about which steps were scored."""
    steps = getattr(getattr(rm, "config", None), "steps", None)
    return {} if steps is None else {"steps": steps}


def report_run(cfg, pools: list[Pool], score_sets, rm=None) -> SelectionReport:
    """The selection report of scored pools: best-of-N, weighted vote, majority vote, pass@N and ROC AUC."""
    opts = cfg.selection()
    results, aucs = [], []
    for pool, ss in zip(pools, score_sets):
        res = lb.evaluate_pool(pool, [ss], opts, cfg.n)
        results.append(res)
        scores = ss.aggregate(cfg.aggregation)
        auc = roc_auc_ci(scores, [[r.correct for r in p.responses] for p in pool.problems], seed=cfg.seed)
        aucs.append({"generator": pool.generator(), "rm": cfg.rm, "aggregation": cfg.aggregation, **auc})
    rm_label = score_sets[0].rm if score_sets else cfg.rm  # the rows' rm (evaluate_pool labels by score set)
    return SelectionReport(config=cfg, command=cfg.command(), results=results, rows=lb.rows_of(results), auc=aucs,
                           steps=steps_record(rm).get("steps"),
                           per_problem=record(results, rm_label, cfg.aggregation))


def render_report(report: RunReport, fmt: str = "table") -> str:
    """A report as `run` prints it: table | markdown | json (the run file's JSON)."""
    return report.render(fmt)


def write_run(report: RunReport) -> list[Path]:
    """Every run's files: <stem>.md (heading, command, intro, the tables, the timings as JSON) and <stem>.json, in
    the cache's runs/ and, with the config's `results`, under results/runs/; the paths written."""
    f = report.run_file()
    md = (f"# {f.heading}\n\nCommand: `{report.command}`\n\n{f.intro}{f.body_md}\n{report.timings.line()}\n"
          + f.tail)
    return cache.write_run_files(report.config.results, f.stem, md, f.body_json) + list(f.extra)
