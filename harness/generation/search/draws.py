"""Random draws keyed by (chain, token index), so a chain's tokens do not depend on what else is in its batch.

Beam search forks, prunes and regroups chains between steps; a shared torch.Generator would hand every chain other
numbers after each regrouping. Here each chain carries a 64-bit key, and its g-th token is drawn by inverse-CDF
sampling with the uniform number u(key, g) of a counter-based hash (splitmix64). A child that continues its
parent's stream keeps the parent's key (the first continuation of every kept beam), the others get keys mixed from
the parent's and their place in the tree. So beam search that keeps every chain and expands each once draws exactly
the tokens of plain sampling with the same seed (tests/generation/search/test_tree.py).
"""

from __future__ import annotations

import numpy as np

from harness.core import cache

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer on uint64 arrays (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def root_key(seed: int, problem_id: str, chain: int) -> int:
    """The key of chain `chain` of a problem: the same for every method, so method=sample and a beam search that
    keeps every chain share their draws."""
    return int(cache.stable_hash(["search-chain", seed, problem_id, chain], 16), 16)


def child_key(parent: int, depth: int, child: int) -> int:
    """Child 0 continues its parent's stream; child j >= 1 at `depth` gets a key of its own."""
    if child == 0:
        return parent
    with np.errstate(over="ignore"):
        z = np.array([parent], dtype=np.uint64) ^ _mix(np.array([depth * 1_000_003 + child], dtype=np.uint64)
                                                         * _GOLDEN)
    return int(_mix(z + _GOLDEN)[0])


def uniforms(keys: np.ndarray, counters: np.ndarray) -> np.ndarray:
    """u(key, counter) in (0, 1) for each row: float64 from the top 53 bits of the mixed pair."""
    with np.errstate(over="ignore"):
        z = _mix(keys.astype(np.uint64) ^ _mix((counters.astype(np.uint64) + np.uint64(1)) * _GOLDEN))
    return ((z >> np.uint64(11)).astype(np.float64) + 0.5) / 2.0 ** 53


def sample_tokens(logits, temperature: float, keys: np.ndarray, counters: np.ndarray):
    """One token per row from softmax(logits / temperature) by inverse CDF at u(key, counter) (float64 sums)."""
    import torch  # lazy: torch costs ~2 s at import; light commands must not pay it
    probs = torch.softmax(logits.double() / temperature, dim=-1)
    cdf = probs.cumsum(-1)
    u = torch.from_numpy(uniforms(keys, counters)).unsqueeze(1) * cdf[:, -1:]
    return (cdf < u).sum(-1).clamp(max=probs.shape[-1] - 1)
