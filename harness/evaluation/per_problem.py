"""The per-problem accuracies a run file records, so that `tables` can pair two runs problem by problem.

A row of a run file is a mean over problems; a verdict "A beats B" needs the paired bootstrap of A - B over the
same problems (harness.selection.bootstrap.paired_difference), hence each problem's own accuracy. Only what the
paper's tables compare is kept, per generator: best-of-N at each N of the Table 1 average, the weighted and the
majority vote averaged over those N (Figure 3), and pass@1 (random choice). The problems are named by a hash of
their ids in order, so two runs pair only when they measured the same problems in the same order.

In the run's JSON the block is the field "per_problem":
    {"about": ..., "aggregation": "min", "ns": [4, 16, 64], "digits": 4,
     "generators": {"mid": {"problems": "<hash of the ids>", "count": 500,
                            "best_of_n@4": [...], "best_of_n@16": [...], "best_of_n@64": [...],
                            "weighted_vote@avg": [...], "majority_vote@avg": [...], "pass_at_n@1": [...]}, ...}}
each vector in the order of the pool's problems, accuracies in [0, 1] rounded to `digits`.
"""

from __future__ import annotations

import json

import numpy as np

from harness.core.cache import stable_hash

TABLE_NS = (4, 16, 64)  # the N of the paper's Table 1 average (harness.paper.tables.NS)
DIGITS = 4              # 1e-4 per problem: far below the bootstrap's resolution over hundreds of problems
FIELD = "per_problem"
NO_RM = "-"


def key(method: str, n: int | str) -> str:
    return f"{method}@{n}"


def problems_key(ids) -> str:
    return stable_hash([str(i) for i in ids], 12)


def record(results, rm: str, aggregation: str, ns=TABLE_NS) -> dict:
    """The block for one run: `results` are its PoolResults (one per generator), `rm` the label of its rows."""
    gens = {}
    for res in results:
        pp = res.per_problem
        out = {"problems": problems_key(res.problem_ids), "count": len(res.problem_ids)}
        for n in ns:
            if (rm, "best_of_n", aggregation, n) in pp:
                out[key("best_of_n", n)] = _vec(pp[(rm, "best_of_n", aggregation, n)])
        for method, who, agg in (("weighted_vote", rm, aggregation), ("majority_vote", NO_RM, NO_RM)):
            cols = [pp.get((who, method, agg, n)) for n in ns]
            if all(c is not None for c in cols):
                out[key(method, "avg")] = _vec(np.mean(cols, axis=0))
        if (NO_RM, "pass_at_n", NO_RM, 1) in pp:
            out[key("pass_at_n", 1)] = _vec(pp[(NO_RM, "pass_at_n", NO_RM, 1)])
        gens[res.generator] = out
    return {"about": "each problem's expected accuracy (0-1), in pool order, for tables' paired comparisons",
            "aggregation": aggregation, "ns": list(ns), "digits": DIGITS, "generators": gens}


def _vec(a) -> list[float]:
    out = [round(float(x), DIGITS) for x in np.asarray(a, dtype=np.float64)]
    return [int(x) if x.is_integer() else x for x in out]  # 0 and 1 (most problems) without ".0"


def to_json(block: dict, indent: int = 1, level: int = 1) -> str:
    """The block as indented JSON with each vector on one line (a run file stays readable and small)."""
    pad, inner = " " * indent * level, " " * indent * (level + 1)
    items = []
    for k, v in block.items():
        if isinstance(v, dict):
            text = to_json(v, indent, level + 1)
        elif isinstance(v, list):
            text = json.dumps(v, separators=(",", ":"))
        else:
            text = json.dumps(v, ensure_ascii=False)
        items.append(f"{inner}{json.dumps(k)}: {text}")
    return "{}" if not items else "{\n" + ",\n".join(items) + "\n" + pad + "}"
