"""Per-step log pi sums of a fixed model on a pool, computed once and shared.

Every implicit PRM trained from the same base model divides by the same reference, so four of them scoring one pool
need one reference pass between them, not four. The `loglik` baseline reads the same numbers (the base model's own
log-likelihood). Keyed by (model fingerprint, pool content hash, tokenization settings, dtype); stored as JSON under
<cache>/reflogps/<key>.json with a checksum (JSON floats round-trip float64 exactly).

A long pass (the reference over a whole training pool) goes in chunks of problems (harness.core.chunks.plan_chunks, the
same plan as scoring, so a scoring chunk is exactly one chunk here); finished chunks are kept in <key>.chunks/ and a
restarted run computes only the rest, loading the model once and only if something is missing.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Callable

from harness.core import cache, chunks
from harness.core.fingerprint import fingerprint


def cache_key(model_path, pool, *, dtype: str, max_len: int | None, add_eos: bool = True) -> str:
    from reward_models.lm.logprobs import prompt_format_id
    return cache.stable_hash({"model": fingerprint(model_path), "pool": pool.content_hash(),
                              "tokenization": {"prompt_format": prompt_format_id(), "eos": add_eos, "max_len": max_len},
                              "dtype": dtype})


def _stored(path, pool) -> list | None:
    rec = cache.read_json_checked(path)
    if rec is None:
        return None
    values = rec.get("step_logps") if isinstance(rec, dict) else None
    if not isinstance(values, list) or [len(v) for v in values] != [len(p.responses) for p in pool.problems]:
        cache.warn_corrupt(path, "does not fit its pool")
        return None
    return values


def cached_step_logps(model_path, pool, *, dtype: str = "float32", max_len: int | None = None,
                      load: Callable[[], tuple] | None = None, device: str = "cpu", batch_size: int = 8,
                      max_tokens: int | None = None, padding_side: str = "left", progress: bool = True,
                      desc: str = "reference log-probs", share_prompt: bool = False, dedupe: bool = False,
                      encs: list | None = None, add_eos: bool = True,
                      share_prefix: bool = False) -> list[list[list[float]]]:
    """[problem][response][step] sums of log pi_model; the model is loaded (via `load`) only on a cache miss.

    add_eos=False: each response read as an unfinished prefix (no eos after it, as a guided search's rescoring asks).
    encs: the pool already encoded with this model's tokenizer, max_len and add_eos (a scorer's policy pass made them),
    reused when the pool is one chunk instead of tokenizing it again; dedupe: see step_logps."""
    from harness.core.pool import Pool
    from reward_models.lm.loading import load_causal_lm, pad_id
    from reward_models.lm.logprobs import encode_pool, regroup, step_logps
    key = cache_key(model_path, pool, dtype=dtype, max_len=max_len, add_eos=add_eos)
    path = cache.root() / "reflogps" / f"{key}.json"
    values, seen = _stored(path, pool), cache.stamp(path)
    if values is not None:
        return values
    with chunks.locked(path):
        if cache.stamp(path) != seen:  # another run wrote it while we waited
            values = _stored(path, pool)
            if values is not None:
                return values
        spans = chunks.plan_chunks(len(pool.problems), chunks.chunk_problems())
        store = chunks.ChunkStore(path.with_suffix(".chunks"))
        keep = len(spans) > 1
        parts = [store.load(span, key) if keep else None for span in spans]
        if any(p is not None for p in parts):
            print(f"[{desc}] resuming, {sum(p is not None for p in parts)} of {len(spans)} chunks already done "
                  f"({store.folder})", file=sys.stderr)
        loaded = None
        for i, (a, b) in enumerate(spans):
            if parts[i] is not None:
                continue
            if loaded is None:
                loaded = load() if load is not None else load_causal_lm(model_path, dtype=dtype, device=device)
            model, tok = loaded
            part = Pool(pool.problems[a:b], pool.path)
            part_encs = (encs if encs is not None and not keep
                         else encode_pool(tok, part, max_len=max_len, add_eos=add_eos))
            sums = step_logps(model, part_encs, pad_id(tok), batch_size=batch_size, max_tokens=max_tokens,
                              padding_side=padding_side, desc=desc, progress=progress, share_prompt=share_prompt,
                              dedupe=dedupe, share_prefix=share_prefix)
            parts[i] = json.loads(json.dumps(regroup([s.tolist() for s in sums], part)))  # as a reload reads it
            if keep:
                store.save((a, b), key, parts[i])
                if chunks.chunk_delay():
                    time.sleep(chunks.chunk_delay())
        values = [row for p in parts for row in p]
        cache.write_json_checked(path, {"key": key, "pool_hash": pool.content_hash(), "dtype": dtype,
                                        "max_len": max_len, "step_logps": values})
        if keep:
            store.clear()
        return values
