"""Leaderboard rows from a graded pool and its cached score sets: every method x aggregation x n, with 95% CIs.

Rows have exactly these keys: task, generator, rm, method, aggregation, n, accuracy, ci_low, ci_high, problems
(README.md, Layout: File formats).
Rows of methods that use no reward model (majority vote, pass@n) carry rm = "-" and aggregation = "-".
Nothing here loads a model: scores come from harness.core.scores.list_scores(pool.content_hash()).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from tabulate import tabulate

from harness.core import scores as scores_mod
from harness.core.cache import stable_hash
from harness.core.errors import InputError
from harness.core.pool import Pool, Problem
from harness.core.publisher_steps import is_default
from harness.selection import paper as paper_sel
from harness.selection import (
    ESTIMATORS,
    METHODS,
    USES_RM,
    WEIGHTINGS,
    Batch,
    as_scores,
    best_of_n,
    bootstrap_ci,
    pack,
    pass_at_n,
    votes,
)

# harness: the harness's estimators (random subsets, ties split); paper: the ImplicitPRM authors' bon_eval.py
# (harness.selection.paper). Rows of the paper protocol carry "protocol": "paper".
PROTOCOLS = ("harness", "paper")
ROW_KEYS = ("task", "generator", "rm", "method", "aggregation", "n", "accuracy", "ci_low", "ci_high", "problems")
FORMATS = ("table", "json", "csv", "markdown")
NO_RM = "-"


@dataclass
class Options:
    methods: Sequence[str] = METHODS
    aggregations: Sequence[str] = ("min",)
    ns: Sequence[int] | None = None        # None: powers of two up to the largest pool size
    subsets: str = "random"
    weights: str = "sigmoid"
    mc_samples: int = 256
    bootstrap: int = 1000
    seed: int = 0
    # Count each distinct text of a problem once (its first copy): a diagnostic for duplicate-heavy pools, where a
    # deterministic scorer gives all copies of a text one score (real pools: 10-20% of responses are repeats).
    distinct: bool = False
    protocol: str = "harness"

    def validate(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise InputError(f"unknown protocol '{self.protocol}'", field="--protocol",
                             expected="harness (the harness's estimators) or paper (the ImplicitPRM authors' "
                                      "eval/bon_eval.py)")
        if self.protocol == "paper" and self.weights not in ("sigmoid", "raw"):
            raise InputError(f"the paper protocol has no '{self.weights}' vote weighting", field="--weights",
                             expected="sigmoid (implicit PRMs, as bon_eval.py) or raw (other reward models)")
        for m in self.methods:
            if m not in METHODS:
                raise InputError(f"unknown method '{m}'", field="methods", expected="one of " + ", ".join(METHODS))
        for a in self.aggregations:
            if a not in scores_mod.AGGREGATIONS:
                raise InputError(f"unknown aggregation '{a}'", field="aggregation",
                                 expected="one of " + ", ".join(scores_mod.AGGREGATIONS))
        if self.subsets not in ESTIMATORS:
            raise InputError(f"unknown subset estimator '{self.subsets}'", field="subsets",
                             expected=" or ".join(ESTIMATORS))
        if self.weights not in WEIGHTINGS:
            raise InputError(f"unknown vote weighting '{self.weights}'", field="weights",
                             expected="one of " + ", ".join(WEIGHTINGS))
        if self.ns is not None and (not self.ns or min(self.ns) < 1):
            raise InputError(f"invalid n values {list(self.ns)}", field="n", expected="integers >= 1")
        if self.mc_samples < 1 or self.bootstrap < 1:
            raise InputError("--mc-samples and --bootstrap must be >= 1", field="mc-samples/bootstrap")


@dataclass
class PoolResult:
    name: str
    task: str
    generator: str
    problems: int
    rows: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Each row's per-problem accuracies, {(rm, method, aggregation, n): (P,) array}, and the problems' ids in that
    # order: what a run records for tables that pair two runs problem by problem (harness.evaluation.per_problem).
    per_problem: dict = field(default_factory=dict, repr=False)
    problem_ids: list[str] = field(default_factory=list, repr=False)


def default_ns(pools: Sequence[Pool]) -> list[int]:
    """Powers of two up to the largest pool size, plus that size when it is not a power of two (n = N is the
    full-pool number most papers quote, e.g. N = 100 or 500 for OVM pools)."""
    top = max(len(q.responses) for p in pools for q in p.problems)
    ns = [1 << k for k in range(top.bit_length()) if (1 << k) <= top]
    return ns if ns[-1] == top else ns + [top]


def pool_task(pool: Pool) -> str:
    tasks = {p.meta.get("task") for p in pool.problems}
    if len(tasks) == 1:
        t = tasks.pop()
        return str(t) if t is not None else "unknown"
    return "mixed"


def pool_batch(pool: Pool) -> Batch:
    """Correctness and answer classes of a graded pool; an ungraded response is an InputError.

    Graded responses carry a canonical `answer_key` (e.g. "14/3" for "\\frac{14}{3}"): group by it so equal
    answers written differently vote together, else by the raw answer. A response without an answer never
    receives votes.
    """
    correct, groups = [], []
    for p in pool.problems:
        cor = [r.correct for r in p.responses]
        if None in cor:
            raise InputError(f"pool is not graded (problem '{p.id}' has no correctness); run "
                             "`python -m harness grade` first", file=pool.path or "<pool>",
                             field=f"responses[{cor.index(None)}].correct", expected="true or false")
        correct.append(cor)
        ids: dict[str, int] = {}
        groups.append([-1 if r.answer is None else
                       ids.setdefault(r.answer if (k := r.extra.get("answer_key")) is None else str(k), len(ids))
                       for r in p.responses])
    return pack(correct, groups)


def _labels(score_sets) -> list[str]:
    """rm names, with the steps they scored when not the harness's (`qwen_prm[steps=publisher]`), disambiguated by a
    short config hash when one pool has several score sets of the same name."""
    names = [ss.rm + ("" if is_default(ss.meta.get("steps")) else f"[steps={ss.meta['steps']}]") for ss in score_sets]
    return [n if names.count(n) == 1 else f"{n}[{stable_hash(ss.meta)[:6]}]" for n, ss in zip(names, score_sets)]


def _pool_seed(seed: int, pool_hash: str, stream: int) -> np.random.SeedSequence:
    # Keyed by the pool content so a pool's numbers do not depend on which other pools are in the same call.
    return np.random.SeedSequence([int(seed), int(pool_hash[:12], 16), stream])


def distinct_indices(pool: Pool) -> list[list[int]]:
    """Per problem, the index of the first response of each distinct text, in generation order."""
    out = []
    for p in pool.problems:
        seen: set[str] = set()
        out.append([j for j, r in enumerate(p.responses) if not (r.text in seen or seen.add(r.text))])
    return out


def _distinct_view(pool: Pool, keep: list[list[int]]) -> Pool:
    return Pool([Problem(p.id, p.problem, p.reference, [p.responses[j] for j in k], p.meta)
                 for p, k in zip(pool.problems, keep)], pool.path)


def evaluate_pool(pool: Pool, score_sets, opts: Options, ns: Sequence[int], pool_hash: str | None = None
                  ) -> PoolResult:
    pool_hash = pool_hash or pool.content_hash()
    name = pool.path.name if pool.path is not None else "pool"
    keep = distinct_indices(pool) if opts.distinct else None
    full = pool
    if keep is not None:
        pool = _distinct_view(pool, keep)
    batch = pool_batch(pool)
    res = PoolResult(name + (" [distinct texts]" if keep is not None else "")
                     + (" [paper protocol: ImplicitPRM bon_eval.py]" if opts.protocol == "paper" else ""),
                     pool_task(pool), pool.generator(), len(pool))
    if keep is not None:
        res.notes.append(f"{name}: each distinct text of a problem counted once: {pool.n_responses} of "
                         f"{full.n_responses} responses")
    ns = sorted(set(int(n) for n in ns))
    where = f"score sets under {scores_mod.score_dir(pool_hash)}"
    _check_score_sets(score_sets, full, pool_hash, where, pool.path)
    use_rm = [m for m in opts.methods if m in USES_RM]
    rm_scores = _rm_scores(score_sets, opts, batch, keep, pool.path, where) if use_rm else []
    columns, blocks = _accuracies(batch, rm_scores, opts, ns, pool_hash)

    if not score_sets and use_rm:
        res.notes.append(f"{name}: no cached score sets for this pool (content hash {pool_hash}); run "
                         "`python -m harness score` first. Showing reward-model-free rows only.")
    clipped = batch.clipped(sorted(set(ns) | {1}))
    if clipped:
        res.notes.append(f"{name}: n clipped to the problem's response count for " +
                         ", ".join(f"n={n} ({k} of {len(pool)} problems)" for n, k in clipped.items()))
    if blocks:
        _add_rows(res, pool, columns, np.concatenate(blocks, axis=1), opts, pool_hash)
    return res


def _check_score_sets(score_sets, full: Pool, pool_hash: str, where: str, path) -> None:
    """Every score set is for this pool, response for response (errors name `path`)."""
    for ss in score_sets:
        if ss.pool_hash != pool_hash:
            raise InputError(f"score set '{ss.rm}' is for pool {ss.pool_hash}, not this pool ({pool_hash})",
                             file=path, expected=where)
        try:
            scores_mod.check_matches(ss, full)
        except InputError as e:
            raise InputError(f"{e}; {where}", file=path) from None


def _rm_scores(score_sets, opts: Options, batch, keep, path, where: str) -> list:
    """(label, aggregation, padded scores) of every score set under every aggregation asked for."""
    rm_scores = []
    for label, ss in zip(_labels(score_sets), score_sets):
        for agg in opts.aggregations:
            try:
                agg_scores = ss.aggregate(agg)
                if keep is not None:
                    agg_scores = [np.asarray(s)[k] for s, k in zip(agg_scores, keep)]
                rm_scores.append((label, agg, as_scores(batch, agg_scores, name=f"score set '{label}' ({agg})")))
            except InputError as e:
                raise InputError(f"{e}; {where}", file=path) from None
    return rm_scores


def _accuracies(batch, rm_scores: list, opts: Options, ns: list[int], pool_hash: str
                ) -> tuple[list[tuple[str, str, str, list[int]]], list[np.ndarray]]:
    """(columns, blocks): per accuracy block its (rm, method, aggregation, ns) and its (problems, ns) accuracies:
    pass@n, then best-of-N of every score set, then the votes (majority and weighted) in one call."""
    columns: list[tuple[str, str, str, list[int]]] = []
    blocks: list[np.ndarray] = []
    paper = opts.protocol == "paper"
    subsets = "prefix" if paper else opts.subsets
    if "pass_at_n" in opts.methods:
        pns = sorted(set(ns) | {1})  # pass@1 = mean accuracy of single responses
        columns.append((NO_RM, "pass_at_n", NO_RM, pns))
        blocks.append(pass_at_n(batch, pns, subsets=subsets))
    vote_inputs, vote_cols = [], []
    if "majority_vote" in opts.methods:
        vote_inputs.append(None)
        vote_cols.append((NO_RM, "majority_vote", NO_RM, ns))
    for label, agg, s in rm_scores:
        if "best_of_n" in opts.methods:
            columns.append((label, "best_of_n", agg, ns))
            blocks.append(paper_sel.best_of_n(batch, s, ns) if paper else best_of_n(batch, s, ns, subsets=subsets))
        if "weighted_vote" in opts.methods:
            vote_inputs.append(s)
            vote_cols.append((label, "weighted_vote", agg, ns))
    if vote_inputs and paper:
        columns += vote_cols
        blocks += paper_sel.votes(batch, [None if s is None else paper_sel.vote_weights(s, opts.weights)
                                          for s in vote_inputs], ns)
    elif vote_inputs:
        # One call: every vote is computed on the same random subsets (common random numbers).
        accs = votes(batch, vote_inputs, ns, weights=opts.weights, subsets=opts.subsets,
                     mc_samples=opts.mc_samples, seed=_pool_seed(opts.seed, pool_hash, 0))
        columns += vote_cols
        blocks += accs
    return columns, blocks


def _add_rows(res: PoolResult, pool: Pool, columns: list, acc: np.ndarray, opts: Options, pool_hash: str) -> None:
    """The rows of `res` (mean and bootstrap interval of every column, in display order) and its per-problem
    accuracies; `acc` is (problems, all columns): one bootstrap for everything."""
    paper = opts.protocol == "paper"
    mean, low, high = bootstrap_ci(acc, resamples=opts.bootstrap, seed=_pool_seed(opts.seed, pool_hash, 1))
    ordered = sorted(range(len(columns)), key=lambda i: _order(columns[i]))
    offsets = np.cumsum([0] + [len(c[3]) for c in columns])
    for i in ordered:
        rm, method, agg, cns = columns[i]
        for j, n in enumerate(cns):
            k = offsets[i] + j
            res.rows.append(dict(zip(ROW_KEYS, (res.task, res.generator, rm, method, agg, int(n),
                                                _r(mean[k]), _r(low[k]), _r(high[k]), len(pool))),
                                 **({"protocol": "paper"} if paper else {})))
            res.per_problem[(rm, method, agg, int(n))] = acc[:, k]
    res.problem_ids = [str(p.id) for p in pool.problems]


def _order(col):
    rm, method, agg, _ = col
    return (rm != NO_RM, rm, agg, METHODS.index(method) if rm != NO_RM else -METHODS.index(method))


def _r(x: float) -> float:
    return round(float(x), 6)


def build(pools: Sequence[Pool], opts: Options) -> list[PoolResult]:
    opts.validate()
    ns = list(opts.ns) if opts.ns is not None else default_ns(pools)
    out = []
    for p in pools:
        h = p.content_hash()
        out.append(evaluate_pool(p, scores_mod.list_scores(h), opts, ns, h))
    return out


# ---------------------------------------------------------------------------------------------- rendering

def rows_of(results: Sequence[PoolResult]) -> list[dict]:
    return [r for res in results for r in res.rows]


def render(results: Sequence[PoolResult], fmt: str = "table") -> str:
    if fmt == "json":
        rows = rows_of(results)
        body = ",\n  ".join(json.dumps(r, ensure_ascii=False) for r in rows)
        return '{"rows": [\n  ' + body + "\n]}\n" if rows else '{"rows": []}\n'
    if fmt == "csv":
        buf = io.StringIO()
        rows = rows_of(results)
        extra = [k for k in dict.fromkeys(k for r in rows for k in r) if k not in ROW_KEYS]  # e.g. a listing's "run"
        w = csv.DictWriter(buf, fieldnames=[*ROW_KEYS, *extra], lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        return buf.getvalue()
    if fmt in ("table", "markdown"):
        return "\n".join(_wide(res, fmt) for res in results)
    raise InputError(f"unknown format '{fmt}'", field="format", expected="one of " + ", ".join(FORMATS))


def _wide(res: PoolResult, fmt: str) -> str:
    """rows = rm/method/aggregation, columns = n, cells = accuracy in %."""
    ns = sorted({r["n"] for r in res.rows})
    table: dict[tuple, dict[int, float]] = {}
    for r in res.rows:
        table.setdefault((r["rm"], r["method"], r["aggregation"]), {})[r["n"]] = 100.0 * r["accuracy"]
    body = [[rm, method, agg] + [cells.get(n, "") for n in ns] for (rm, method, agg), cells in table.items()]
    title = f"{res.task} / {res.generator}  ({res.name}, {res.problems} problems; accuracy % by n)"
    head = ["rm", "method", "agg"] + [f"n={n}" for n in ns]
    if fmt == "markdown":
        return f"### {title}\n\n" + tabulate(body, head, tablefmt="github", floatfmt=".1f") + "\n"
    return title + "\n" + tabulate(body, head, tablefmt="simple", floatfmt=".1f") + "\n"
