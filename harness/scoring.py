"""Scoring a pool with any reward model: the cached, keyed, locked, resumable, distributed score set.

A reward model only says what its scores depend on (`scoring_identity()`) and computes them for a pool
(`compute_scores(pool)`); everything else is here. A score set is keyed by everything that determines its numbers:
the adapter options that matter for scoring, the fingerprint of every model file involved, and the pool's content
hash. Batch sizes and padding side are not part of the key, because the scores do not depend on them
(tests/reward_models/test_implicit.py checks that).

Scoring is resumable: the pool is scored in chunks of consecutive problems (harness.core.chunks.plan_chunks), each
finished chunk is written (atomically, with a checksum) to `<entry>.chunks/`, a restarted run computes only the
missing chunks, and the merged entry replaces the folder. A file lock keeps two runs from computing one entry at once;
a damaged entry is reported and recomputed. Under torchrun each rank computes its share of the chunks.
"""

from __future__ import annotations

from pathlib import Path

from harness.core import cache, chunks, distributed, jobs
from harness.core.errors import InputError
from harness.core.pool import Pool
from harness.core.publisher_steps import is_default
from harness.core.scores import ScoreSet, check_matches, save_scores, score_dir


def identity(rm) -> dict:
    """rm.scoring_identity(), plus the steps it scores when a reward model's Config has a `steps` option set to other
    than the harness's (harness.core.publisher_steps): the two modes' scores are keyed apart, and the harness mode's
    keys stay what they were before the option existed."""
    steps = getattr(rm.config, "steps", None)
    return {**rm.scoring_identity(), **({} if is_default(steps) else {"steps": steps})}


def score_key(rm, pool) -> str:
    return cache.stable_hash({"rm": rm.name, "scoring": identity(rm), "pool": pool.content_hash()})


def score_path(rm, pool, key: str | None = None) -> Path:
    return score_dir(pool.content_hash()) / f"{rm.name}-{key or score_key(rm, pool)}.json"


def score_pool(rm, pool) -> ScoreSet:
    """The cached score set of `pool`, computed chunk by chunk if missing (see compute_chunks).

    Under torchrun every rank calls this; rank 0 holds the entry's lock, says which chunks are missing, merges
    and writes; every rank returns the merged score set.
    """
    world = distributed.current()
    key = score_key(rm, pool)
    path = score_path(rm, pool, key)
    if not world.is_main:
        found = distributed.broadcast_json(None)
        if found is None:
            compute_chunks(rm, pool, key, path, world)
            found = distributed.broadcast_json(None)
        return ScoreSet(**found)

    def compute() -> ScoreSet:
        distributed.broadcast_json(None)  # the other ranks: it is missing, compute your share
        return compute_chunks(rm, pool, key, path, world)
    ss = jobs.once(path, lambda: cached(path, pool), compute)
    distributed.broadcast_json(ss.to_dict())
    return ss


def cached(path: Path, pool) -> ScoreSet | None:
    """The stored score set, or None if missing or damaged (damage is reported and the entry recomputed)."""
    d = cache.read_json_checked(path)
    if d is None:
        return None
    try:
        ss = ScoreSet(d["rm"], d["pool_hash"], d["step_scores"], d.get("meta", {}))
        check_matches(ss, pool)
    except (TypeError, KeyError, InputError) as e:
        cache.warn_corrupt(path, f"does not fit its pool: {e}")
        return None
    return ss


def score_chunks(rm, pool) -> list[tuple[int, int]]:
    """Problem ranges scored one at a time: chunks of $HARNESS_CHUNK_PROBLEMS, or the whole pool at once for
    adapters whose scores of a problem depend on the rest of the pool (chunkable = False)."""
    n = len(pool.problems)
    return chunks.plan_chunks(n, chunks.chunk_problems() if rm.chunkable else max(n, 1))


def compute_chunks(rm, pool, key: str, path: Path, world) -> ScoreSet | None:
    """Compute the missing chunks (this rank's share of them), keep each finished one on disk, merge on rank 0
    (harness.core.jobs: resuming, sharing, and the JSON round trip that makes a resumed run bit-identical)."""
    spans = score_chunks(rm, pool)
    keep = len(spans) > 1  # a single chunk is the product itself
    job = jobs.ChunkedJob(
        label=f"[score] {rm.name}:", spans=spans, product=str(path), keep=keep,
        keys=[cache.stable_hash([key, span, Pool(pool.problems[span[0]:span[1]]).content_hash()]) for span in spans],
        store=chunks.ChunkStore(path.with_suffix(".chunks")), unit="chunk",
        bar=f"score {rm.name}" if keep and getattr(rm.config, "progress", True) else "")

    def compute(span: tuple[int, int]) -> dict:
        part = Pool(pool.problems[span[0]:span[1]], pool.path)
        steps, meta = rm.compute_scores(part)
        check_matches(ScoreSet(rm.name, part.content_hash(), steps), part)
        return {"steps": steps, "meta": meta}

    def finish(values: list[dict]) -> ScoreSet:
        steps = [row for v in values for row in v["steps"]]
        meta = merge_meta([v["meta"] for v in values])
        recorded = {"steps": rm.config.steps} if hasattr(rm.config, "steps") else {}  # which steps, read where
        ss = ScoreSet(rm.name, pool.content_hash(), steps, {"key": key, **identity(rm), **recorded, **meta})
        check_matches(ss, pool)
        save_scores(ss, key)
        return ss
    return jobs.run(job, lambda: compute, finish, world=world)


def merge_meta(metas: list[dict]) -> dict:
    """One meta for chunks scored apart: integer values are counts (e.g. truncated responses) and add up; anything
    else is the same for every chunk and is taken from the first."""
    out: dict = {}
    for m in metas:
        for k, v in m.items():
            if k in out and _is_count(v) and _is_count(out[k]):
                out[k] += v
            else:
                out.setdefault(k, v)
    return out


def _is_count(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)
