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

from typing import Callable

from harness.core import cache, chunks, jobs
from harness.core.fingerprint import fingerprint
from harness.core.pool import Pool
from reward_models.lm.loading import load_causal_lm, pad_id
from reward_models.lm.logprobs import encode_pool, prompt_format_id, regroup, step_logps


def cache_key(model_path, pool, *, dtype: str, max_len: int | None, add_eos: bool = True) -> str:
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
    key = cache_key(model_path, pool, dtype=dtype, max_len=max_len, add_eos=add_eos)
    path = cache.root() / "reflogps" / f"{key}.json"
    def start():
        model, tok = load() if load is not None else load_causal_lm(model_path, dtype=dtype, device=device)

        def compute(span: tuple[int, int]) -> list:
            part = Pool(pool.problems[span[0]:span[1]], pool.path)
            whole = span == (0, len(pool.problems))  # one chunk: the scorer's encodings fit it
            part_encs = (encs if encs is not None and whole
                         else encode_pool(tok, part, max_len=max_len, add_eos=add_eos))
            sums = step_logps(model, part_encs, pad_id(tok), batch_size=batch_size, max_tokens=max_tokens,
                              padding_side=padding_side, desc=desc, progress=progress, share_prompt=share_prompt,
                              dedupe=dedupe, share_prefix=share_prefix)
            return regroup([s.tolist() for s in sums], part)
        return compute

    def finish(parts: list[list]) -> list:
        values = [row for p in parts for row in p]
        cache.write_json_checked(path, {"key": key, "pool_hash": pool.content_hash(), "dtype": dtype,
                                        "max_len": max_len, "step_logps": values})
        return values

    def make() -> list:
        spans = chunks.plan_chunks(len(pool.problems), chunks.chunk_problems())
        # every chunk is stored under the entry's key (as it always was), so chunks written before still resume
        job = jobs.ChunkedJob(label=f"[{desc}]", spans=spans, keys=[key] * len(spans), product=str(path),
                              keep=len(spans) > 1, store=chunks.ChunkStore(path.with_suffix(".chunks")))
        # one process: under torchrun each rank gets here for its own scoring chunk, a pool of its own
        return jobs.run(job, start, finish)
    return jobs.once(path, lambda: _stored(path, pool), make)
