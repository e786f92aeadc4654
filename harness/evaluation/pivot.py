"""The recorded leaderboard rows laid out as the paper's tables: one table per (task, generator), reward models (one
row per recorded run) down the side, best-of-N and weighted vote at each N across the top, and the two selections
that need no reward model beneath them: majority vote under the weighted-vote columns (it is the unweighted vote)
and pass@N under the best-of-N columns (the oracle that best-of-N is bounded by). Every cell keeps its 95% CI.
"""

from __future__ import annotations

from dataclasses import dataclass, field

METHODS = ("best_of_n", "weighted_vote")
METHOD_TITLES = {"best_of_n": "best-of-N", "weighted_vote": "weighted vote"}
BASELINES = {"majority_vote": ("majority vote", "weighted_vote"), "pass_at_n": ("pass@N", "best_of_n")}  # title, under


@dataclass
class Cell:
    accuracy: float
    ci_low: float
    ci_high: float
    best: bool = False  # the highest reward-model cell of its column


@dataclass
class Pivot:
    task: str
    generator: str
    ns: list[int]
    problems: int
    rows: list[tuple[str, dict]] = field(default_factory=list)       # (run, {(method, n): Cell})
    baselines: list[tuple[str, dict]] = field(default_factory=list)  # (method, {(column method, n): Cell})
    baseline_from: str = ""                                          # the run the baseline rows were read from
    plain: set = field(default_factory=set)                          # runs named for their reward model (no label)

    @property
    def columns(self) -> list[tuple[str, int]]:
        return [(m, n) for m in METHODS for n in self.ns]


def pivot_ns(ns: set[int]) -> list[int]:
    """The N columns: every N above 1, or, when there are more than three, the powers of 4 and the largest (the
    paper's 4 / 16 / 64)."""
    above = sorted(n for n in ns if n > 1) or sorted(ns)
    if len(above) <= 3:
        return above
    keep = [n for n in above if n & (n - 1) == 0 and (n.bit_length() - 1) % 2 == 0]
    return sorted(set(keep + [above[-1]]))


def _cell(row: dict) -> Cell:
    return Cell(float(row["accuracy"]), float(row["ci_low"]), float(row["ci_high"]))


def pivot_tables(rows: list[dict], aggregation: str = "min") -> list[Pivot]:
    """One Pivot per (task, generator) of leaderboard rows carrying their run's name in "run" (run_index), in the
    order the rows name them. A run that recorded several aggregations shows `aggregation`'s rows (else its first).
    Runs named for their reward model come first, then the labelled variants (ablations, seeds); both in name
    order."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((str(r.get("task")), str(r.get("generator"))), []).append(r)
    out = []
    for (task, gen), rs in groups.items():  # in the runs' own order (weak, mid, strong for arith)
        ns = pivot_ns({int(r["n"]) for r in rs if r["method"] in METHODS})
        by_run: dict[str, dict] = {}
        aggs: dict[str, set] = {}
        for r in rs:
            if r["method"] in METHODS:
                aggs.setdefault(r["run"], set()).add(r["aggregation"])
        for r in rs:
            if r["method"] not in METHODS or int(r["n"]) not in ns:
                continue
            agg = aggregation if aggregation in aggs[r["run"]] else sorted(aggs[r["run"]])[0]
            if r["aggregation"] == agg:
                by_run.setdefault(r["run"], {})[r["method"], int(r["n"])] = _cell(r)
        rms = {r["run"]: r.get("rm") for r in rs if r["method"] in METHODS}
        order = sorted(by_run, key=lambda run: (run != rms.get(run), run))
        piv = Pivot(task, gen, ns, max(int(r.get("problems", 0)) for r in rs), [(run, by_run[run]) for run in order],
                    plain={run for run in by_run if run == rms.get(run)})
        for col in piv.columns:
            vals = [cells[col].accuracy for _, cells in piv.rows if col in cells]
            for _, cells in piv.rows:
                if col in cells and vals and cells[col].accuracy == max(vals):
                    cells[col].best = True
        for method, (_, under) in BASELINES.items():
            found = [r for r in rs if r["method"] == method and int(r["n"]) in ns]
            if not found:
                continue
            src = min(r["run"] for r in found)  # every run on one pool records the same baselines; read one
            piv.baseline_from = piv.baseline_from or src
            piv.baselines.append((method, {(under, int(r["n"])): _cell(r) for r in found if r["run"] == src}))
        out.append(piv)
    return out


def _view_cell(cell: Cell | None, run: str, method: str, n: int) -> dict:
    if cell is None:
        return {"text": "", "ci": "", "best": False, "run": run, "method": method, "n": n}
    return {"text": f"{100 * cell.accuracy:.1f}", "ci": f"[{100 * cell.ci_low:.1f}, {100 * cell.ci_high:.1f}]",
            "best": cell.best, "run": run, "method": method, "n": n}


def view(piv: Pivot, plot: str | None = None) -> dict:
    """What the site's template draws of one pivot: header groups, rows of cells (text, CI, what they are), and
    the generator's accuracy-vs-N plot (base64 PNG) when there is one."""
    rms = {run for run, _ in piv.rows if run in piv.plain}
    rows = [{"name": run, "baseline": False, "variant": run not in rms,
             "cells": [_view_cell(cells.get(col), run, col[0], col[1]) for col in piv.columns]}
            for run, cells in piv.rows]
    for method, cells in piv.baselines:
        rows.append({"name": BASELINES[method][0], "baseline": True, "variant": False,
                     "cells": [_view_cell(cells.get(col), piv.baseline_from, method, col[1]) for col in piv.columns]})
    return {"task": piv.task, "generator": piv.generator, "problems": piv.problems, "ns": piv.ns,
            "groups": [(METHOD_TITLES[m], len(piv.ns)) for m in METHODS], "rows": rows,
            "baseline_from": piv.baseline_from, "plot": plot,
            "anchor": "pivot-" + "".join(c if c.isalnum() else "-" for c in f"{piv.task}-{piv.generator}")}
