"""Run files made by hand: per-problem best-of-N accuracies chosen by the test, the rows and the record derived from
them exactly as `run` derives its own (each row is the mean of its per-problem column)."""

from __future__ import annotations

import numpy as np

from harness.evaluation.per_problem import TABLE_NS, key, problems_key

GENS = ("weak", "mid", "strong")


def hand_run(rm: str, acc, *, label: str | None = None, seed: int = 0, within_low: float = 0.70,
             ids: list[str] | None = None, per_problem: bool = True, vote=None, majority=None) -> dict:
    """acc: per-problem best-of-N accuracy, one vector (every generator and N alike), or {gen: {n: vector}}."""
    acc = {g: {n: np.asarray(acc[g][n] if isinstance(acc, dict) else acc, dtype=float) for n in TABLE_NS}
           for g in GENS}
    P = len(acc["mid"][4])
    ids = ids or [f"p{i}" for i in range(P)]
    rows, gens = [], {}
    for g in GENS:
        pass1 = np.full(P, 0.25)
        entry = {"problems": problems_key(ids), "count": P, "pass_at_n@1": pass1.tolist()}
        for n in TABLE_NS:
            entry[key("best_of_n", n)] = acc[g][n].tolist()
            rows.append(_row(g, rm, "best_of_n", "min", n, acc[g][n]))
        for method, vec in (("weighted_vote", vote), ("majority_vote", majority)):
            if vec is not None:
                entry[key(method, "avg")] = list(vec)
        rows.append(_row(g, "-", "pass_at_n", "-", 1, pass1))
        gens[g] = entry
    auc = [{"generator": g, "rm": rm, "aggregation": "min", "auc": 0.8, "ci_low": 0.75, "ci_high": 0.85,
            "within_auc": within_low + 0.03, "within_ci_low": within_low, "within_ci_high": within_low + 0.06}
           for g in GENS]
    options = {"seed": str(seed)} if seed else {}
    run = {"config": {"rm": rm, "label": label, "rm_options": options, "seed": 0}, "rows": rows, "auc": auc,
           "command": f"python -m harness run --rm {rm}", "file": f"arith-default-{label or rm}.json"}
    if per_problem:
        run["per_problem"] = {"aggregation": "min", "ns": list(TABLE_NS), "digits": 4, "generators": gens}
    return run


def _row(g, rm, method, agg, n, vec) -> dict:
    return {"task": "arith", "generator": g, "rm": rm, "method": method, "aggregation": agg, "n": n,
            "accuracy": float(np.mean(vec)), "ci_low": 0.0, "ci_high": 1.0, "problems": len(vec)}
