"""Per-step log pi sums of a fixed model on a pool, computed once and shared.

Every implicit PRM trained from the same base model divides by the same reference, so four of them scoring one pool
need one reference pass between them, not four. The `loglik` baseline reads the same numbers (the base model's own
log-likelihood). Keyed by (model fingerprint, pool content hash, tokenization settings, dtype); stored as JSON under
<cache>/reflogps/<key>.json (JSON floats round-trip float64 exactly).
"""

from __future__ import annotations

from typing import Callable

from harness import cache
from harness.errors import InputError
from reward_models.base import fingerprint


def cache_key(model_path, pool, *, dtype: str, max_len: int | None) -> str:
    from reward_models.logprobs import prompt_format_id
    return cache.stable_hash({"model": fingerprint(model_path), "pool": pool.content_hash(),
                              "tokenization": {"prompt_format": prompt_format_id(), "eos": True, "max_len": max_len},
                              "dtype": dtype})


def cached_step_logps(model_path, pool, *, dtype: str = "float32", max_len: int | None = None,
                      load: Callable[[], tuple] | None = None, device: str = "cpu", batch_size: int = 8,
                      max_tokens: int | None = None, padding_side: str = "left", progress: bool = True,
                      desc: str = "reference log-probs") -> list[list[list[float]]]:
    """[problem][response][step] sums of log pi_model; the model is loaded (via `load`) only on a cache miss."""
    from reward_models.logprobs import encode_pool, regroup, step_logps
    from reward_models.modeling import load_causal_lm, pad_id
    key = cache_key(model_path, pool, dtype=dtype, max_len=max_len)
    path = cache.root() / "reflogps" / f"{key}.json"
    if path.exists():
        try:
            values = cache.read_json(path)["step_logps"]
        except (OSError, ValueError, KeyError) as e:
            raise InputError(f"damaged log-prob cache entry ({e}); delete it", file=path) from None
        if [len(v) for v in values] == [len(p.responses) for p in pool.problems]:
            return values
    model, tok = load() if load is not None else load_causal_lm(model_path, dtype=dtype, device=device)
    encs = encode_pool(tok, pool, max_len=max_len)
    sums = step_logps(model, encs, pad_id(tok), batch_size=batch_size, max_tokens=max_tokens,
                      padding_side=padding_side, desc=desc, progress=progress)
    values = regroup([s.tolist() for s in sums], pool)
    cache.write_json_atomic(path, {"key": key, "pool_hash": pool.content_hash(), "dtype": dtype,
                                   "max_len": max_len, "step_logps": values})
    return values
