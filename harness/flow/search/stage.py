"""`search` as a stage: the search pool of one generator, method and N, cached and resumable.

A search pool is keyed by everything its texts depend on: the generator's files, the problems, the search settings
(method, N, M, temperature, token budget, seed) and the guide (the reward model's scoring identity, which names its
checkpoint's fingerprint, and how the guide reads it). Problems go in chunks of about ROWS partial solutions;
each finished chunk is kept (checksummed) under <cache>/search/<key>.chunks/ until the pool is written, so an
interrupted search resumes where it stopped. The pool is graded by its task's grader (as the world's pools are), and each response
carries its search metadata (the guide's score after each step, where the steps ended); each problem's meta
carries the search's compute (generated tokens, guide tokens and FLOPs, which include the branches pruned).
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

from harness.core import cache, chunks, jobs
from harness.core.fingerprint import fingerprint
from harness.core.pool import Pool, Problem, Response, load_pool_checked, parse_record, save_pool_checked
from harness.core.scores import ScoreSet, save_scores
from harness.generation.search.tree import SearchConfig, StopTable, search_batch
from harness.scoring import identity

SEARCH_VERSION = 1
ROWS = 3200  # partial solutions a chunk holds at once: N = 64 -> 50 problems a chunk


def guide_identity(rm, guide) -> dict | None:
    if guide is None:
        return None
    return {"rm": rm.name, "scoring": identity(rm), "guide": type(guide).__name__,
            "aggregation": getattr(guide, "aggregation", None)}


def search_key(generator_dir, problems, cfg: SearchConfig, guide_id: dict | None) -> str:
    return cache.stable_hash({"version": SEARCH_VERSION, "generator": fingerprint(generator_dir),
                              "problems": cache.stable_hash([[p.id, p.problem] for p in problems]),
                              "search": asdict(cfg), "guide": guide_id})


def search_path(key: str) -> Path:
    return cache.root() / "search" / f"{key}.jsonl"


def search_pool(generator_dir, problems: list[Problem], cfg: SearchConfig, rm=None, guide=None, task=None,
                meta: dict | None = None, log=None, model=None) -> Pool:
    """The graded search pool of `problems` (records with id, problem, reference), computed if missing.

    task: the Task whose generator searches (tasks.get_task("arith")): its grader grades every finished response
    (task.grade) and it loads the generator; None leaves the responses ungraded and needs `model`, the generator
    already loaded (model, tokenizer).
    """
    log = log or (lambda m: print(m, file=sys.stderr))
    key = search_key(generator_dir, problems, cfg, guide_identity(rm, guide))
    path = search_path(key)
    found = load_pool_checked(path, "searching again") if path.exists() else None
    if found is not None:
        return found
    size = max(1, ROWS // cfg.n)
    spans = chunks.plan_chunks(len(problems), size)
    label = f"search {cfg.method} N={cfg.n}" + (f" M={cfg.expansions()}" if cfg.method != "sample" else "")
    job = jobs.ChunkedJob(label="[search]", spans=spans, keys=[cache.stable_hash([key, span]) for span in spans],
                          store=chunks.ChunkStore(path.with_suffix(".chunks")), product=str(path), bar=label)

    def start():
        if model is None and task is None:
            raise ValueError("search_pool needs the generator: its task (to load it) or model=(model, tokenizer)")
        gen_model, tok = model or task.load_generator(Path(generator_dir))
        stop = StopTable(tok)

        def compute(span: tuple[int, int]) -> list[dict]:
            part = problems[span[0]:span[1]]
            done, stats = search_batch(gen_model, tok, part, cfg, guide=guide, stop=stop)
            return [_record(p, chains, st, tok, cfg, rm, guide, task, meta) for p, chains, st in zip(part, done, stats)]
        return compute

    def finish(parts: list[list[dict]]) -> Pool:
        pool = Pool([parse_record(d, path) for part in parts for d in part])
        save_pool_checked(pool, path)
        return pool
    # one process: a search is not split across ranks (the search command runs it in one)
    pool = jobs.run(job, start, finish, log=log)
    pool = Pool(pool.problems, path)
    hand_over_scores(pool, rm)
    return pool


def hand_over_scores(pool: Pool, rm) -> None:
    """Save the reward model's score set of the pool from the search's own passes (every response's
    step_rewards), so scoring the pool runs no model again: an implicit PRM's step rewards of a finished solution
    are the sums of the per-token rewards its guide already computed (equal to the ordinary scoring to float
    rounding, tests/flow/test_search.py). The few responses without them (truncated at the token budget: ordinary
    scoring appends an eos they never drew) are scored the ordinary way; nothing is saved when no response has
    them (a re-scoring guide) or a score set is already there."""
    if rm is None or rm.score_path(pool).exists():
        return
    steps = [[r.extra.get("search", {}).get("step_rewards") for r in p.responses] for p in pool.problems]
    missing = [(i, j) for i, row in enumerate(steps) for j, s in enumerate(row) if s is None]
    if len(missing) == sum(len(row) for row in steps):
        return
    if missing:
        rows: dict[int, list[int]] = {}
        for i, j in missing:
            rows.setdefault(i, []).append(j)
        part = Pool([Problem(pool.problems[i].id, pool.problems[i].problem, pool.problems[i].reference,
                             [pool.problems[i].responses[j] for j in js]) for i, js in rows.items()])
        computed, _ = rm.compute_scores(part)
        for (i, js), got in zip(rows.items(), computed):
            for j, s in zip(js, got):
                steps[i][j] = s
    key = rm.score_key(pool)
    save_scores(ScoreSet(rm.name, pool.content_hash(), steps,
                         {"key": key, **identity(rm), "source": "search: the guide's own passes",
                          "scored_again": len(missing)}), key)


def _record(p, chains, stats, tok, cfg: SearchConfig, rm, guide, task, meta) -> dict:
    responses = []
    for c in chains:
        text = tok.decode(c.text_tokens(), skip_special_tokens=True)
        answer, correct, extra = task.grade(text, p.reference) if task is not None else (None, None, {})
        ends = [len(tok.decode(c.tokens[:e], skip_special_tokens=True)) for e in c.ends]
        info = {"ends": ends, "truncated": c.truncated}
        if c.scores:
            info["scores"] = c.scores
        steps = guide.step_scores(tok, text, c) if hasattr(guide, "step_scores") else None
        if steps is not None:
            info["step_rewards"] = steps
        responses.append(Response(text, answer, correct, {**extra, "search": info}))
    search = {"method": cfg.method, "n": cfg.n, "expand": cfg.expansions(), "seed": cfg.seed,
              "temperature": cfg.temperature, "max_new_tokens": cfg.max_new_tokens,
              "rm": rm.name if guide is not None else None, "guide": type(guide).__name__ if guide else None,
              **stats}
    return Problem(p.id, p.problem, p.reference, responses,
                   {**(meta or {}), **{k: v for k, v in p.meta.items() if k in ("task", "generator", "split",
                                                                                 "world", "n_steps")},
                    "temperature": cfg.temperature, "search": search}).to_dict()

