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

from harness.core import cache, chunks
from harness.core.errors import InputError
from harness.core.scores import ScoreSet, check_matches, save_scores, score_dir


def identity(rm) -> dict:
    """rm.scoring_identity(), plus the steps it scores when a reward model's Config has a `steps` option set to other
    than the harness's (harness.core.publisher_steps): the two modes' scores are keyed apart, and the harness mode's
    keys stay what they were before the option existed."""
    from harness.core.publisher_steps import is_default
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
    from harness.core import distributed
    world = distributed.current()
    key = score_key(rm, pool)
    path = score_path(rm, pool, key)
    if not world.is_main:
        found = distributed.broadcast_json(None)
        if found is None:
            compute_chunks(rm, pool, key, path, world)
            found = distributed.broadcast_json(None)
        return ScoreSet(**found)
    ss, seen = cached(path, pool), cache.stamp(path)
    if ss is None:
        with chunks.locked(path):
            if cache.stamp(path) != seen:  # another run wrote it while we waited
                ss = cached(path, pool)
            if ss is None:
                distributed.broadcast_json(None)
                ss = compute_chunks(rm, pool, key, path, world)
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
    """Compute the missing chunks (this rank's share of them), keep each finished one on disk, merge on rank 0.

    Every chunk's values go through JSON before they are used, so a merge of chunks computed now and chunks read
    back after a restart is the same, bit for bit, as one uninterrupted run.
    """
    import json
    import sys
    import time

    from harness.core import distributed, progress
    from harness.core.pool import Pool
    spans = score_chunks(rm, pool)
    store = chunks.ChunkStore(path.with_suffix(".chunks"))
    keep = len(spans) > 1  # a single chunk is the product itself
    keys = [cache.stable_hash([key, span, Pool(pool.problems[span[0]:span[1]]).content_hash()])
            for span in spans]
    values: dict[int, dict] = {}
    if world.is_main and keep:
        for i, span in enumerate(spans):
            v = store.load(span, keys[i])
            if v is not None:
                values[i] = v
        if values:
            print(f"[score] {rm.name}: resuming, {len(values)} of {len(spans)} chunks already done "
                  f"({store.folder})", file=sys.stderr)
    todo = distributed.broadcast_json([i for i in range(len(spans)) if i not in values])
    delay = chunks.chunk_delay()
    computed = {}
    mine = world.mine(todo)
    bar = progress.bar(len(mine), f"score {rm.name}", "chunk",
                       enabled=keep and getattr(rm.config, "progress", True))
    for i in mine:
        a, b = spans[i]
        part = Pool(pool.problems[a:b], pool.path)
        steps, meta = rm.compute_scores(part)
        check_matches(ScoreSet(rm.name, part.content_hash(), steps), part)
        value = json.loads(json.dumps({"steps": steps, "meta": meta}))
        if keep:
            store.save(spans[i], keys[i], value)
        computed[str(i)] = value
        bar.update(1)
        if delay and keep:
            time.sleep(delay)
    bar.close()
    gathered = distributed.gather_json(computed)
    if not world.is_main:
        return None
    for part_values in gathered:
        values.update({int(i): v for i, v in part_values.items()})
    if world.active:
        print(f"[score] {rm.name}: {len(todo)} chunks computed by {world.size} processes ("
              + ", ".join(f"rank {r}: {len(p)}" for r, p in enumerate(gathered)) + ")", file=sys.stderr)
    missing = [i for i in range(len(spans)) if i not in values]
    if missing:  # cannot happen unless a rank lost work; never write a partial product
        raise RuntimeError(f"chunks {missing} of {path} were not computed")
    steps = [row for i in range(len(spans)) for row in values[i]["steps"]]
    meta = merge_meta([values[i]["meta"] for i in range(len(spans))])
    recorded = {"steps": rm.config.steps} if hasattr(rm.config, "steps") else {}  # which steps, where they are read
    ss = ScoreSet(rm.name, pool.content_hash(), steps, {"key": key, **identity(rm), **recorded, **meta})
    check_matches(ss, pool)
    save_scores(ss, key)
    if keep:
        store.clear()
    return ss


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
