"""`harness search`: reward-guided search on the arith world beside best-of-N and weighted vote of the same reward
model on sampled pools, at equal N and against compute.

For each generator and N: the search pool (N solutions a problem) is scored by the reward model like any pool and
ranked by best-of-N and weighted vote over its N solutions; the baseline is the world's sampled test pool (64
responses a problem at the same temperature and token budget), ranked over random N-subsets (the exact
expectation for best-of-N). Compute per problem, counted the same way for both:

    generator FLOPs  2 * generator parameters * (prompt + generated tokens; pruned branches included)
    reward FLOPs     2 * (policy + reference parameters) * tokens the reward model runs: the search's incremental
                     passes (each token of every branch once, the prompt once), which also give the finished
                     solutions' step rewards; best-of-N: one pass over the prompt and each sampled response

With an incremental guide the finished solutions' step rewards are sums of what the guide computed
(stage.hand_over_scores), so scoring a search pool runs no model again. A re-scoring guide's tokens count its
prefix passes; the harness then scores the finished pool through the ordinary path, which is not counted (its FLOPs
a token are the adapter's, unknown here, so the compute columns stay empty for it).
"""

from __future__ import annotations

import dataclasses
import sys

import numpy as np

from harness import scoring
from harness.core.errors import InputError
from harness.core.pool import Pool
from harness.core.prompting import build_prompt
from harness.core.scores import ScoreSet
from harness.evaluation import leaderboard as lb
from harness.flow.config import RunConfig, SearchOptions
from harness.flow.pools import resolve_inputs
from harness.flow.prepare import prepare_rm
from harness.flow.report import write_run
from harness.flow.reports import SearchReport
from harness.flow.search.guides import make_guide
from harness.flow.search.stage import search_pool
from harness.flow.timings import Stopwatch
from harness.generation.search.tree import SearchConfig
from tasks import get_task

__all__ = ["SearchOptions", "run_search"]  # SearchOptions lives in harness.flow.config, beside RunConfig


def run_search(cfg: RunConfig, log=None) -> SearchReport:
    """cfg: the RunConfig of the reward model (`run`'s options) with the search's options in cfg.search; the report
    (rows, costs, timings), its run files written."""
    log = log or (lambda m: print(m, file=sys.stderr))
    opts = cfg.search or SearchOptions()
    if cfg.task != "arith" or cfg.pools:
        raise InputError("search runs on the arith world's generators", field="--task",
                         expected="--task arith (the generators of other tasks are not on this machine)")
    import torch  # here, not at the top: importing the flows does not load torch
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    clock = Stopwatch()
    with clock.stage("prepare"):
        inputs = resolve_inputs(cfg, log)
        task = get_task(cfg.task)
        world = task.open_world(scale=cfg.scale, seed=cfg.seed, rebuild=cfg.rebuild, log=log)
        rm = prepare_rm(cfg, inputs, log)
    clock.add("search", 0.0)  # listed in this order, though the baselines are scored first
    clock.add("score", 0.0)
    wcfg = world.summary.get("config", {})
    temperature = opts.temperature or wcfg.get("temperature", 0.5)
    budget = opts.max_new_tokens or wcfg.get("max_new_tokens", 200)
    lb_opts = cfg.selection(ns=opts.ns)
    guide, generators = None, {}
    for g, full in zip(cfg.generators, inputs.test_pools):
        gdir = world.generator(g)
        model, tok = task.load_generator(gdir)
        if guide is None and any(m != "sample" for m in opts.methods):
            guide = make_guide(rm, tok, opts.guide, opts.guide_aggregation)
            log(f"[search] guide: {type(guide).__name__} of {rm.name}")
        gen_params = sum(p.numel() for p in model.parameters())
        problems = full.problems[:opts.max_problems] if opts.max_problems else full.problems
        base = Pool(problems, full.path)
        with clock.stage("score"):
            base_ss = _baseline_scores(rm, full, base)
        entry = {"generator_params": gen_params, "problems": len(problems), "rows": [], "cost": {}}
        res = lb.evaluate_pool(base, [base_ss], lb_opts, opts.ns)
        entry["rows"] += [{**r, "source": "sampled"} for r in res.rows]
        entry["cost"]["sampled"] = _sampled_cost(base, tok, opts.ns, gen_params, guide)
        for method in opts.methods:
            for n in opts.ns:
                scfg = SearchConfig(method=method, n=n, expand=opts.expand, temperature=temperature,
                                    max_new_tokens=budget, seed=opts.seed)
                scfg.validate()
                with clock.stage("search"):
                    pool = search_pool(gdir, problems, scfg, rm=rm, guide=None if method == "sample" else guide,
                                       task=task, meta={"generator": g}, log=log, model=(model, tok))
                with clock.stage("score"):
                    ss = rm.score(pool)
                res = lb.evaluate_pool(pool, [ss], lb_opts, [n])
                entry["rows"] += [{**r, "source": method} for r in res.rows]
                entry["cost"].setdefault(method, {})[str(n)] = _search_cost(pool, gen_params, guide)
        generators[g] = entry
    report = SearchReport(config=cfg, command=cfg.command(), search=opts, world=world.key, rm=rm.name,
                          temperature=temperature, max_new_tokens=budget, generators=generators,
                          timings=clock.timings(), guide=type(guide).__name__ if guide is not None else None,
                          rm_params=getattr(guide, "params", None))
    return dataclasses.replace(report, written=tuple(str(p) for p in write_run(report)))


def _baseline_scores(rm, full: Pool, part: Pool):
    """Scores of the first problems of a sampled pool: sliced from the full pool's score set when `run` cached it
    (scores are per problem), else computed for those problems only."""
    if len(part.problems) == len(full.problems):
        return rm.score(full)
    ss = scoring.cached(rm.score_path(full), full)
    if ss is None:
        return rm.score(part)
    return ScoreSet(ss.rm, part.content_hash(), ss.step_scores[:len(part.problems)], ss.meta)


def _sampled_cost(pool: Pool, tok, ns, gen_params: int, guide) -> dict:
    """Expected compute a problem of best-of-N over N sampled responses: N times the pool's mean response tokens
    (eos included), the prompt once."""
    per_problem_mean = []
    prompts = []
    for p in pool.problems:
        lens = [len(ids) + 1 for ids in tok([r.text for r in p.responses], add_special_tokens=False)["input_ids"]]
        per_problem_mean.append(float(np.mean(lens)))
        prompts.append(len(tok(build_prompt(tok, p.problem), add_special_tokens=False)["input_ids"]))
    mean_len, prompt = float(np.mean(per_problem_mean)), float(np.mean(prompts))
    rm_params = _rm_params(guide)
    out = {}
    for n in ns:
        gen = n * mean_len
        out[str(n)] = {"generated_tokens": gen, "generator_flops": 2.0 * gen_params * (prompt + gen),
                       "rm_tokens": prompt + gen,
                       "rm_flops": None if rm_params is None else 2.0 * rm_params * (prompt + gen)}
    return out


def _rm_params(guide) -> int | None:
    """Parameters the reward model runs a token through (policy + reference); None for a re-scoring guide."""
    return sum(guide.params) if guide is not None and hasattr(guide, "params") else None


def _search_cost(pool: Pool, gen_params: int, guide) -> dict:
    """Mean compute a problem of a search pool; method=sample (no guide) pays one reward-model pass over its
    responses, as best-of-N does."""
    metas = [p.meta["search"] for p in pool.problems]
    gen = float(np.mean([m["generated_tokens"] for m in metas]))
    prompt = float(np.mean([m["prompt_tokens"] for m in metas]))
    out = {"generated_tokens": gen, "generator_flops": 2.0 * gen_params * (prompt + gen)}
    if metas[0].get("guide") is None:
        rm_params = _rm_params(guide)
        return {**out, "rm_tokens": prompt + gen, "rm_flops": None if rm_params is None else
                2.0 * rm_params * (prompt + gen)}
    flops = [m.get("guide_flops") for m in metas]
    return {**out, "rm_tokens": float(np.mean([m.get("guide_tokens", 0) for m in metas])),
            "rm_flops": None if None in flops else float(np.mean(flops))}
